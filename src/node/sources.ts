// Node's model folders: local folders, and Hub repositories through the Hugging Face cache
// (downloaded file by file, as huggingface_hub does, so Python finds them there too).
// Importing this module registers them for every loader (fromPretrained, AutoTokenizer,
// savePretrained to a folder), and Node's data set files with them (datasets.ts);
// src/index.ts and the command line import it.

import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { readRegularFile, writeFileAtomic } from '../io/files.js';
import { hubFile } from '../io/hub/download.js';
import { describeRepo, expandHome, isLocalPath, repoFolderName, resolveUrl, settings } from '../io/hub/settings.js';
import { checkFileName } from '../io/hub/urls.js';
import './datasets.js'; // loadDataset of folders, files and Hub ids
import { registerSourceResolver, registerTargetResolver, SOURCE_OPTIONS, type FileSource, type FileTarget, type SourceOptions } from '../io/sources.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

/** A folder on disk; a file that is not a regular one (a FIFO, a device, a folder) is refused, naming it. */
export function folderSource(path: string): FileSource {
  const dir = resolve(expandHome(path));
  if (!existsSync(dir)) throw new Error(`${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder (a model is loaded from the folder holding config.json)`);
  return {
    description: dir,
    locate: (file) => join(dir, file),
    read: async (file) => {
      checkFileName(dir, file);
      const path = join(dir, file);
      return existsSync(path) ? new Uint8Array(await readRegularFile(path)) : null;
    },
  };
}

/**
 * A Hub repository through the cache: each file is found there or downloaded into it;
 * the first file's commit pins the rest. Offline, or when the Hub cannot be reached, only
 * cached files are read; a repository the cache does not know is an error naming it.
 */
export function hubCacheSource(repo: string, given?: WithSnakeCase<SourceOptions>): FileSource {
  const s = settings(repo, checkOptions<SourceOptions>('hubCacheSource', given, SOURCE_OPTIONS));
  let revision = s.revision;
  const description = describeRepo(s, repo);
  return {
    description,
    locate: (file) => resolveUrl(s, repo, file, revision),
    read: async (file) => {
      checkFileName(repo, file);
      let resolved;
      try {
        resolved = await hubFile(s, repo, file, revision, true);
      } catch (error) {
        const message = (error as Error).message;
        if (message.startsWith(description)) throw error;
        throw new Error(`${description}, file ${file}: ${message}`, { cause: error });
      }
      if (resolved.commit) revision = resolved.commit;
      else if (!resolved.path) {
        const why = s.offline ? 'HF_HUB_OFFLINE is set' : `${resolveUrl(s, repo, file, revision)} cannot be reached`;
        throw new Error(`${description}, file ${file} (revision ${revision}): not in the cache at ${join(s.cacheDir, repoFolderName(repo, s.repoType))}, and ${why}`);
      }
      return resolved.path ? new Uint8Array(await readRegularFile(resolved.path)) : null;
    },
  };
}

/** A folder to write into, created when missing; each file written to a temporary name and renamed. */
export function folderTarget(path: string): FileTarget {
  const dir = resolve(expandHome(path));
  return {
    description: dir,
    write: async (file, data) => {
      const target = join(dir, file);
      await mkdir(dirname(target), { recursive: true });
      await writeFileAtomic(target, data);
    },
  };
}

// URLs are left to the fetch source the browser entry registers.
registerSourceResolver((name, options) => {
  if (/^https?:\/\//.test(name)) return null;
  return isLocalPath(name) ? folderSource(name) : hubCacheSource(name, options);
});
registerTargetResolver((name) => folderTarget(name));
