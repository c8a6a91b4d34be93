// The Hub's addresses, shared by the Node client (the cache) and the browser's fetch source:
// repository ids and file names checked, and the resolve URL of a file. No Node API.

export type RepoType = 'model' | 'dataset';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** Refuses what is not a Hub id like 'org/name' (or 'name'). */
export function checkRepoId(repo: string): void {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo) || repo.split('/').some((part) => part === '.' || part === '..')) {
    throw new Error(`'${repo}' is neither an existing local path nor a Hub repository id like 'org/name'`);
  }
}

/** A repository file name must stay inside the snapshot folder. */
export function checkFileName(repo: string, file: string): void {
  if (!file || /^([\\/]|[A-Za-z]:)/.test(file) || file.split(/[\\/]/).some((part) => part === '..' || part === '')) {
    throw new Error(`${repo}: invalid file name '${file}' (must be a relative path inside the repository)`);
  }
}

/** {endpoint}/{repo}/resolve/{revision}/{file}, with /datasets/ before the repo of a data set. */
export function resolveFileUrl(endpoint: string, repoType: RepoType, repo: string, revision: string, file: string): string {
  const prefix = repoType === 'dataset' ? 'datasets/' : '';
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}
