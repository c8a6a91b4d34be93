// The Trainer's storage on Node's file system, over src/io/files.ts (atomic
// writes, per-process temporary names and their sweep, the fault suite's kill
// points) and src/io/lock.ts (the output folder's .train.lock, re-entrant so
// that the command line, which holds it already, can hand the folder to the
// Trainer). The Node entry registers it as the Trainer's default.

import { appendFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { killAt, readRegularFile, sweepStaleTemporaries, syncDirectory, temporaryName, writeFileAtomic } from '../io/files.js';
import { acquireLock } from '../io/lock.js';
import { LOCK_NAME, setDefaultStorage, type TrainerStorage } from '../train/storage.js';
import { setTrainerPlatform } from '../train/platform.js';
import { isLocalPath } from '../io/hub.js';

export function nodeStorage(): TrainerStorage {
  return {
    join,
    writeFile: writeFileAtomic,
    async appendFile(path, text) {
      await appendFile(path, text);
    },
    readFile: (path, options) => readRegularFile(path, options),
    async size(path) {
      const info = await stat(path).catch(() => null);
      return info?.isFile() ? info.size : null;
    },
    async exists(path) {
      return stat(path).then(() => true, () => false);
    },
    async list(dir) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      return entries.map((d) => ({ name: d.name, isDirectory: d.isDirectory() }));
    },
    async mkdir(dir) {
      await mkdir(dir, { recursive: true });
    },
    async remove(path) {
      await rm(path, { recursive: true, force: true });
    },
    rename,
    temporaryName,
    async removeStale(dir) {
      sweepStaleTemporaries(dir);
    },
    syncDir: syncDirectory,
    lock: (dir, what) => acquireLock(join(dir, LOCK_NAME), { what, reentrant: true }),
    killAt,
    localPath: (path) => path,
  };
}

/** What Node registers for the Trainer: files as its default storage, and local folders told from Hub ids as the Hub client does. */
export function registerNodeTrainer(): void {
  setDefaultStorage(nodeStorage);
  setTrainerPlatform({ isLocalPath });
}
