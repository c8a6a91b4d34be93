// Hugging Face checkpoint files, read from and written to any folder (a FileSource or a
// FileTarget: a local folder, the Hub, files a user picked): model.safetensors, or a sharded
// model.safetensors.index.json whose weight_map names the shard of each tensor. Reading
// normalises legacy names and skips integer buffers; matching against a model is the model's
// (src/models/pretrained.ts). Writing puts the weights before config.json, so a crash in
// between leaves new weights under the old config, never a torn file. No Node API.

import { readSafetensors, writeSafetensors, INTEGER_DTYPES, type TensorData } from './safetensors.js';
import { missingFile, readJson, readText, type FileSource, type FileTarget } from './sources.js';
import { checkFileName } from './hub/urls.js';

export const CONFIG_NAME = 'config.json';
export const WEIGHTS_NAME = 'model.safetensors';
export const WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

/** A float32 weight in C order, as loaded. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

export interface CheckpointWeights {
  /** By normalised name (LayerNorm.gamma/beta renamed weight/bias). */
  tensors: Map<string, WeightTensor>;
  /** Integer tensors that were not loaded (BERT's I64 `embeddings.position_ids` buffer). */
  skipped: string[];
  /** The weight files read, relative to the folder. */
  files: string[];
}

/** Legacy TensorFlow-era names: LayerNorm.gamma / LayerNorm.beta are LayerNorm.weight / LayerNorm.bias. */
export function normalizeName(name: string): string {
  if (name.endsWith('LayerNorm.gamma')) return `${name.slice(0, -'gamma'.length)}weight`;
  if (name.endsWith('LayerNorm.beta')) return `${name.slice(0, -'beta'.length)}bias`;
  return name;
}

/** The weights of a checkpoint folder: model.safetensors or the shards its index names (the single file wins, as in transformers). */
export async function readCheckpointWeights(source: FileSource): Promise<CheckpointWeights> {
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

  const single = await source.read(WEIGHTS_NAME);
  if (single) {
    addFile(single, source.locate(WEIGHTS_NAME));
    return { tensors, skipped, files: [WEIGHTS_NAME] };
  }
  const index = await readJson(source, WEIGHTS_INDEX_NAME);
  if (index === null) {
    throw new Error(
      `${source.description}: no ${WEIGHTS_NAME} or ${WEIGHTS_INDEX_NAME} (looked for ${source.locate(WEIGHTS_NAME)} and ` +
        `${source.locate(WEIGHTS_INDEX_NAME)}; only safetensors is read: convert pytorch_model.bin, ` +
        "tf_model.h5 or flax_model.msgpack with transformers' save_pretrained(safe_serialization=True))",
    );
  }
  const indexPath = source.locate(WEIGHTS_INDEX_NAME);
  const weightMap = parseIndex(index, indexPath);
  const files = [...new Set(weightMap.values())].sort();
  const seen = new Set<string>();
  const shards: [string, Uint8Array][] = [];
  for (const shard of files) {
    const bytes = await source.read(shard);
    if (!bytes) throw new Error(`${indexPath}: names shard ${source.locate(shard)}, which does not exist`);
    shards.push([shard, bytes]);
  }
  for (const [shard, bytes] of shards) {
    const shardPath = source.locate(shard);
    addFile(bytes, shardPath, (name) => {
      const listed = weightMap.get(name);
      if (listed !== shard) throw new Error(`${shardPath}: holds tensor '${name}', which ${indexPath} ${listed ? `maps to ${listed}` : 'does not list'}`);
      seen.add(name);
    });
  }
  for (const [name, shard] of weightMap) {
    if (!seen.has(name)) throw new Error(`${indexPath}: maps tensor '${name}' to ${shard}, which does not hold it`);
  }
  return { tensors, skipped, files };
}

/** The text of a checkpoint folder's config.json (the model parses its fields); an absent one names where it was looked for. */
export async function readCheckpointConfig(source: FileSource): Promise<string> {
  const text = await readText(source, CONFIG_NAME);
  if (text === null) throw missingFile(source, CONFIG_NAME);
  return text;
}

/**
 * Writes model.safetensors (F32, metadata {"format": "pt"}, which transformers requires),
 * then config.json, into `target`.
 */
export async function writeCheckpoint(target: FileTarget, configText: string, tensors: Iterable<readonly [string, TensorData]>): Promise<void> {
  await target.write(WEIGHTS_NAME, writeSafetensors([...tensors], { format: 'pt' }));
  await target.write(CONFIG_NAME, configText);
}

/** weight_map of a sharded index, with shard names checked to stay inside the folder. */
function parseIndex(json: unknown, path: string): Map<string, string> {
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${path}: no weight_map object {tensor name: shard file}`);
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    try {
      if (typeof shard !== 'string') throw new Error('not a string');
      checkFileName(path, shard);
    } catch {
      throw new Error(`${path}: weight_map['${name}'] is ${JSON.stringify(shard)}, not a shard file in the folder`);
    }
    out.set(name, shard);
  }
  if (out.size === 0) throw new Error(`${path}: weight_map is empty`);
  return out;
}
