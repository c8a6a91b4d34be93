// The Hugging Face Hub in Node: downloads into the cache layout of Python's huggingface_hub
// (hub/cache.ts), one file at a time (hub/download.ts), several files or a whole snapshot
// (hub/snapshot.ts), with settings from options and the environment (hub/settings.ts) and a
// progress display (hub/progress.ts). The browser reaches the Hub through hub/web.ts instead.

export { hubCacheDir, isLocalPath, repoFolderName } from './hub/settings.js';
export type { HubOptions, DownloadProgress, RepoType } from './hub/settings.js';
export { resolveModelFiles, resolvePretrainedFiles, pretrainedDir, listRepoFiles, snapshotDownload, TOKENIZER_FILES } from './hub/snapshot.js';
