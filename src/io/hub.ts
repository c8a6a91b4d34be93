// Hugging Face Hub downloads into the cache layout of Python's huggingface_hub,
// so a model fetched here is found by `transformers` and the other way round.
//
// Why not the official `@huggingface/hub` package: its `downloadFileToCacheDir`
// (v2.17) names the snapshot folder after the file's last commit instead of
// the repository's head commit, writes no refs/<revision>, has no offline mode
// (HF_HUB_OFFLINE), no resume of an interrupted download and no progress, and
// it asks the paths-info API first. Each of those breaks sharing the cache with
// Python, so this is a small client on fetch that follows huggingface_hub's
// file_download.py instead.
//
// Layout (huggingface_hub's, on Linux):
//   $HF_HUB_CACHE | $HF_HOME/hub | $XDG_CACHE_HOME/huggingface/hub | ~/.cache/huggingface/hub
//     models--org--name/            (datasets--org--name/ for data sets)
//       blobs/<etag>                the file's bytes, checked against the etag; <etag>.incomplete while downloading
//       refs/<revision>             the commit hash that <revision> pointed to
//       snapshots/<commit>/<file>   relative symlink to ../../blobs/<etag>
//       .no_exist/<commit>/<file>   empty marker: the Hub said 404 for this optional file
//     .locks/models--org--name/<etag>.lock   held while the blob is written (waited on by other processes)
//
// Protocol: a HEAD of {endpoint}/{repo}/resolve/{revision}/{file} (with
// /datasets/ before the repo for data sets), not following absolute redirects
// (large files redirect to a CDN), gives X-Repo-Commit, the etag
// (X-Linked-Etag, else ETag) and the size (X-Linked-Size, else Content-Length);
// then a GET of the redirect target (or the same URL) brings the bytes.
// The etag is the file's digest: sha256 (64 hex) for an LFS file, git's blob
// sha1 (40 hex) for a regular one. Nothing else is accepted as a cache name,
// and a download whose bytes do not hash to it never becomes the blob.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { readJsonFile, temporaryName, writeFileAtomic } from './files.js';
import { acquireLock } from './lock.js';

export type RepoType = 'model' | 'dataset';

/** One progress event of one file download; `total` is null when the server gave no size. */
export interface DownloadProgress {
  repo: string;
  file: string;
  received: number;
  total: number | null;
  done: boolean;
}

export interface HubOptions {
  /** Branch, tag or commit hash. Default 'main'. */
  revision?: string;
  repoType?: RepoType;
  /** Defaults from the environment, read at each call: HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE/HF_HOME, HF_HUB_OFFLINE. */
  endpoint?: string;
  token?: string;
  cacheDir?: string;
  offline?: boolean;
  /** 'auto' (default): a live line on a TTY, occasional log lines otherwise; 'off'; or a callback. */
  progress?: 'auto' | 'off' | ((p: DownloadProgress) => void);
  /** How many times a download cut off mid-file resumes within the same call. Default 3. */
  retries?: number;
}

const COMMIT_HASH = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
/** A file listing longer than this many pages (1,000 files each on the Hub) is refused. */
const MAX_LIST_PAGES = 10_000;

/** huggingface_hub's HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT: seconds, 10 by default. */
function timeoutSeconds(variable: 'HF_HUB_ETAG_TIMEOUT' | 'HF_HUB_DOWNLOAD_TIMEOUT'): number {
  const value = process.env[variable];
  if (value === undefined || value === '') return 10;
  const seconds = Number(value);
  if (!(seconds > 0)) throw new Error(`${variable}=${value}: expected a number of seconds above 0`);
  return seconds;
}

/**
 * fetch() that gives up when the whole answer (headers, and the body when `readBody`) takes
 * longer than `ms`; the timeout rejects as a network failure (a TypeError) naming the variable.
 */
