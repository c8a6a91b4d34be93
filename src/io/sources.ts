// Where the files of a model folder come from, for every loader (models, tokenizers):
// a FileSource reads one named file of the folder, or says it is absent. No Node API:
// the browser uses it too.
//
// A name (a Hub id, a URL, a local path) becomes a source through the resolvers the
// entry registered: src/node/sources.ts for local folders and the Hugging Face cache
// (src/index.ts), src/io/hub/web.ts for the Hub's resolve URLs and any base URL
// (src/browser.ts). Files the user picked (an <input webkitdirectory> FileList, File[])
// and a FileSystemDirectoryHandle are sources without any registration.

import { checkOptions, type WithSnakeCase } from '../options.js';

/** A folder of files, read one named file at a time. */
export interface FileSource {
  /** The folder as messages name it: "model org/x", "/path/to/folder", "https://host/models/x". */
  readonly description: string;
  /** The bytes of `file` (a path inside the folder, '/'-separated), or null when the folder has no such file. */
  read(file: string): Promise<Uint8Array | null>;
  /** Where `file` is read from (a path or URL), for messages. */
  locate(file: string): string;
}

/** SourceOptions' keys. */
export const SOURCE_OPTIONS = ['revision', 'endpoint', 'token', 'cacheDir', 'offline'] as const;

/** Options a resolver may use: the Hub's, as the loaders pass them on. */
export interface SourceOptions {
  /** Branch, tag or commit hash. Default 'main'. */
  revision?: string;
  /** The Hub's address (default HF_ENDPOINT in Node, else https://huggingface.co). */
  endpoint?: string;
  token?: string;
  /** Node: the Hugging Face cache folder. */
  cacheDir?: string;
  /** Use cached files only, never the network. */
  offline?: boolean;
}

/** Turns a name into a source, or returns null for names it does not handle. */
export type SourceResolver = (name: string, options: SourceOptions) => FileSource | null;

