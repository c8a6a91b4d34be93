// Where the Trainer's files go: its output folder (checkpoints, logs, results,
// curves, model card) behind one interface, so the same Trainer runs on Node's
// file system (src/node/trainer-storage.ts, registered by the Node entry), in
// memory, or in a browser's origin-private file system (opfs-storage.ts).
//
// Paths are strings as the storage spells them (join). Writes are atomic: a
// reader sees the old file or the whole new one. Folders are replaced whole by
// building them under a temporaryName and renaming them in (checkpoints.ts);
// a storage that cannot rename a folder atomically still gets a correct scheme,
// because a checkpoint counts only once its manifest, written last, matches
// its files.

/** One entry of a folder. */
export interface StorageEntry {
  name: string;
  isDirectory: boolean;
}

export interface ReadOptions {
  /** Refuse files larger than this many bytes. */
  maxBytes?: number;
  /** What the file is, for messages ("checkpoint file"). */
  what?: string;
}

/** A held lock on a folder. */
export interface StorageLock {
  release(): Promise<void>;
}

export interface TrainerStorage {
  /** Joins path parts as this storage spells paths. */
  join(...parts: string[]): string;
  /** Writes a whole file atomically (the old one or the new one, never a part); the folder must exist. */
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  /** Appends text to a file, creating it (the JSON-lines log). */
  appendFile(path: string, text: string): Promise<void>;
  /** A file's bytes; errors name the file (and `what`). */
  readFile(path: string, options?: ReadOptions): Promise<Uint8Array>;
  /** A file's size in bytes, or null when no file is there. */
  size(path: string): Promise<number | null>;
  /** Whether a file or folder is there. */
  exists(path: string): Promise<boolean>;
  /** A folder's entries ([] when it does not exist). */
  list(dir: string): Promise<StorageEntry[]>;
  /** Creates a folder and its parents (no error when it exists). */
  mkdir(dir: string): Promise<void>;
  /** Removes a file or a folder with what it holds (no error when absent). */
  remove(path: string): Promise<void>;
  /** Renames a file or folder to a name not in use. */
  rename(from: string, to: string): Promise<void>;
  /** A fresh name beside `path` for building it; removeStale removes such names a dead writer left. */
  temporaryName(path: string): string;
  /** Removes what dead writers left under temporary names in `dir`. */
  removeStale(dir: string): Promise<void>;
  /** Makes the renames in `dir` durable, where the storage can. */
  syncDir(dir: string): Promise<void>;
  /** Takes `dir` for one run at a time (`what` names it in the error); re-entrant within one process. */
  lock(dir: string, what: string): Promise<StorageLock>;
  /** The fault suite's kill switch at a point of a save (Node only; see src/io/files.ts). */
  killAt?(point: string, what: string | number): void;
  /** The path on the local file system, for writers that take a folder path (model.savePretrained); absent off Node. */
  localPath?(path: string): string;
}

/** Lock file of an output folder, as the command line has always named it. */
export const LOCK_NAME = '.train.lock';

