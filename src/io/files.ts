// Node file helpers. A file written with writeFileAtomic is either the old one or the complete
// new one, never half-written: the bytes go to a temporary name in the same directory (so the
// rename stays on one file system), are flushed to disk, then renamed over the target.

import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = temporaryName(path);
  try {
    const file = await open(temporary, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
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

/** Makes a rename durable across a power loss; not every platform can open a directory (Windows). */
async function syncDirectory(dir: string): Promise<void> {
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
