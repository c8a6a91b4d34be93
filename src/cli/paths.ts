// Where the job reads and writes: local data set paths versus Hub ids, and an
// output folder that must never be (or hold) the model folder.

import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { isLocalPath, snapshotDownload } from '../io/hub.js';

/** Whether --dataset names local files: a path that exists is a path (commas and all); otherwise commas separate files. */
export function isLocalDataset(dataset: string): boolean {
  return existsSync(dataset) || dataset.includes(',') || isLocalPath(dataset);
}

/** What loadDataset reads for --dataset: a Hub snapshot folder, a local path, or a list of files. */
export async function datasetSource(dataset: string): Promise<string | string[]> {
  if (!isLocalDataset(dataset)) return snapshotDownload(dataset, { repoType: 'dataset' });
  return !existsSync(dataset) && dataset.includes(',') ? dataset.split(',') : dataset;
}

/** The real path of `path`, which need not exist yet (its nearest existing ancestor is resolved). */
function realPath(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
}

/** Refuses an output folder that is the model folder or holds it: saving there would overwrite the base model. */
export function checkOutputDir(outputDir: string, model: string, modelDir: string): void {
  const out = realPath(outputDir);
  const input = realPath(modelDir);
  const within = relative(out, input);
  if (within === '' || !(within === '..' || within.startsWith(`..${sep}`) || isAbsolute(within))) {
    throw new Error(
      `--output-dir ${outputDir} (${out}) ${within === '' ? 'is' : 'holds'} the folder of --model ${model} (${input}); ` +
        'saving there would overwrite the base model: choose another --output-dir',
    );
  }
}
