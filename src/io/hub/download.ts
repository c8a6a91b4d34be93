// Downloading one file of a Hub repository into the cache (Node), as huggingface_hub's
// file_download.py does.
//
// Why not the official `@huggingface/hub` package: its `downloadFileToCacheDir`
// (v2.17) names the snapshot folder after the file's last commit instead of
// the repository's head commit, writes no refs/<revision>, has no offline mode
// (HF_HUB_OFFLINE), no resume of an interrupted download and no progress, and
// it asks the paths-info API first. Each of those breaks sharing the cache with
// Python, so this is a small client on fetch that follows huggingface_hub's
// file_download.py instead.
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
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../files.js';
import { acquireLock } from '../lock.js';
import { cachedCommit, isFile, linkPointer } from './cache.js';
import { describeRepo, fetchFailure, fetchWithin, isNetworkError, repoFolderName, requestHeaders, resolveUrl, shownUrl, type Settings } from './settings.js';
import { COMMIT_HASH } from './urls.js';

const SHA256 = /^[0-9a-f]{64}$/;

interface Metadata {
  commit: string;
  /** The file's digest: sha256 (64 hex) for an LFS file, git's blob sha1 (40 hex) otherwise. */
  etag: string;
  size: number | null;
  /** Where the bytes are: the redirect target for large files. */
  location: string;
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

export interface Resolved {
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
export async function hubFile(s: Settings, repo: string, file: string, revision: string, optional: boolean): Promise<Resolved> {
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
