// Several files of a repository, or of a local folder, as local paths (Node): the pieces a
// model folder needs, every one from the same commit, and the snapshot of a whole repository
// through the Hub's tree API.

import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { readJsonFile } from '../files.js';
import { cachedCommit } from './cache.js';
import { hubFile, type Resolved } from './download.js';
import { describeRepo, expandHome, fetchFailure, fetchWithin, isLocalPath, repoFolderName, requestHeaders, settings, shownUrl, checkHubOptions, type HubOptions, type Settings } from './settings.js';
import type { WithSnakeCase } from '../../options.js';
import { checkFileName } from './urls.js';

/** A file listing longer than this many pages (1,000 files each on the Hub) is refused. */
const MAX_LIST_PAGES = 10_000;

/** A file that is also another's folder ('a.csv' and 'a.csv/b.csv') cannot both be in one snapshot folder. */
function checkNoClash(s: Settings, repo: string, files: string[]): void {
  const all = new Set(files);
  for (const file of files) {
    const parts = file.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (all.has(folder)) throw new Error(`${describeRepo(s, repo)}: files '${folder}' and '${file}' clash (one path cannot be both a file and a folder); nothing was downloaded`);
    }
  }
}

/** Downloads (or finds in the cache) `files` and `optional` of a Hub repository; returns the paths and the commit. */
async function hubFiles(s: Settings, repo: string, files: string[], optional: string[]): Promise<{ paths: Record<string, string>; commit: string | null }> {
  const all = [...files, ...optional.filter((f) => !files.includes(f))];
  for (const file of all) checkFileName(repo, file);
  checkNoClash(s, repo, all);
  const paths: Record<string, string> = {};
  let revision = s.revision;
  let commit: string | null = null;
  for (const file of all) {
    let resolved: Resolved;
    try {
      resolved = await hubFile(s, repo, file, revision, !files.includes(file));
    } catch (error) {
      // Our messages name the repository first; a file system error (EACCES, ENOSPC, ...) gets the name here.
      const message = (error as Error).message;
      if (message.startsWith(describeRepo(s, repo))) throw error;
      throw new Error(`${describeRepo(s, repo)}, file ${file}: ${message}`, { cause: error });
    }
    if (resolved.path) paths[file] = resolved.path;
    // Pin the commit the first answer came from, so every file is from the same snapshot.
    if (resolved.commit) revision = commit = resolved.commit;
  }
  return { paths, commit };
}

/**
 * Local paths of `files` (and of those of `optional` that exist), keyed by
 * file name. A local folder is used as is; a Hub id is downloaded into the cache.
 */
export async function resolveModelFiles(
  idOrDir: string,
  files: string[],
  given?: WithSnakeCase<HubOptions & { optional?: string[] }>,
): Promise<Record<string, string>> {
  const options = checkHubOptions<HubOptions & { optional?: string[] }>('resolveModelFiles', given, ['optional']);
  const optional = options.optional ?? [];
  if (!isLocalPath(idOrDir)) return (await hubFiles(settings(idOrDir, options), idOrDir, files, optional)).paths;
  const dir = resolve(expandHome(idOrDir));
  const paths: Record<string, string> = {};
  for (const file of [...files, ...optional]) {
    checkFileName(dir, file);
    const path = join(dir, file);
    if (existsSync(path)) paths[file] = path;
    else if (files.includes(file)) throw new Error(`${dir}: missing ${file}`);
  }
  return paths;
}

/** The Hub could not be reached while listing; `detail` says which URL and why. */
class ListingUnreachable extends Error {
  constructor(message: string, readonly detail: string, options: ErrorOptions) {
    super(message, options);
  }
}

/** One page of the tree API: its file paths and the next page's URL (Link: rel="next"). */
async function listPage(s: Settings, repo: string, url: string): Promise<{ files: string[]; next: string | null }> {
  const where = `${describeRepo(s, repo)}: the file listing from ${shownUrl(s, url)}`;
  let response: Response;
  let text: string;
  try {
    [response, text] = await fetchWithin(url, { headers: requestHeaders(s, url) }, s.etagTimeoutMs, 'HF_HUB_ETAG_TIMEOUT',
      async (r) => [r, await r.text()] as const);
  } catch (cause) {
    const detail = `${shownUrl(s, url)} cannot be reached (${fetchFailure(cause)})`;
    throw new ListingUnreachable(`${describeRepo(s, repo)}: listing its files failed: ${detail}`, detail, { cause });
  }
  if (!response.ok) {
    const why = response.headers.get('x-error-code') === 'RevisionNotFound' ? `revision '${s.revision}' not found`
      : [401, 403, 404].includes(response.status)
        ? `repository not found or not accessible${s.token ? '' : ' (set HF_TOKEN for a private or gated one)'}, and '${repo}' is no local path either`
        : 'the Hub refused';
    throw new Error(`${describeRepo(s, repo)}: listing its files failed: ${why} (HTTP ${response.status} from ${shownUrl(s, url)})`);
  }
  const notHub = `is HF_ENDPOINT (${s.endpoint}) a Hugging Face Hub?`;
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch {
    throw new Error(`${where} is not JSON (content-type ${response.headers.get('content-type') ?? 'none'}); ${notHub}`);
  }
  if (!Array.isArray(entries)) throw new Error(`${where} is not a JSON array of files; ${notHub}`);
  const files: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const { type, path } = (entry ?? {}) as { type?: unknown; path?: unknown };
    if (typeof type !== 'string' || typeof path !== 'string') throw new Error(`${where}: entry ${i} has no string 'type' and 'path'; ${notHub}`);
    if (type === 'file') files.push(path);
  }
  const link = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
  if (link !== undefined && !URL.canParse(link, url)) throw new Error(`${where} has a bad Link: next URL '${link}'`);
  return { files, next: link === undefined ? null : new URL(link, url).href };
}