async function fetchWithin<T>(url: string, init: RequestInit, ms: number, variable: string, read: (r: Response) => Promise<T>): Promise<T> {
  try {
    return await read(await fetch(url, { ...init, signal: AbortSignal.timeout(ms) }));
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') throw new TypeError(`no answer within ${ms / 1000} s (${variable} sets the wait)`);
    throw error;
  }
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** The hub cache folder, resolved as huggingface_hub's constants.py does. */
export function hubCacheDir(): string {
  const env = process.env;
  const explicit = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE;
  if (explicit) return resolve(expandHome(explicit));
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return resolve(expandHome(home), 'hub');
}

interface Settings {
  revision: string;
  repoType: RepoType;
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  offline: boolean;
  progress: (p: DownloadProgress) => void;
  retries: number;
  /** How long a HEAD or a listing page may take, and how long a download may send nothing. */
  etagTimeoutMs: number;
  downloadTimeoutMs: number;
}

/** The settings of one call for `repo`, whose id and revision are checked first. */
function settings(repo: string, options: HubOptions): Settings {
  checkRepoId(repo);
  const progress = options.progress ?? 'auto';
  const s: Settings = {
    revision: options.revision ?? 'main',
    repoType: options.repoType ?? 'model',
    endpoint: (options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    token: options.token ?? (process.env.HF_TOKEN || undefined),
    cacheDir: options.cacheDir ?? hubCacheDir(),
    offline: options.offline ?? isTrue(process.env.HF_HUB_OFFLINE),
    progress: progress === 'auto' ? consoleProgress() : progress === 'off' ? () => {} : progress,
    retries: options.retries ?? 3,
    etagTimeoutMs: timeoutSeconds('HF_HUB_ETAG_TIMEOUT') * 1000,
    downloadTimeoutMs: timeoutSeconds('HF_HUB_DOWNLOAD_TIMEOUT') * 1000,
  };
  // The revision names a file under refs/, so it must stay inside that folder.
  const r = s.revision;
  if (!r || r.startsWith('/') || /[\\\0-\x1f]/.test(r) || r.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`${describeRepo(s, repo)}: invalid revision '${r}' (a branch, tag or commit hash)`);
  }
  return s;
}

/** models--org--name or datasets--org--name. */
export function repoFolderName(repo: string, repoType: RepoType): string {
  return [`${repoType}s`, ...repo.split('/')].join('--');
}

function checkRepoId(repo: string): void {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo) || repo.split('/').some((part) => part === '.' || part === '..')) {
    throw new Error(`'${repo}' is neither an existing local path nor a Hub repository id like 'org/name'`);
  }
}

/** A repository file name must stay inside the snapshot folder. */
function checkFileName(repo: string, file: string): void {
  if (!file || isAbsolute(file) || file.startsWith('\\') || file.split(/[\\/]/).some((part) => part === '..' || part === '')) {
    throw new Error(`${repo}: invalid file name '${file}' (must be a relative path inside the repository)`);
  }
}

/**
 * True when `idOrDir` names something on disk (or is written as a path: `./x`,
 * `/x`, `~/x`), so it is used as is rather than looked up on the Hub; an
 * existing folder wins over a Hub id of the same name, as in `transformers`.
 */
export function isLocalPath(idOrDir: string): boolean {
  return /^(\.{1,2}|~)?[\\/]/.test(idOrDir) || idOrDir === '.' || existsSync(expandHome(idOrDir));
}

function resolveUrl(s: Settings, repo: string, file: string, revision: string): string {
  const prefix = s.repoType === 'dataset' ? 'datasets/' : '';
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${s.endpoint}/${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

function requestHeaders(s: Settings, url: string): Record<string, string> {
  // Identity encoding: Content-Length must be the size of the bytes we store.
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'shadergrad-hub/0.1' };
  // The token goes to the Hub only, never to the CDN a large file redirects to.
  if (s.token && new URL(url).origin === new URL(s.endpoint).origin) headers.authorization = `Bearer ${s.token}`;
  return headers;
}

/** A URL as messages show it: a CDN link loses its query, which can carry a signature. */
function shownUrl(s: Settings, url: string): string {
  const u = new URL(url);
  if (u.origin !== new URL(s.endpoint).origin) u.search = '';
  return u.href;
}

/** Why fetch rejected: its cause ("connect ECONNREFUSED 127.0.0.1:9") rather than the bare "fetch failed". */
function fetchFailure(error: unknown): string {
  const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
  const detail = cause?.message || cause?.code;
  return detail ? `${(error as Error).message}: ${detail}` : (error as Error).message;
}

function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError; // fetch rejects with a TypeError when the server cannot be reached
}

