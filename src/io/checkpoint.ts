// Hugging Face checkpoint folders (Node): config.json plus model.safetensors, or a sharded
// model.safetensors.index.json whose weight_map names the shard of each tensor. Loading
// normalises legacy names and skips integer buffers (matching against a model: weights.ts).
// Saving writes each file to a temporary name and renames it, and omits tied duplicates as
// transformers does.

import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, normalize, isAbsolute, sep } from 'node:path';
import { readSafetensors, writeSafetensors, INTEGER_DTYPES, type TensorData } from './safetensors.js';
import { parseBertConfig, serializeBertConfig, type BertConfig } from './config.js';
import { readJsonFile, readRegularFile, writeFileAtomic } from './files.js';
import { TIED_WEIGHTS, normalizeName, stripPrefix, type WeightTensor } from './weights.js';

export { TIED_WEIGHTS, normalizeName, stripPrefix, matchWeights, describeMatch, assertNoMismatch } from './weights.js';
export type { WeightTensor, WeightMatch, MatchOptions } from './weights.js';

export const CONFIG_NAME = 'config.json';
export const WEIGHTS_NAME = 'model.safetensors';
export const WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

export interface Checkpoint {
  config: BertConfig;
  /** By normalised name (LayerNorm.gamma/beta renamed weight/bias). */
  tensors: Map<string, WeightTensor>;
  /** Integer tensors that were not loaded (BERT's I64 `embeddings.position_ids` buffer). */
  skipped: string[];
  /** The weight files read, relative to the folder. */
  files: string[];
}

/** Reads a checkpoint folder: config.json and model.safetensors (or its sharded index). */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  return { config: await loadCheckpointConfig(dir), ...(await loadCheckpointWeights(dir)) };
}

/** config.json of a checkpoint folder (read first, so a model can be checked before its weights are). */
export async function loadCheckpointConfig(dir: string): Promise<BertConfig> {
  const configPath = join(dir, CONFIG_NAME);
  return parseBertConfig(await readJsonFile(configPath), configPath);
}

/** The weights of a checkpoint folder: model.safetensors or the shards its index names. */
export async function loadCheckpointWeights(dir: string): Promise<Omit<Checkpoint, 'config'>> {
  const tensors = new Map<string, WeightTensor>();
  const sourceOf = new Map<string, string>(); // normalised name -> original name, for collision errors
  const skipped: string[] = [];

  const addFile = (bytes: Uint8Array, path: string, expect?: (name: string) => void) => {
    for (const [name, tensor] of readSafetensors(bytes, path).tensors) {
      expect?.(name);
      if (INTEGER_DTYPES.has(tensor.dtype)) {
        skipped.push(name);
        continue;
      }
      if (!tensor.data) throw new Error(`${path}: tensor '${name}' has dtype ${tensor.dtype}, which cannot be loaded (F32, F16, BF16 or F64 only)`);
      const normalised = normalizeName(name);
      const previous = sourceOf.get(normalised);
      if (previous !== undefined) throw new Error(`${path}: tensors '${previous}' and '${name}' are both '${normalised}'`);
      sourceOf.set(normalised, name);
      tensors.set(normalised, { shape: tensor.shape, data: tensor.data });
    }
  };

  const single = join(dir, WEIGHTS_NAME);
  const indexPath = join(dir, WEIGHTS_INDEX_NAME);
  let files: string[];
  // transformers prefers the single file when both are present; so do we.
  if (await exists(single)) {
    addFile(await readRegularFile(single), single);
    files = [WEIGHTS_NAME];
  } else if (await exists(indexPath)) {
    const weightMap = parseIndex(await readJsonFile(indexPath), indexPath);
    files = [...new Set(weightMap.values())].sort();
    for (const shard of files) {
      if (!(await exists(join(dir, shard)))) throw new Error(`${indexPath}: names shard ${join(dir, shard)}, which does not exist`);
    }
    const seen = new Set<string>();
    for (const shard of files) {
      const shardPath = join(dir, shard);
      addFile(await readRegularFile(shardPath), shardPath, (name) => {
        const listed = weightMap.get(name);
        if (listed !== shard) {
          throw new Error(`${shardPath}: holds tensor '${name}', which ${indexPath} ${listed ? `maps to ${listed}` : 'does not list'}`);
        }
        seen.add(name);
      });
    }
    for (const [name, shard] of weightMap) {
      if (!seen.has(name)) throw new Error(`${indexPath}: maps tensor '${name}' to ${shard}, which does not hold it`);
    }
  } else {
    const present = await readdir(dir).catch(() => [] as string[]);
    const other = present.find((f) => f === 'pytorch_model.bin' || f === 'tf_model.h5' || f === 'flax_model.msgpack');
    throw new Error(
      `${dir}: no ${WEIGHTS_NAME} or ${WEIGHTS_INDEX_NAME}` +
        (other ? ` (found ${other}: only safetensors is read; convert it, e.g. with transformers' save_pretrained(safe_serialization=True))` : ''),
    );
  }
  return { tensors, skipped, files };
}

export interface SaveOptions {
  /** Names left out of model.safetensors because the model ties them (default TIED_WEIGHTS). */
  tied?: readonly string[];
}

/**
 * Writes config.json and model.safetensors (F32, metadata {"format": "pt"}, which transformers
 * requires) into `dir`, each to a temporary name then renamed. Weights first: a crash in between
 * leaves new weights under the old config, never a torn file.
 */
export async function saveCheckpoint(
  dir: string,
  config: BertConfig,
  tensors: ReadonlyMap<string, TensorData>,
  { tied = TIED_WEIGHTS }: SaveOptions = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const kept = [...tensors].filter(([name]) => !tied.includes(name) && !tied.includes(stripPrefix(name)));
  await writeFileAtomic(join(dir, WEIGHTS_NAME), writeSafetensors(kept, { format: 'pt' }));
  await writeFileAtomic(join(dir, CONFIG_NAME), serializeBertConfig({ ...config, torch_dtype: 'float32' }));
}

/** weight_map of a sharded index, with shard names checked to stay inside the folder. */
function parseIndex(json: unknown, path: string): Map<string, string> {
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${path}: no weight_map object {tensor name: shard file}`);
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '' || isAbsolute(shard) || normalize(shard).split(sep).includes('..')) {
      throw new Error(`${path}: weight_map['${name}'] is ${JSON.stringify(shard)}, not a shard file in the folder`);
    }
    out.set(name, shard);
  }
  if (out.size === 0) throw new Error(`${path}: weight_map is empty`);
  return out;
}

/** Whether something is at `path` (readRegularFile then refuses what is not a regular file, naming it). */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
