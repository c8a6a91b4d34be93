// Exclusive lock files, for folders two processes could write (an output folder, a blob of the
// Hub cache). A lock is a file created with O_EXCL holding the owner's PID and host; a lock whose
// owner is a dead process on this host is stale and is broken by the next taker (a crash never
// leaves a folder locked for good). Taking waits (polling) or fails at once, as the caller asks.
// A re-entrant take of a lock this process already holds gets a nested handle (refcounted: the
// file goes with the last release), so a caller holding an output folder can hand it to a
// Trainer that takes it again.

import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { processAlive, temporaryName } from './files.js';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Thrown when a lock is held by a live process and the caller did not wait (or waited too long). */
export class LockedError extends Error {
  constructor(readonly path: string, readonly owner: LockOwner | null, message: string) {
    super(message);
    this.name = 'LockedError';
  }
}

export interface Lock {
  path: string;
  /** Removes the lock file if it is still this process's. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** Wait for a live owner to let go (polling). Default false: fail at once with LockedError. */
  wait?: boolean;
  /** Longest wait in ms before LockedError. Default 10 minutes. */
  timeoutMs?: number;
  pollMs?: number;
  /** What is locked, for the message ("output folder weights/x"). Default: the lock file. */
  what?: string;
  /** If this process holds the lock already, take it again (nested) instead of waiting or failing. Default false. */
  reentrant?: boolean;
}

/** Locks this process holds, by resolved path: the owner's file body and how many handles are out. */
const held = new Map<string, { body: string; count: number }>();

/** A handle on a held lock; the file is removed when the last handle is released (if it is still this process's). */
function handle(path: string): Lock {
  const key = resolve(path);
  let released = false;
  return {
    path,
    async release() {
      const entry = held.get(key);
      if (released || !entry) return;
      released = true;
      if (--entry.count > 0) return;
      held.delete(key);
      if ((await readFile(path, 'utf8').catch(() => '')) === entry.body) await unlink(path).catch(() => {});
    },
  };
}

/** A lock file with no readable owner older than this is an owner killed between create and write. */
const UNWRITTEN_STALE_MS = 10_000;

async function readOwner(path: string): Promise<LockOwner | null | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    return Number.isInteger(owner.pid) && typeof owner.host === 'string' ? owner : null;
  } catch {
    return null;
  }
}

async function isStale(path: string, owner: LockOwner | null): Promise<boolean> {
  if (owner) return owner.host === hostname() && !processAlive(owner.pid);
  try {
    return Date.now() - (await stat(path)).mtimeMs > UNWRITTEN_STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Breaks a stale lock: renames it aside (only one taker's rename can succeed), and if what was
 * moved turns out to be a fresh lock of someone else's, links it back.
 */
async function breakStale(path: string, seen: string): Promise<void> {
  const aside = temporaryName(path);
  try {
    await rename(path, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== seen) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

function describe(owner: LockOwner | null): string {
  return owner ? `process ${owner.pid} on ${owner.host} (since ${owner.since})` : 'another process';
}

/** Takes the lock file at `path` for this process. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<Lock> {
  const { wait = false, timeoutMs = 10 * 60_000, pollMs = 100 } = options;
  const what = options.what ?? path;
  const mine: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const body = JSON.stringify(mine);
  const deadline = Date.now() + timeoutMs;
  const mineAlready = held.get(resolve(path));
  if (options.reentrant && mineAlready) {
    mineAlready.count++;
    return handle(path);
  }
  for (;;) {
    try {
      const file = await open(path, 'wx');
      try {
        await file.writeFile(body);
      } finally {
        await file.close();
      }
      held.set(resolve(path), { body, count: 1 });
      return handle(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${what}: cannot create lock file ${path}: ${(e as Error).message}`);
    }
    const owner = await readOwner(path);
    if (owner === 'gone') continue;
    if (await isStale(path, owner)) {
      await breakStale(path, await readFile(path, 'utf8').catch(() => ''));
      continue;
    }
    if (!wait || Date.now() > deadline) {
      const waited = wait ? ` after waiting ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}` : '';
      throw new LockedError(path, owner, `${what} is in use by ${describe(owner)}${waited}; lock file ${path} (remove it only if that process is gone)`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