/** The commit a revision points to in the cache (a commit hash is itself), or null when the cache does not know it. */
async function cachedCommit(storage: string, revision: string): Promise<string | null> {
  if (COMMIT_HASH.test(revision)) return revision;
  try {
    const commit = (await readFile(join(storage, 'refs', revision), 'utf8')).trim();
    return COMMIT_HASH.test(commit) ? commit : null; // an empty or damaged ref says nothing
  } catch {
    return null;
  }
}

interface Metadata {
  commit: string;
  /** The file's digest: sha256 (64 hex) for an LFS file, git's blob sha1 (40 hex) otherwise. */
  etag: string;
  size: number | null;
  /** Where the bytes are: the redirect target for large files. */
  location: string;
}

function describeRepo(s: Settings, repo: string): string {
  return `${s.repoType === 'dataset' ? 'data set' : 'model'} ${repo}`;
}

/** An ETag header's digest, without quotes and `W/`, or null when it is not 40 or 64 hex digits. */
function parseEtag(raw: string): string | null {
  const etag = raw.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return COMMIT_HASH.test(etag) || SHA256.test(etag) ? etag : null;
}

/**
 * HEAD of the resolve URL. A file the Hub reports missing (404 EntryNotFound)
 * gives `missing` with the commit when the Hub sent one.
 */
async function fetchMetadata(s: Settings, repo: string, file: string, revision: string): Promise<Metadata | { missing: true; commit: string | null }> {
  const where = `${describeRepo(s, repo)}, file ${file}`;
  let url = resolveUrl(s, repo, file, revision);
  for (let hops = 0; ; hops++) {
    const response = await fetchWithin(url, { method: 'HEAD', headers: requestHeaders(s, url), redirect: 'manual' }, s.etagTimeoutMs, 'HF_HUB_ETAG_TIMEOUT', async (r) => r);
    const location = response.headers.get('location');
    const redirect = response.status >= 300 && response.status < 400 && location !== null;
    // Relative redirects (a renamed repository) are followed; an absolute one is the CDN.
    if (redirect && location.startsWith('/') && hops < 5) {
      url = new URL(location, url).href;
      continue;
    }
    const commit = response.headers.get('x-repo-commit');
    if (response.status === 404 || response.status === 401 || response.status === 403) {
      const code = response.headers.get('x-error-code');
      if (response.status === 404 && (code === null || code === 'EntryNotFound')) {
        return { missing: true, commit: commit && COMMIT_HASH.test(commit) ? commit : null };
      }
      const what = code === 'RevisionNotFound' ? `revision '${revision}' not found` : code === 'GatedRepo'
        ? 'the repository is gated: accept its terms on the Hub and set HF_TOKEN'
        : `repository not found or not accessible (HTTP ${response.status}${s.token ? '' : '; set HF_TOKEN for a private or gated one'})`;
      throw new Error(`${where}: ${what} (${url})`);
    }
    if (response.status >= 400) throw new Error(`${where}: HTTP ${response.status} ${response.statusText} from ${url}`);
    const rawEtag = response.headers.get('x-linked-etag') ?? response.headers.get('etag');
    if (!commit || !COMMIT_HASH.test(commit) || rawEtag === null) {
      throw new Error(`${where}: ${url} answered without a valid X-Repo-Commit and ETag; is HF_ENDPOINT (${s.endpoint}) a Hugging Face Hub?`);
    }
    const etag = parseEtag(rawEtag);
    if (!etag) throw new Error(`${where}: ${url} sent the ETag '${rawEtag.slice(0, 100)}', which is not a 40- or 64-hex digest of the file; nothing was stored`);
    const sizeHeader = response.headers.get('x-linked-size') ?? response.headers.get('content-length');
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
    return { commit, etag, size, location: redirect ? new URL(location, url).href : url };
  }
}

/**
 * A relative symlink snapshots/<commit>/<file> -> blobs/<etag> (a copy where
 * the file system refuses links), made under a temporary name and renamed
 * into place, so a concurrent reader never sees it half made.
 */
