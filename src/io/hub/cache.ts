// The Hugging Face cache on disk (Node), in the layout of Python's huggingface_hub,
// so a model fetched here is found by `transformers` and the other way round.
//
// Layout (huggingface_hub's, on Linux):
//   $HF_HUB_CACHE | $HF_HOME/hub | $XDG_CACHE_HOME/huggingface/hub | ~/.cache/huggingface/hub
//     models--org--name/            (datasets--org--name/ for data sets)
//       blobs/<etag>                the file's bytes, checked against the etag; <etag>.incomplete while downloading
//       refs/<revision>             the commit hash that <revision> pointed to
//       snapshots/<commit>/<file>   relative symlink to ../../blobs/<etag>
//       .no_exist/<commit>/<file>   empty marker: the Hub said 404 for this optional file
//     .locks/models--org--name/<etag>.lock   held while the blob is written (waited on by other processes)
//

import { copyFile, mkdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { temporaryName } from '../files.js';
import { COMMIT_HASH } from './urls.js';

/** The commit a revision points to in the cache (a commit hash is itself), or null when the cache does not know it. */
export async function cachedCommit(storage: string, revision: string): Promise<string | null> {
  if (COMMIT_HASH.test(revision)) return revision;
  try {
    const commit = (await readFile(join(storage, 'refs', revision), 'utf8')).trim();
    return COMMIT_HASH.test(commit) ? commit : null; // an empty or damaged ref says nothing
  } catch {
    return null;
  }
}

/**
 * A relative symlink snapshots/<commit>/<file> -> blobs/<etag> (a copy where
 * the file system refuses links), made under a temporary name and renamed
 * into place, so a concurrent reader never sees it half made.
 */
export async function linkPointer(blob: string, pointer: string): Promise<void> {
  const temporary = temporaryName(pointer);
  try {
    await mkdir(dirname(pointer), { recursive: true });
    try {
      await symlink(relative(dirname(pointer), blob), temporary);
    } catch {
      await copyFile(blob, temporary);
    }
    await rename(temporary, pointer);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => {});
    if (!['EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    throw new Error(`${pointer} clashes with a file or folder already in the snapshot (one path cannot be both)`, { cause: error });
  }
}

/** Whether `path` is a file (through symlinks): a folder of the same name is not the file. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // missing, or a file where a folder of the path should be
  }
}