/** '/'-separated paths without empty or '.' parts ('..' drops the part before it), as memory and OPFS spell them. */
export function joinPosix(...parts: string[]): string {
  const absolute = parts[0]?.startsWith('/') ?? false;
  const out: string[] = [];
  for (const part of parts.join('/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length && out.at(-1) !== '..') out.pop();
    else out.push(part);
  }
  return `${absolute ? '/' : ''}${out.join('/')}` || (absolute ? '/' : '.');
}

/** The parts of a posix path, for storages that walk folders. */
export function pathParts(path: string): string[] {
  return joinPosix(path).split('/').filter((p) => p !== '' && p !== '.');
}

let temporaryCount = 0;

/** `.<name>.<unique>.tmp` beside `path` (these storages live in one page or process, so any unique suffix will do). */
export function posixTemporaryName(path: string): string {
  const parts = pathParts(path);
  const name = parts.pop() ?? 'root';
  const unique = `${Date.now().toString(36)}${(temporaryCount++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return joinPosix(path.startsWith('/') ? '/' : '', ...parts, `.${name}.${unique}.tmp`);
}

/** In-process locks of memory and OPFS storages: refcounted, so the same run can take its folder again. */
export class HeldLocks {
  private readonly held = new Map<string, number>();

  take(key: string): StorageLock {
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const n = (this.held.get(key) ?? 1) - 1;
        if (n > 0) this.held.set(key, n);
        else this.held.delete(key);
      },
    };
  }
}

const encoder = new TextEncoder();
const bytesOf = (data: Uint8Array | string) => (typeof data === 'string' ? encoder.encode(data) : data.slice());

/** The error for a file over options.maxBytes, or null. */
export function oversizedFile(path: string, size: number, options: ReadOptions): Error | null {
  if (options.maxBytes === undefined || size <= options.maxBytes) return null;
  return new Error(`${options.what ? `${options.what}: ` : ''}${path} is ${size} bytes, over the limit of ${options.maxBytes} bytes for this kind of file`);
}

export function missingFile(path: string, options: ReadOptions): Error {
  return new Error(`${options.what ? `${options.what}: ` : ''}cannot read ${path}: no such file`);
}

/**
 * A storage in memory: a map of paths to bytes, gone with the page or process.
 * What a browser tab uses when it needs no resume after a reload, and what the
 * tests use to train without touching a disk.
 */
export function memoryStorage(): TrainerStorage {
  const files = new Map<string, Uint8Array>();
  const dirs = new Set<string>(['/', '.']);
  const locks = new HeldLocks();
  const key = (path: string) => joinPosix(path);
  const parent = (path: string) => joinPosix(key(path), '..');
  const under = (path: string, dir: string) => path.startsWith(dir === '/' ? '/' : `${dir}/`);
  const requireDir = (path: string) => {
    if (!dirs.has(parent(path))) throw new Error(`writing ${path} failed: no folder ${parent(path)}`);
  };
  return {
    join: joinPosix,
    async writeFile(path, data) {
      requireDir(path);
      files.set(key(path), bytesOf(data));
    },
    async appendFile(path, text) {
      requireDir(path);
      const old = files.get(key(path)) ?? new Uint8Array(0);
      const add = encoder.encode(text);
      const both = new Uint8Array(old.length + add.length);
      both.set(old);
      both.set(add, old.length);
      files.set(key(path), both);
    },
    async readFile(path, options = {}) {
      const data = files.get(key(path));
      if (!data) throw missingFile(path, options);
      const big = oversizedFile(path, data.length, options);
      if (big) throw big;
      return data.slice();
    },
    async size(path) {
      return files.get(key(path))?.length ?? null;
    },
    async exists(path) {
      return files.has(key(path)) || dirs.has(key(path));
    },
    async list(dir) {
      const d = key(dir);
      const names = new Map<string, boolean>();
      for (const [paths, isDirectory] of [[files.keys(), false], [dirs.values(), true]] as const) {
        for (const p of paths) {
          if (p === d || !under(p, d)) continue;
          const rest = p.slice(d === '/' ? 1 : d.length + 1);
          if (rest === '') continue;
          const name = rest.split('/')[0];
          names.set(name, (names.get(name) ?? false) || isDirectory || rest.includes('/'));
        }
      }
      return [...names].map(([name, isDirectory]) => ({ name, isDirectory }));
    },
    async mkdir(dir) {
      for (let d = key(dir); !dirs.has(d); d = parent(d)) dirs.add(d);
    },
    async remove(path) {
      const p = key(path);
      files.delete(p);
      dirs.delete(p);
      for (const f of [...files.keys()]) if (under(f, p)) files.delete(f);
      for (const d of [...dirs]) if (under(d, p)) dirs.delete(d);
    },
    async rename(from, to) {
      const [a, b] = [key(from), key(to)];
      if (files.has(b) || dirs.has(b)) throw new Error(`renaming ${from} to ${to} failed: ${to} exists`);
      if (!files.has(a) && !dirs.has(a)) throw new Error(`renaming ${from} to ${to} failed: no ${from}`);
      const move = (p: string) => b + p.slice(a.length);
      for (const f of [...files.keys()]) if (f === a || under(f, a)) files.set(move(f), files.get(f)!), files.delete(f);
      for (const d of [...dirs]) if (d === a || under(d, a)) dirs.add(move(d)), dirs.delete(d);
    },
    temporaryName: posixTemporaryName,
    async removeStale() {
      // Nothing outlives the process that wrote it.
    },
    async syncDir() {},
    async lock(dir) {
      return locks.take(key(dir));
    },
  };
}

// ---------------------------------------------------------- the default ----

let defaultFactory: (() => TrainerStorage) | null = null;
let shared: TrainerStorage | null = null;

/** Sets the storage a Trainer uses when given none (the Node entry registers the file system). */
export function setDefaultStorage(factory: () => TrainerStorage): void {
  defaultFactory = factory;
  shared = null;
}

/** The registered default storage, else one memory storage shared by the page or process. */
export function defaultStorage(): TrainerStorage {
  return (shared ??= defaultFactory ? defaultFactory() : memoryStorage());
}
