// The Trainer's storage in a browser's origin-private file system
// (navigator.storage.getDirectory()), so that a reloaded tab finds its
// checkpoints and resumes. Paths are '/'-separated under the OPFS root.
//
// Atomicity: a file is written through createWritable(), which writes a swap
// file and replaces the old one only on close(): a reader sees the old file or
// the new one. A folder is renamed with FileSystemHandle.move() where the
// browser has it; elsewhere it is copied and the old one removed, which is not
// atomic, but a checkpoint counts only once its manifest, written last,
// matches its files (checkpoints.ts), so a reload mid-copy leaves an
// incomplete folder that is skipped, never a half one taken for whole.
//
// Locks: Web Locks (navigator.locks), so two tabs never train into one folder;
// within one tab the same folder can be taken again (refcounted).

import { joinPosix, missingFile, oversizedFile, pathParts, posixTemporaryName, type StorageLock, type TrainerStorage } from './storage.js';

// The parts of the File System API used here (typed locally: lib.dom's async iterators vary by TypeScript version).
interface FileHandle {
  kind: 'file';
  getFile(): Promise<Blob>;
  createWritable(options?: { keepExistingData?: boolean }): Promise<{ seek(at: number): Promise<void>; write(data: Uint8Array | string): Promise<void>; close(): Promise<void> }>;
  move?(parent: DirHandle, name: string): Promise<void>;
}
interface DirHandle {
  kind: 'directory';
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<DirHandle>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  entries(): AsyncIterable<[string, FileHandle | DirHandle]>;
  move?(parent: DirHandle, name: string): Promise<void>;
}
interface LockManager {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void>): Promise<void>;
}

const TEMPORARY = /^\..+\.[0-9a-z]+\.tmp$/;

/** The OPFS storage (under `root`, default the origin's OPFS root). */
export function opfsStorage(root?: Promise<DirHandle> | DirHandle): TrainerStorage {
  const nav = globalThis.navigator as unknown as { storage?: { getDirectory?(): Promise<DirHandle> }; locks?: LockManager } | undefined;
  const rootHandle = Promise.resolve(root ?? nav?.storage?.getDirectory?.() ?? Promise.reject(
    new Error('opfsStorage: this browser has no origin-private file system (navigator.storage.getDirectory); use memoryStorage()'),
  ));
  rootHandle.catch(() => {}); // reported by the first call that needs it
  /** Temporaries this page is building: removeStale keeps them. */
  const mine = new Set<string>();
  const locks = new Map<string, { count: number; release: () => void }>();

  const dirAt = async (parts: string[], create = false): Promise<DirHandle> => {
    let d = await rootHandle;
    for (const p of parts) d = await d.getDirectoryHandle(p, { create });
    return d;
  };
  /** The parent folder's handle and the last name of `path`. */
  const split = async (path: string, create = false): Promise<[DirHandle, string]> => {
    const parts = pathParts(path);
    const name = parts.pop();
    if (name === undefined) throw new Error(`opfsStorage: ${path} names the root folder`);
    return [await dirAt(parts, create), name];
  };
  const entryAt = async (path: string): Promise<FileHandle | DirHandle | null> => {
    try {
      const [parent, name] = await split(path);
      for await (const [n, h] of parent.entries()) if (n === name) return h;
    } catch {
      // a missing parent folder
    }
    return null;
  };
  const write = async (path: string, data: Uint8Array | string, append: boolean) => {
    try {
      const [parent, name] = await split(path);
      const handle = await parent.getFileHandle(name, { create: true });
      const size = append ? (await handle.getFile()).size : 0;
      const stream = await handle.createWritable({ keepExistingData: append });
      if (append) await stream.seek(size);
      await stream.write(data);
      await stream.close();
    } catch (e) {
      throw new Error(`writing ${path} failed: ${(e as Error).message}`, { cause: e });
    }
  };
  const copy = async (from: FileHandle | DirHandle, parent: DirHandle, name: string): Promise<void> => {
    if (from.kind === 'file') {
      const stream = await (await parent.getFileHandle(name, { create: true })).createWritable();
      await stream.write(new Uint8Array(await (await from.getFile()).arrayBuffer()));
      await stream.close();
      return;
    }
    const target = await parent.getDirectoryHandle(name, { create: true });
    for await (const [n, h] of from.entries()) await copy(h, target, n);
  };

  return {
    join: joinPosix,
    writeFile: (path, data) => write(path, data, false),
    appendFile: (path, text) => write(path, text, true),
    async readFile(path, options = {}) {
      const handle = await entryAt(path);
      if (handle?.kind !== 'file') throw missingFile(path, options);
      const file = await handle.getFile();
      const big = oversizedFile(path, file.size, options);
      if (big) throw big;
      return new Uint8Array(await file.arrayBuffer());
    },
    async size(path) {
      const handle = await entryAt(path);
      return handle?.kind === 'file' ? (await handle.getFile()).size : null;
    },
    async exists(path) {
      return (await entryAt(path)) !== null;
    },
    async list(dir) {
      const out = [];
      try {
        for await (const [name, h] of (await dirAt(pathParts(dir))).entries()) out.push({ name, isDirectory: h.kind === 'directory' });
      } catch {
        return []; // no such folder
      }
      return out;
    },
    async mkdir(dir) {
      await dirAt(pathParts(dir), true);
    },
    async remove(path) {
      if (!(await entryAt(path))) return;
      const [parent, name] = await split(path);
      await parent.removeEntry(name, { recursive: true });
      mine.delete(joinPosix(path));
    },
    async rename(from, to) {
      const handle = await entryAt(from);
      if (!handle) throw new Error(`renaming ${from} to ${to} failed: no ${from}`);
      if (await entryAt(to)) throw new Error(`renaming ${from} to ${to} failed: ${to} exists`);
      const [parent, name] = await split(to);
      if (handle.move) {
        try {
          await handle.move(parent, name);
          mine.delete(joinPosix(from));
          return;
        } catch {
          // this browser cannot move this kind of entry: copy instead
        }
      }
      await copy(handle, parent, name);
      await this.remove(from);
    },
    temporaryName(path) {
      const tmp = posixTemporaryName(path);
      mine.add(joinPosix(tmp));
      return tmp;
    },
    async removeStale(dir) {
      // The folder's lock is held while a run saves, so another page's temporaries here are a closed tab's.
      for (const { name } of await this.list(dir)) {
        const path = joinPosix(dir, name);
        if (TEMPORARY.test(name) && !mine.has(path)) await this.remove(path);
      }
    },
    async syncDir() {},
    async lock(dir, what): Promise<StorageLock> {
      const key = `shadergrad:${joinPosix(dir)}`;
      let held = locks.get(key);
      if (!held) {
        let release = () => {};
        if (nav?.locks) {
          const holding = new Promise<void>((r) => (release = r));
          const got = await new Promise<boolean>((resolve, reject) => {
            nav.locks!.request(key, { ifAvailable: true }, async (lock) => {
              resolve(lock !== null);
              if (lock) await holding;
            }).catch(reject);
          });
          if (!got) throw new Error(`${what} is in use by another tab or worker of this site (Web Lock ${key})`);
        }
        held = { count: 0, release };
        locks.set(key, held);
      }
      held.count++;
      const entry = held;
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          if (--entry.count > 0) return;
          locks.delete(key);
          entry.release();
        },
      };
    },
  };
}
