// Node's data set files for loadDataset: a local folder (split files found at any depth, as
// `datasets` does), a single file, or a Hub data set id downloaded into the Hugging Face
// cache; files read as regular files under the size cap. Importing this module registers
// them; src/index.ts and the command line import it.

import { readdir, stat } from 'node:fs/promises';
import { dirname, join, relative as relativePath, sep } from 'node:path';
import { readRegularFile } from '../io/files.js';
import { isLocalPath, snapshotDownload } from '../io/hub.js';
import { assignSplits, registerDatasetFiles, splitFromFileName, splitFromFolders, type SplitName } from '../data/dataset.js';
import { MAX_TABLE_BYTES, TABLE_EXTENSIONS } from '../data/loaders.js';

/** Files in a data set folder that hold metadata, not rows (datasets' save_to_disk and old dataset scripts write them). */
const METADATA_FILES = new Set(['dataset_info.json', 'dataset_infos.json', 'dataset_dict.json', 'state.json']);

/** The split files of a folder, a file, or a Hub data set id. */
async function splitFiles(source: string, revision: string | undefined): Promise<Map<SplitName, string[]>> {
  let root = source;
  if (!isLocalPath(source)) {
    try {
      root = await snapshotDownload(source, { repoType: 'dataset', revision });
    } catch (e) {
      throw new Error(`loadDataset: ${(e as Error).message}`);
    }
  } else if (revision !== undefined) {
    throw new Error(`loadDataset: revision is for Hub data sets; ${source} is a local path`);
  }
  const info = await stat(root).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw new Error(`loadDataset: cannot read ${root}: ${e.message}`);
  });
  if (!info) throw new Error(`loadDataset: ${JSON.stringify(root)} is neither a local folder nor a file`);
  if (!info.isDirectory()) return assignSplits([root], [splitFromFileName(root)]);

  // As datasets: hidden files and folders, and those starting with "__", are skipped.
  const relative = (await readdir(root, { recursive: true }))
    .filter((path) => path.split(sep).every((part) => !part.startsWith('.') && !part.startsWith('__')))
    .filter((path) => TABLE_EXTENSIONS.some((ext) => path.toLowerCase().endsWith(ext)) && !METADATA_FILES.has(path.split(sep).at(-1)!))
    .sort();
  if (relative.length === 0) throw new Error(`loadDataset: ${root} holds no ${TABLE_EXTENSIONS.join(' / ')} files`);
  const byFile = relative.map(splitFromFileName);
  const splits = byFile.some((s) => s !== undefined) ? byFile : relative.map(splitFromFolders);
  const out = assignSplits(relative.map((path) => join(root, path)), splits);
  // One split's files from several folders: likely several configurations (glue's cola/, sst2/), which must not be merged.
  for (const [split, paths] of out) {
    const folders = [...new Set(paths.map((p) => dirname(relativePath(root, p))))];
    if (folders.length > 1) {
      throw new Error(
        `loadDataset: ${root} has ${split} files in several folders (${folders.join(', ')}), as a data set with several ` +
          'configurations has; pass the folder of one, or the files of each split as {train: [...], validation: [...]}',
      );
    }
  }
  return out;
}

registerDatasetFiles({
  splitFiles,
  read: async (path) => new Uint8Array(await readRegularFile(path, { maxBytes: MAX_TABLE_BYTES, what: 'data set file' })),
});