/** A picked file: a browser File (or Node's), with the path inside the picked folder when the picker gives one. */
export interface PickedFile {
  readonly name: string;
  readonly webkitRelativePath?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The parts of the File System Access API's FileSystemDirectoryHandle that reading uses. */
export interface DirectoryHandle {
  readonly kind: 'directory';
  readonly name: string;
  getDirectoryHandle(name: string): Promise<DirectoryHandle>;
  getFileHandle(name: string): Promise<{ getFile(): Promise<PickedFile> }>;
}

/** What a loader accepts: a name for the registered resolvers, picked files, a directory handle, or a source. */
export type ModelLocation = string | FileSource | ArrayLike<PickedFile> | DirectoryHandle;

/** Where savePretrained writes a model folder: each file whole (in Node, written to a temporary name and renamed). */
export interface FileTarget {
  readonly description: string;
  write(file: string, data: Uint8Array | string): Promise<void>;
}

/** Turns a name (a folder path in Node) into a target, or returns null for names it does not handle. */
export type TargetResolver = (name: string) => FileTarget | null;

const resolvers: SourceResolver[] = [];
const targetResolvers: TargetResolver[] = [];

/** Adds a target resolver, tried before those registered earlier. */
export function registerTargetResolver(resolver: TargetResolver): void {
  targetResolvers.unshift(resolver);
}

/** The target for `location`; a name no resolver handles is an error. */
export function resolveTarget(location: string | FileTarget): FileTarget {
  if (typeof location !== 'string') return location;
  for (const resolver of targetResolvers) {
    const target = resolver(location);
    if (target) return target;
  }
  throw new Error(`cannot save to '${location}': no loader for folders is registered (import 'shadergrad' in Node; in a browser pass a FileTarget)`);
}

/**
 * Adds a resolver, tried before those registered earlier; a `fallback` one (the browser entry's
 * fetch source, which reads '/x' and './x' as URLs of the page) after every other, whatever the
 * order the modules were imported in: in Node, local folders go to the Node entry's resolver.
 */
export function registerSourceResolver(resolver: SourceResolver, { fallback = false }: { fallback?: boolean } = {}): void {
  if (fallback) resolvers.push(resolver);
  else resolvers.unshift(resolver);
}

/** The source for `location`. A name no resolver handles is an error saying what would. */
export function resolveSource(location: ModelLocation, given?: WithSnakeCase<SourceOptions>): FileSource {
  const options = checkOptions<SourceOptions>('hub options', given, SOURCE_OPTIONS);
  if (typeof location === 'string') {
    for (const resolver of resolvers) {
      const source = resolver(location, options);
      if (source) return source;
    }
    throw new Error(
      `cannot load '${location}': ${resolvers.length === 0 ? 'no loader is registered' : 'no registered loader takes this name'}. ` +
        "Import 'shadergrad' in Node (local folders and Hub ids) or 'shadergrad/browser' (Hub ids and URLs), or pass the files (File[], a FileList, a directory handle)",
    );
  }
  if (isSource(location)) return location;
  if (isDirectoryHandle(location)) return directoryHandleSource(location);
  return pickedFilesSource(location);
}

function isSource(x: ModelLocation): x is FileSource {
  return typeof (x as FileSource).read === 'function' && typeof (x as FileSource).locate === 'function';
}

function isDirectoryHandle(x: ModelLocation): x is DirectoryHandle {
  return (x as DirectoryHandle).kind === 'directory' && typeof (x as DirectoryHandle).getFileHandle === 'function';
}

/**
 * Files the user picked. With <input webkitdirectory> each File's webkitRelativePath is
 * "<folder>/<file>": the folder's name is dropped, so config.json is the file at the top.
 */
export function pickedFilesSource(files: ArrayLike<PickedFile>): FileSource {
  const list = Array.from(files);
  if (list.length === 0) throw new Error('no files given (pick the model folder, or pass its files)');
  const relative = (f: PickedFile) => (f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name);
  const byName = new Map(list.map((f) => [relative(f), f]));
  const folder = list[0].webkitRelativePath?.split('/')[0];
  const description = folder ? `picked folder ${folder}` : `picked files (${list.length})`;
  return {
    description,
    locate: (file) => `${description}: ${file}`,
    read: async (file) => {
      const picked = byName.get(file);
      return picked ? new Uint8Array(await picked.arrayBuffer()) : null;
    },
  };
}

/** A folder opened with the File System Access API (showDirectoryPicker) or the origin-private file system. */
export function directoryHandleSource(root: DirectoryHandle): FileSource {
  const description = `folder ${root.name}`;
  return {
    description,
    locate: (file) => `${description}: ${file}`,
    read: async (file) => {
      const parts = file.split('/');
      let dir = root;
      try {
        for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part);
        const picked = await (await dir.getFileHandle(parts.at(-1)!)).getFile();
        return new Uint8Array(await picked.arrayBuffer());
      } catch (e) {
        if ((e as Error).name === 'NotFoundError' || (e as Error).name === 'TypeMismatchError') return null;
        throw new Error(`${description}: cannot read ${file}: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

/** The error for a file that must be there: "<source>: <file> not found at <where>". */
export function missingFile(source: FileSource, file: string): Error {
  return new Error(`${source.description}: ${file} not found at ${source.locate(file)}`);
}

/** A UTF-8 text file, decoded strictly; null when absent. Errors name the file and where it was read. */
export async function readText(source: FileSource, file: string): Promise<string | null> {
  const bytes = await source.read(file);
  if (bytes === null) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${source.description}: ${source.locate(file)} is not valid UTF-8`);
  }
}

/** A JSON file, parsed; null when absent. Errors name the file and where it was read. */
export async function readJson<T = unknown>(source: FileSource, file: string): Promise<T | null> {
  const text = await readText(source, file);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${source.description}: ${source.locate(file)} is not valid JSON: ${(e as Error).message}`);
  }
}
