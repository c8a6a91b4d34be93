// One call's Hub settings (Node): options and the environment (HF_ENDPOINT, HF_TOKEN,
// HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE, the timeouts), the cache folder as
// huggingface_hub's constants.py resolves it, and the requests' URLs and headers.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { consoleProgress, type DownloadProgress } from './progress.js';

export type { DownloadProgress } from './progress.js';
import { checkRepoId, resolveFileUrl, DEFAULT_ENDPOINT, type RepoType } from './urls.js';
import { checkOptions, type WithSnakeCase } from '../../options.js';

export type { RepoType } from './urls.js';


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
export async function fetchWithin<T>(url: string, init: RequestInit, ms: number, variable: string, read: (r: Response) => Promise<T>): Promise<T> {
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

export function expandHome(path: string): string {
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

export interface Settings {
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
const HUB_OPTIONS = ['revision', 'repoType', 'endpoint', 'token', 'cacheDir', 'offline', 'progress', 'retries'] as const;

/**
 * `options` checked against HubOptions' keys (and `extra`, the caller's own), in camelCase or
 * huggingface_hub's snake_case (cache_dir, repo_type): a misspelt revision or cache folder is an
 * error naming it, not the main branch or the default cache.
 */
export function checkHubOptions<T extends HubOptions>(what: string, options: WithSnakeCase<T> | undefined, extra: readonly (keyof T & string)[] = []): T {
  return checkOptions<T>(what, options, [...HUB_OPTIONS, ...extra] as (keyof T & string)[]);
}

export function settings(repo: string, options: HubOptions): Settings {
  checkRepoId(repo);
  const progress = options.progress ?? 'auto';
  const s: Settings = {
    revision: options.revision ?? 'main',
    repoType: options.repoType ?? 'model',
    endpoint: (options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
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

/**
 * True when `idOrDir` names something on disk (or is written as a path: `./x`,
 * `/x`, `~/x`), so it is used as is rather than looked up on the Hub; an
 * existing folder wins over a Hub id of the same name, as in `transformers`.
 */
export function isLocalPath(idOrDir: string): boolean {
  return /^(\.{1,2}|~)?[\\/]/.test(idOrDir) || idOrDir === '.' || existsSync(expandHome(idOrDir));
}

export function resolveUrl(s: Settings, repo: string, file: string, revision: string): string {
  return resolveFileUrl(s.endpoint, s.repoType, repo, revision, file);
}

export function requestHeaders(s: Settings, url: string): Record<string, string> {
  // Identity encoding: Content-Length must be the size of the bytes we store.
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'shadergrad-hub/0.1' };
  // The token goes to the Hub only, never to the CDN a large file redirects to.
  if (s.token && new URL(url).origin === new URL(s.endpoint).origin) headers.authorization = `Bearer ${s.token}`;
  return headers;
}

/** A URL as messages show it: a CDN link loses its query, which can carry a signature. */
export function shownUrl(s: Settings, url: string): string {
  const u = new URL(url);
  if (u.origin !== new URL(s.endpoint).origin) u.search = '';
  return u.href;
}

/** Why fetch rejected: its cause ("connect ECONNREFUSED 127.0.0.1:9") rather than the bare "fetch failed". */
export function fetchFailure(error: unknown): string {
  const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
  const detail = cause?.message || cause?.code;
  return detail ? `${(error as Error).message}: ${detail}` : (error as Error).message;
}

export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError; // fetch rejects with a TypeError when the server cannot be reached
}

export function describeRepo(s: Settings, repo: string): string {
  return `${s.repoType === 'dataset' ? 'data set' : 'model'} ${repo}`;
}