/** Every file path of a repository at `revision`, from the Hub's tree API (following its Link pagination). */
export async function listRepoFiles(repo: string, given?: WithSnakeCase<HubOptions>): Promise<string[]> {
  const s = settings(repo, checkHubOptions('listRepoFiles', given));
  if (s.offline) throw new Error(`${describeRepo(s, repo)}: cannot list its files, HF_HUB_OFFLINE is set`);
  let url: string | null = `${s.endpoint}/api/${s.repoType}s/${repo}/tree/${encodeURIComponent(s.revision)}?recursive=true`;
  const fetched = new Set<string>();
  const files: string[] = [];
  while (url) {
    if (fetched.has(url)) throw new Error(`${describeRepo(s, repo)}: the file listing loops (Link: next leads back to ${shownUrl(s, url)}, already fetched)`);
    if (fetched.size === MAX_LIST_PAGES) throw new Error(`${describeRepo(s, repo)}: the file listing goes on past ${MAX_LIST_PAGES} pages (next: ${shownUrl(s, url)})`);
    fetched.add(url);
    const page: { files: string[]; next: string | null } = await listPage(s, repo, url);
    files.push(...page.files);
    url = page.next;
  }
  return files;
}

/**
 * Downloads `files` of a repository (all of them, listed by the tree API, when
 * omitted) and returns its snapshot folder, snapshots/<commit>. Offline, or
 * when the Hub cannot be reached for the listing, a cached snapshot of the
 * revision is returned.
 */
export async function snapshotDownload(repo: string, given?: WithSnakeCase<HubOptions & { files?: string[] }>): Promise<string> {
  const options = checkHubOptions<HubOptions & { files?: string[] }>('snapshotDownload', given, ['files']);
  const s = settings(repo, options);
  const storage = join(s.cacheDir, repoFolderName(repo, s.repoType));
  const fromCache = async (why: string): Promise<string> => {
    const commit = await cachedCommit(storage, s.revision);
    const dir = commit && join(storage, 'snapshots', commit);
    if (dir && existsSync(dir)) return dir;
    throw new Error(`${describeRepo(s, repo)} (revision ${s.revision}): no snapshot in the cache at ${storage}, and ${why}`);
  };
  let files = options.files;
  if (!files && s.offline) return fromCache('HF_HUB_OFFLINE is set');
  if (!files) {
    try {
      files = await listRepoFiles(repo, options);
    } catch (error) {
      if (!(error instanceof ListingUnreachable)) throw error;
      return fromCache(error.detail);
    }
  }
  if (files.length === 0) throw new Error(`${describeRepo(s, repo)}: no files to download`);
  const { commit } = await hubFiles(s, repo, files, []);
  return join(storage, 'snapshots', commit as string);
}

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

/**
 * What loading a pretrained BERT needs, as local paths keyed by file name:
 * config.json, the tokenizer files it has, and model.safetensors or its
 * sharded index with every shard. A local folder is used as is.
 */
export async function resolvePretrainedFiles(idOrDir: string, given?: WithSnakeCase<HubOptions>): Promise<Record<string, string>> {
  const options = checkHubOptions('resolvePretrainedFiles', given);
  const found = await resolveModelFiles(idOrDir, ['config.json'], {
    ...options,
    optional: [...TOKENIZER_FILES, 'model.safetensors', 'model.safetensors.index.json'],
  });
  if (!found['model.safetensors']) {
    const index = found['model.safetensors.index.json'];
    if (!index) throw new Error(`${idOrDir}: has neither model.safetensors nor model.safetensors.index.json (only safetensors weights are read)`);
    const what = `${isLocalPath(idOrDir) ? idOrDir : `model ${idOrDir}`}, file model.safetensors.index.json`;
    const weightMap = ((await readJsonFile(index, { what })) as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || !Object.values(weightMap).every((shard) => typeof shard === 'string')) {
      throw new Error(`${what}: ${index} has no weight_map of tensor names to shard files`);
    }
    // Shards from the same commit as config.json (its snapshot folder's name), unless `idOrDir` is a folder.
    const revision = isLocalPath(idOrDir) ? options.revision : basename(dirname(found['config.json']));
    Object.assign(found, await resolveModelFiles(idOrDir, [...new Set(Object.values(weightMap) as string[])], { ...options, revision }));
  }
  return found;
}

/** The local folder holding a pretrained model: the folder itself, or the Hub snapshot after downloading what is needed. */
export async function pretrainedDir(idOrDir: string, given?: WithSnakeCase<HubOptions>): Promise<string> {
  const options = checkHubOptions('pretrainedDir', given);
  if (isLocalPath(idOrDir)) return resolve(expandHome(idOrDir));
  return dirname((await resolvePretrainedFiles(idOrDir, options))['config.json']);
}
