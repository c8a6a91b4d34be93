// npm run weights -- <hub id> [--revision REV] [--out DIR]
//
// Fetches what fine-tuning needs from a Hub model (config.json, the tokenizer
// files, model.safetensors or its sharded index and shards) into the Hugging
// Face cache, then places them in weights/<name>/ as hard links to the cached
// blobs (copies across file systems), for offline use and for serving to a
// browser. HF_TOKEN, HF_HOME / HF_HUB_CACHE, HF_ENDPOINT and HF_HUB_OFFLINE
// apply as in Python's huggingface_hub.

import { copyFile, link, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolvePretrainedFiles, type HubOptions } from '../src/io/hub.js';

const WEIGHTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'weights');

/** Hard link (or copy) `source` to `dest` through a temporary name, so `dest` is never half written. */
async function place(source: string, dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const temporary = `${dest}.tmp-${process.pid}`;
  await rm(temporary, { force: true });
  const blob = await realpath(source);
  try {
    await link(blob, temporary);
  } catch {
    await copyFile(blob, temporary);
  }
  await rename(temporary, dest);
}

/** Downloads a model's files and places them in `outDir` (default weights/<name>); returns the folder and the file names placed. */
export async function fetchWeights(id: string, options: HubOptions & { outDir?: string } = {}): Promise<{ dir: string; files: string[] }> {
  const { outDir: given, ...hub } = options;
  const outDir = resolve(given ?? join(WEIGHTS_DIR, basename(id)));
  const found = await resolvePretrainedFiles(id, hub);
  for (const [file, source] of Object.entries(found)) await place(source, join(outDir, file));
  return { dir: outDir, files: Object.keys(found) };
}

function parseArgs(argv: string[]): { id: string; revision?: string; outDir?: string } {
  const usage = 'usage: npm run weights -- <hub id> [--revision REV] [--out DIR]';
  let id: string | undefined;
  let revision: string | undefined;
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--revision' && argv[i + 1]) revision = argv[++i];
    else if (argv[i] === '--out' && argv[i + 1]) outDir = argv[++i];
    else if (!argv[i].startsWith('-') && id === undefined) id = argv[i];
    else throw new Error(`unexpected argument '${argv[i]}'\n${usage}`);
  }
  if (!id) throw new Error(usage);
  return { id, revision, outDir };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const args = parseArgs(process.argv.slice(2));
    const { dir, files } = await fetchWeights(args.id, args);
    console.log(`${args.id}: ${files.length} files in ${dir}\n${files.map((f) => `  ${f}`).join('\n')}`);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