async function linkPointer(blob: string, pointer: string): Promise<void> {
  const temporary = temporaryName(pointer);
  try {
    await mkdir(dirname(pointer), { recursive: true });
    try {
      await symlink(relative(dirname(pointer), blob), temporary);
    } catch {
      await copyFile(blob, temporary);
    }
    await rename(temporary, pointer);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => {});
    if (!['EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    throw new Error(`${pointer} clashes with a file or folder already in the snapshot (one path cannot be both)`, { cause: error });
  }
}

/** Whether `path` is a file (through symlinks): a folder of the same name is not the file. */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // missing, or a file where a folder of the path should be
  }
}

/** A download cut off before its last byte; its .incomplete file is kept for resuming. */
class InterruptedDownload extends Error {}

/** The digest an etag promises: sha256 of the bytes (64 hex), or git's blob sha1, sha1 of "blob <size>\0" + bytes (40 hex). */
async function fileDigest(path: string, etag: string): Promise<{ kind: string; digest: string }> {
  const lfs = etag.length === 64;
  const hash = createHash(lfs ? 'sha256' : 'sha1');
  if (!lfs) hash.update(`blob ${(await stat(path)).size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { kind: lfs ? 'sha256' : 'git blob sha1', digest: hash.digest('hex') };
}

/**
 * Streams `meta.location` into `blob`.incomplete, resuming from its current
 * length with a Range request, and renames it to `blob` once its size and
 * digest match the etag. Throws InterruptedDownload, leaving the .incomplete
 * file for the next resume, when the connection fails or drops. The caller
 * holds the blob's lock.
 */
async function downloadBlob(s: Settings, repo: string, file: string, meta: Metadata, blob: string): Promise<void> {
  const idle = new IdleTimeout(s.downloadTimeoutMs, 'HF_HUB_DOWNLOAD_TIMEOUT');
  try {
    await receiveBlob(s, repo, file, meta, blob, idle);
  } finally {
    idle.clear();
  }
}

/** Aborts its signal when touch() was not called for `ms` (a server that stops sending). */
class IdleTimeout {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  readonly signal = this.controller.signal;

  constructor(private readonly ms: number, private readonly variable: string) {
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new TypeError(`nothing received for ${this.ms / 1000} s (${this.variable} sets the wait)`)), this.ms);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

async function receiveBlob(s: Settings, repo: string, file: string, meta: Metadata, blob: string, idle: IdleTimeout): Promise<void> {
  const where = `${describeRepo(s, repo)}, file ${file}`;
  const url = shownUrl(s, meta.location);
  const incomplete = `${blob}.incomplete`;
  let start = existsSync(incomplete) ? statSync(incomplete).size : 0;
  if (meta.size !== null && start > meta.size) start = 0; // not this file's bytes: overwritten below
  const headers = requestHeaders(s, meta.location);
  if (start > 0) headers.range = `bytes=${start}-`;
  let response: Response;
  try {
    response = await fetch(meta.location, { headers, signal: idle.signal });
  } catch (cause) {
    throw new InterruptedDownload(`${where}: download from ${url} failed (${fetchFailure(cause)})${start > 0 ? `; ${incomplete} is kept and the next call resumes it` : ''}`, { cause });
  }
  const fail = async (why: string, removePartial: boolean): Promise<never> => {
    await response.body?.cancel().catch(() => {});
    if (removePartial) await rm(incomplete, { force: true });
    throw new Error(`${where}: ${why}${removePartial ? '; the partial download was removed, run again' : ''}`);
  };
  let resumeAt = 0;
  if (response.status === 206 && start > 0) {
    const range = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== start) await fail(`${url} resumed at the wrong offset (${response.headers.get('content-range')})`, true);
    resumeAt = start;
  } else if (response.status === 416 && start > 0) {
    // Range past the end: the previous run had every byte but stopped before the rename, or the partial file is wrong.
    if (start !== meta.size) await fail(`${url} refused to resume at byte ${start} (HTTP 416)`, true);
    await response.body?.cancel();
    resumeAt = start;
  } else if (!response.ok) {
    await fail(`HTTP ${response.status} ${response.statusText} from ${url}`, false);
  }
  // The size to expect: the HEAD's, else this response's Content-Length after the resumed bytes.
  const length = response.headers.get('content-length');
  const expected = meta.size ?? (response.status !== 416 && length !== null && /^\d+$/.test(length) ? resumeAt + Number(length) : null);
  // A 200 to a Range request means the server ignored it: start again from byte 0.
  const handle = await open(incomplete, resumeAt > 0 ? 'a' : 'w');
  let received = resumeAt;
  try {
    if (response.status !== 416 && response.body) {
      s.progress({ repo, file, received, total: expected, done: false });
      for await (const chunk of response.body) {
        idle.touch();
        await handle.write(chunk);
        received += chunk.byteLength;
        if (expected !== null && received > expected) break; // a server sending more than it announced is not waited for
        s.progress({ repo, file, received, total: expected, done: false });
      }
    }
  } catch (cause) {
    throw new InterruptedDownload(`${where}: download from ${url} interrupted after ${received} of ${expected ?? '?'} bytes (${fetchFailure(cause)}); ${incomplete} is kept and the next call resumes it`, { cause });
  } finally {
    await handle.close();
  }
  const size = (await stat(incomplete)).size;
  if (expected !== null && size > expected) await fail(`${url} sent more than the ${expected} bytes announced`, true);
  if (expected !== null && size < expected) {
    throw new InterruptedDownload(`${where}: ${url} sent ${size} of the ${expected} bytes announced; ${incomplete} is kept and the next call resumes it`);
  }
  const { kind, digest } = await fileDigest(incomplete, meta.etag);
  if (digest !== meta.etag) {
    await rm(incomplete);
    const message = `${where}: the bytes from ${url} have ${kind} ${digest}, expected ${meta.etag} (the ETag); the download was removed, run again`;
    // The resumed bytes may be the wrong ones: a retry starts again from byte 0.
    throw resumeAt > 0 ? new InterruptedDownload(message) : new Error(message);
  }
  s.progress({ repo, file, received, total: expected, done: true });
  await rename(incomplete, blob);
}

/** downloadBlob, resumed up to `s.retries` times when the connection fails; nothing to do once the blob exists. */
async function downloadWithRetries(s: Settings, repo: string, file: string, meta: Metadata, blob: string): Promise<void> {
  for (let attempt = 0; !existsSync(blob); attempt++) {
    try {
      await downloadBlob(s, repo, file, meta, blob);
    } catch (error) {
      if (!(error instanceof InterruptedDownload) || attempt >= s.retries) throw error;
    }
  }
}

/**
 * Brings the blob into the cache under its lock file (the path huggingface_hub
 * uses), so that two processes never write one .incomplete file: the second
 * waits, then finds the blob there. A dead owner's lock is broken, and its
 * partial download resumed.
 */
async function downloadLocked(s: Settings, repo: string, file: string, meta: Metadata, blob: string): Promise<void> {
  const lockPath = join(s.cacheDir, '.locks', repoFolderName(repo, s.repoType), `${meta.etag}.lock`);
  await mkdir(dirname(blob), { recursive: true });
  await mkdir(dirname(lockPath), { recursive: true });
  const lock = await acquireLock(lockPath, { wait: true, what: `${describeRepo(s, repo)}, file ${file} (blob ${meta.etag})` });
  try {
    await downloadWithRetries(s, repo, file, meta, blob);
  } finally {
    await lock.release();
  }
}

/** Two calls in this process that want the same blob share one download (the lock is per process). */
const downloads = new Map<string, Promise<void>>();

interface Resolved {
  /** The snapshot path, or null for a missing optional file. */
  path: string | null;
  /** The commit it belongs to, when known. */
  commit: string | null;
}

/**
 * One file of a repository into the cache. Offline (HF_HUB_OFFLINE=1), or
 * when the Hub cannot be reached, a cached copy is used; without one a
 * required file fails naming the repository, the file and the cache folder.
 */
async function hubFile(s: Settings, repo: string, file: string, revision: string, optional: boolean): Promise<Resolved> {
  const storage = join(s.cacheDir, repoFolderName(repo, s.repoType));
  if (COMMIT_HASH.test(revision) && isFile(join(storage, 'snapshots', revision, file))) {
    return { path: join(storage, 'snapshots', revision, file), commit: revision }; // a commit never changes
  }
  const fromCache = async (why: string): Promise<Resolved> => {
    const commit = await cachedCommit(storage, revision);
    const pointer = commit && join(storage, 'snapshots', commit, file);
    if (pointer && isFile(pointer)) return { path: pointer, commit };
    if (optional) return { path: null, commit };
    throw new Error(`${describeRepo(s, repo)}, file ${file} (revision ${revision}): not in the cache at ${storage}, and ${why}`);
  };
  if (s.offline) return fromCache('HF_HUB_OFFLINE is set, so it cannot be downloaded');

  let meta: Awaited<ReturnType<typeof fetchMetadata>>;
  try {
    meta = await fetchMetadata(s, repo, file, revision);
  } catch (error) {
    if (!isNetworkError(error)) throw error;
    return fromCache(`${resolveUrl(s, repo, file, revision)} cannot be reached (${fetchFailure(error)})`);
  }
  if (meta.commit && revision !== meta.commit && (await cachedCommit(storage, revision)) !== meta.commit) {
    const ref = join(storage, 'refs', revision);
    await mkdir(dirname(ref), { recursive: true });
    await writeFileAtomic(ref, meta.commit);
  }
  if ('missing' in meta) {
    if (!optional) throw new Error(`${describeRepo(s, repo)}: file ${file} not found at revision ${revision} (${resolveUrl(s, repo, file, revision)}, HTTP 404)`);
    if (meta.commit) {
      // Remembered as huggingface_hub does, so that offline runs know the file is absent.
      const marker = join(storage, '.no_exist', meta.commit, file);
      await mkdir(dirname(marker), { recursive: true });
      await writeFileAtomic(marker, '');
    }
    return { path: null, commit: meta.commit };
  }
  const pointer = join(storage, 'snapshots', meta.commit, file);
  if (isFile(pointer)) return { path: pointer, commit: meta.commit };
  const blob = join(storage, 'blobs', meta.etag);
  let download = downloads.get(blob);
  if (!download) {
    download = downloadLocked(s, repo, file, meta, blob).finally(() => downloads.delete(blob));
    downloads.set(blob, download);
  }
  await download;
  await linkPointer(blob, pointer);
  return { path: pointer, commit: meta.commit };
}

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
  options: HubOptions & { optional?: string[] } = {},
): Promise<Record<string, string>> {
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
export async function listRepoFiles(repo: string, options: HubOptions = {}): Promise<string[]> {
  const s = settings(repo, options);
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
export async function snapshotDownload(repo: string, options: HubOptions & { files?: string[] } = {}): Promise<string> {
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

function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  for (; n >= 1000 && i < units.length - 1; i++) n /= 1000;
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * The default progress display on stderr: one line rewritten in place on a
 * TTY (at most 10 times a second), otherwise a line every 10 seconds and one
 * at the end.
 */
function consoleProgress(): (p: DownloadProgress) => void {
  const tty = process.stderr.isTTY === true;
  const started = new Map<string, { at: number; bytes: number; shown: number }>();
  return (p) => {
    const key = `${p.repo}/${p.file}`;
    const now = Date.now();
    let state = started.get(key);
    if (!state) started.set(key, (state = { at: now, bytes: p.received, shown: tty ? 0 : now }));
    if (!p.done && now - state.shown < (tty ? 100 : 10_000)) return;
    state.shown = now;
    const seconds = Math.max((now - state.at) / 1000, 1e-3);
    const line = `${p.repo} ${p.file}: ${formatBytes(p.received)} / ${p.total === null ? '?' : formatBytes(p.total)}`
      + `  ${formatBytes((p.received - state.bytes) / seconds)}/s`;
    if (tty) process.stderr.write(`\r\x1b[K${line}${p.done ? '\n' : ''}`);
    else process.stderr.write(`${p.done ? 'downloaded' : 'downloading'} ${line}\n`);
    if (p.done) started.delete(key);
  };
}

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

/**
 * What loading a pretrained BERT needs, as local paths keyed by file name:
 * config.json, the tokenizer files it has, and model.safetensors or its
 * sharded index with every shard. A local folder is used as is.
 */
export async function resolvePretrainedFiles(idOrDir: string, options: HubOptions = {}): Promise<Record<string, string>> {
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
export async function pretrainedDir(idOrDir: string, options: HubOptions = {}): Promise<string> {
  if (isLocalPath(idOrDir)) return resolve(expandHome(idOrDir));
  return dirname((await resolvePretrainedFiles(idOrDir, options))['config.json']);
}
