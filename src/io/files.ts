// Node file helpers, the one place that knows how the project touches files.
//
// Writing: a file written with writeFileAtomic is either the old one or the complete new one,
// never half-written: the bytes go to a temporary name in the same directory (so the rename
// stays on one file system), are flushed to disk, then renamed over the target. Temporary names
// carry the writer's PID (`.<name>.<pid>.<random>.tmp`), so they are unique per process and a
// later writer can tell a dead writer's leftovers (sweepStaleTemporaries) from a live one's.
//
// Reading: readRegularFile refuses what is not a regular file (a FIFO would hang, /dev/zero
// never ends) and anything over a size cap, naming the file.
//
// Fault injection (the tests of test/faults/): SHADERGRAD_FAULT_KILL_AT=<point>:<what>[@<n>] makes
// killAt(point, what) end the process with SIGKILL (at its n-th time there, default the first),
// as a crash or `kill -9` would.
// Points: write:<file name> (writeFileAtomic, temporary complete, not yet renamed), and the
// checkpoint writer's (src/train/checkpoints.ts).

import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeUtf8 } from './text.js';

export { decodeUtf8, firstInvalidUtf8 } from './text.js';

/** JSON files read whole (config.json, tokenizer.json, trainer_state.json, ...) are refused above this. */
export const MAX_JSON_BYTES = 256 * 1024 * 1024;

const TEMPORARY = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** A unique temporary name beside `path` for this process: `.<name>.<pid>.<random>.tmp`. */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Whether a process with this PID is alive on this machine (EPERM: alive, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporaries (files or folders named by temporaryName) that dead processes left in
 * `dir`; a live writer's are kept. Returns the removed paths.
 */
export function sweepStaleTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMPORARY.exec(name);
    if (!match || processAlive(Number(match[1]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

const faultHits = new Map<string, number>();

/** The fault suite's kill switch: SIGKILL here when SHADERGRAD_FAULT_KILL_AT is `<point>:<what>[@<n>]`. */
export function killAt(point: string, what: string | number): void {
  const wanted = process.env.SHADERGRAD_FAULT_KILL_AT;
  if (!wanted) return;
  const [target, n = '1'] = wanted.split('@');
  const here = `${point}:${what}`;
  if (target !== here) return;
  const hits = (faultHits.get(here) ?? 0) + 1;
  faultHits.set(here, hits);
  if (hits === Number(n)) process.kill(process.pid, 'SIGKILL');
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = temporaryName(path);
  sweepStaleTemporaries(dirname(path));
  try {
    const file = await open(temporary, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    killAt('write', basename(path));
    await rename(temporary, path);
  } catch (e) {
    await unlink(temporary).catch(() => {});
    throw new Error(`writing ${path} failed: ${(e as Error).message}`, { cause: e });
  }
  await syncDirectory(dirname(path));
}

/** writeFileAtomic for callers that cannot await (small files: caches, settings). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const temporary = temporaryName(path);
  sweepStaleTemporaries(dirname(path));
  try {
    const fd = openSync(temporary, 'wx');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (e) {
    rmSync(temporary, { force: true });
    throw new Error(`writing ${path} failed: ${(e as Error).message}`, { cause: e });
  }
}

/** Copies a file through writeFileAtomic (the target is the old file or the whole copy). */
export async function copyFileAtomic(source: string, target: string): Promise<void> {
  await writeFileAtomic(target, await readRegularFile(source));
}

/** Makes a rename durable across a power loss; not every platform can open a directory (Windows). */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort: the rename itself already happened.
  } finally {
    await handle?.close();
  }
}

export interface ReadOptions {
  /** Refuse files larger than this many bytes. Default: no cap. */
  maxBytes?: number;
  /** What the file is, for messages ("config.json of weights/x", "data set file"). Default: the path. */
  what?: string;
}

function checkRegular(path: string, size: number, isFile: boolean, options: ReadOptions): void {
  const prefix = options.what ? `${options.what}: ` : '';
  if (!isFile) throw new Error(`${prefix}${path} is not a regular file (a FIFO, device or folder cannot be read as one)`);
  if (options.maxBytes !== undefined && size > options.maxBytes) {
    throw new Error(`${prefix}${path} is ${size} bytes, over the limit of ${options.maxBytes} bytes for this kind of file`);
  }
}

function missing(path: string, e: unknown, options: ReadOptions): Error {
  const prefix = options.what ? `${options.what}: ` : '';
  return new Error(`${prefix}cannot read ${path}: ${(e as Error).message}`, { cause: e });
}

/** The bytes of a regular file (symlinks followed), refusing FIFOs, devices, folders and files over maxBytes. */
export async function readRegularFile(path: string, options: ReadOptions = {}): Promise<Buffer> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw missing(path, e, options);
  }
  checkRegular(path, info.size, info.isFile(), options);
  try {
    return await readFile(path);
  } catch (e) {
    throw missing(path, e, options);
  }
}

/** readRegularFile for callers that cannot await. */
function readRegularFileSync(path: string, options: ReadOptions = {}): Buffer {
  let info;
  try {
    info = statSync(path);
  } catch (e) {
    throw missing(path, e, options);
  }
  checkRegular(path, info.size, info.isFile(), options);
  try {
    return readFileSync(path);
  } catch (e) {
    throw missing(path, e, options);
  }
}

function parseJson<T>(text: string, path: string, what: string | undefined): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what ? `${what}: ` : ''}${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A JSON file read whole: regular, at most MAX_JSON_BYTES (or maxBytes), valid UTF-8 and JSON; errors name it. */
export async function readJsonFile<T = unknown>(path: string, options: ReadOptions = {}): Promise<T> {
  const bytes = await readRegularFile(path, { maxBytes: MAX_JSON_BYTES, ...options });
  return parseJson<T>(decodeUtf8(bytes, options.what ? `${options.what} (${path})` : path), path, options.what);
}

/** readJsonFile for callers that cannot await. */
export function readJsonFileSync<T = unknown>(path: string, options: ReadOptions = {}): T {
  const bytes = readRegularFileSync(path, { maxBytes: MAX_JSON_BYTES, ...options });
  return parseJson<T>(decodeUtf8(bytes, options.what ? `${options.what} (${path})` : path), path, options.what);
}
