// A BERT checkpoint folder as data, without a model: its config and tensors read from any
// location (a folder in Node, the Hub, picked files), or written to one. For tools and
// tests; models load through fromPretrained (src/models/pretrained.ts).

import { readCheckpointConfig, readCheckpointWeights, writeCheckpoint, CONFIG_NAME, type CheckpointWeights } from '../../io/checkpoint.js';
import type { TensorData } from '../../io/safetensors.js';
import { resolveSource, resolveTarget, type FileTarget, type ModelLocation } from '../../io/sources.js';
import { parseBertConfig, serializeBertConfig, type BertConfig } from './config.js';

/** BertForMaskedLM._tied_weights_keys, each with the parameter it is: its decoder is the word embeddings; never loaded, never saved. */
export const TIED_WEIGHTS: Readonly<Record<string, string>> = {
  'cls.predictions.decoder.weight': 'bert.embeddings.word_embeddings.weight',
  'cls.predictions.decoder.bias': 'cls.predictions.bias',
};

export interface Checkpoint extends CheckpointWeights {
  config: BertConfig;
}

/** config.json and the weights (model.safetensors or its shards) of a checkpoint folder. */
export async function loadCheckpoint(location: ModelLocation): Promise<Checkpoint> {
  const source = resolveSource(location);
  const config = parseBertConfig(await readCheckpointConfig(source), source.locate(CONFIG_NAME));
  return { config, ...(await readCheckpointWeights(source)) };
}

/** Writes model.safetensors (tied duplicates left out) then config.json (torch_dtype float32), each whole. */
export async function saveCheckpoint(location: string | FileTarget, config: BertConfig, tensors: ReadonlyMap<string, TensorData>): Promise<void> {
  const kept = [...tensors].filter(([name]) => !(name.replace(/^bert\./, '') in TIED_WEIGHTS));
  await writeCheckpoint(resolveTarget(location), serializeBertConfig({ ...config, torch_dtype: 'float32' }), kept);
}
