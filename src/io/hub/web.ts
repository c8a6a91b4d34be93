// Model folders over HTTP, for the browser (and any runtime with fetch): a Hub repository
// through its resolve URLs, {endpoint}/{repo}/resolve/{revision}/{file}, or any folder URL,
// {base}/{file}. Each file is fetched when a loader asks for it and kept in Cache Storage
// (caches.open(CACHE_NAME)) under its URL, as transformers.js keeps its own, so a reload reads
// it from there without the network; where Cache Storage is missing (Node) nothing is kept.
// A Hub repository's first answer pins its commit (X-Repo-Commit), so every file comes from
// one snapshot. The Hub's answer that a file is absent (404 EntryNotFound, with its commit) is
// kept too, as huggingface_hub keeps .no_exist markers: a reload asks nothing, and offline
// loading finds the optional files (tokenizer.json, special_tokens_map.json) absent, not
// missing from the cache. No Node API.

import type { FileSource, SourceOptions, SourceResolver } from '../sources.js';
import { checkFileName, checkRepoId, resolveFileUrl, COMMIT_HASH, DEFAULT_ENDPOINT } from './urls.js';
import { checkOptions, type WithSnakeCase } from '../../options.js';

/** The Cache Storage bucket the browser keeps downloaded model files in. */
export const CACHE_NAME = 'shadergrad-cache';

export interface WebSourceOptions extends Pick<SourceOptions, 'revision' | 'endpoint' | 'token' | 'offline'> {
  /** Cache Storage bucket; null keeps nothing. Default CACHE_NAME. */
  cacheName?: string | null;
}

/** The parts of the Cache Storage API used here (window.caches). */
interface CacheStorageLike {
  open(name: string): Promise<{ match(url: string): Promise<Response | undefined>; put(url: string, response: Response): Promise<void> }>;
}

type Cache = Awaited<ReturnType<CacheStorageLike['open']>>;

function openCache(name: string | null): Promise<Cache | null> {
  const storage = (globalThis as { caches?: CacheStorageLike }).caches;
  if (!storage || name === null) return Promise.resolve(null);
  // A page whose cache cannot open (storage blocked, an opaque origin) still loads, from the network.
  return storage.open(name).catch(() => null);
}

interface Fetched {
  /** null: the server says the file is absent. */
  bytes: Uint8Array | null;
  commit: string | null;
}

/**
 * GET `url` through the cache: a cached answer is used as it is; a fetched one is stored
 * (best effort: a full quota only costs the next load its download), and so is a Hub's 404
 * for a file (it names the commit it holds for). A 404 is bytes null.
 */
async function fetchCached(cache: Cache | null, url: string, init: RequestInit, where: () => string, offline: boolean): Promise<Fetched> {
  const cached = await cache?.match(url).catch(() => undefined);
  if (cached) {
    const commit = cached.headers.get('x-repo-commit');
    return { bytes: cached.status === 404 ? null : new Uint8Array(await cached.arrayBuffer()), commit };
  }
  if (offline) throw new Error(`${where()}: not in the browser's cache (${CACHE_NAME}), and offline is set`);
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new Error(`${where()}: ${url} cannot be reached (${(e as Error).message})`, { cause: e });
  }
  const commit = response.headers.get('x-repo-commit');
  if (response.status === 404 && ['EntryNotFound', null].includes(response.headers.get('x-error-code'))) {
    if (commit) await cache?.put(url, new Response(null, { status: 404, headers: { 'x-repo-commit': commit } })).catch(() => {});
    return { bytes: null, commit };
  }
  if (!response.ok) {
    const code = response.headers.get('x-error-code');
    const why = code === 'RevisionNotFound' ? 'revision not found'
      : code === 'GatedRepo' ? 'the repository is gated: accept its terms on the Hub and pass a token'
        : [401, 403, 404].includes(response.status) ? 'repository not found or not accessible (a private or gated one needs a token)'
          : `HTTP ${response.status} ${response.statusText}`;
    throw new Error(`${where()}: ${why} (HTTP ${response.status} from ${url})`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const headers: Record<string, string> = { 'content-type': response.headers.get('content-type') ?? 'application/octet-stream' };
  if (commit) headers['x-repo-commit'] = commit;
  await cache?.put(url, new Response(bytes, { headers })).catch(() => {});
  return { bytes, commit };
}

/** A Hub repository read file by file through its resolve URLs. */
export function hubWebSource(repo: string, given?: WithSnakeCase<WebSourceOptions>): FileSource {
  const options = checkOptions<WebSourceOptions>('hubWebSource', given, ['revision', 'endpoint', 'token', 'offline', 'cacheName']);
  checkRepoId(repo);
  const endpoint = (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  let revision = options.revision ?? 'main';
  const cache = openCache(options.cacheName === undefined ? CACHE_NAME : options.cacheName);
  const init: RequestInit = options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {};
  const description = `model ${repo}`;
  const locate = (file: string) => resolveFileUrl(endpoint, 'model', repo, revision, file);
  return {
    description,
    locate,
    read: async (file) => {
      checkFileName(description, file);
      const url = locate(file);
      const fetched = await fetchCached(await cache, url, init, () => `${description}, file ${file}`, options.offline ?? false);
      if (fetched.commit && COMMIT_HASH.test(fetched.commit)) revision = fetched.commit;
      return fetched.bytes;
    },
  };
}

/** A folder served over HTTP: {base}/{file}; `base` may be relative to the page. */
export function urlSource(base: string, given?: WithSnakeCase<Pick<WebSourceOptions, 'cacheName' | 'offline'>>): FileSource {
  const options = checkOptions<Pick<WebSourceOptions, 'cacheName' | 'offline'>>('urlSource', given, ['cacheName', 'offline']);
  const page = (globalThis as { location?: { href: string } }).location?.href;
  const folder = new URL(base.endsWith('/') ? base : `${base}/`, page).href;
  const cache = openCache(options.cacheName === undefined ? CACHE_NAME : options.cacheName);
  const locate = (file: string) => new URL(file.split('/').map(encodeURIComponent).join('/'), folder).href;
  return {
    description: folder.replace(/\/$/, ''),
    locate,
    read: async (file) => {
      checkFileName(folder, file);
      return (await fetchCached(await cache, locate(file), {}, () => `${folder}, file ${file}`, options.offline ?? false)).bytes;
    },
  };
}

/** URLs (absolute, or relative to the page: ./x, ../x, /x) and Hub ids like 'org/name'. */
export const webSourceResolver: SourceResolver = (name, options) => {
  if (/^(https?:)?\/\/|^\.{0,2}\//.test(name)) return urlSource(name, options);
  if (/^[\w.-]+(\/[\w.-]+)?$/.test(name)) return hubWebSource(name, options);
  return null;
};
