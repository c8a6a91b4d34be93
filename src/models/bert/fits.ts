// Whether a BERT config fits this device, checked before anything is
// allocated: each parameter is one storage buffer bound whole, all of them
// must fit the memory budget, and a forward pass must fit the bind groups the
// adapter can hold between two waits for the GPU.

import { gpu } from '../../gpu/device.js';
import { numLabels as labelCount, type BertConfig } from './config.js';

/** A lower bound on one layer's dispatches in a forward pass (q, k, v, attention, dense, LayerNorm, dense, GELU, dense, LayerNorm; lavapipe records 20, 80 with backward). */
const MIN_DISPATCHES_PER_LAYER = 10;

/**
 * Refuses a config this device cannot hold, before anything is allocated: each parameter is
 * one storage buffer bound whole, all of them must fit the memory budget, and a forward pass
 * must fit the bind groups the adapter can hold between two waits. `source` names the config in errors.
 */
export function checkFits(config: BertConfig, source = 'BertConfig'): void {
  const runtime = gpu();
  const { maxBufferSize, maxStorageBufferBindingSize } = runtime.device.limits;
  const [limitName, limit] = maxStorageBufferBindingSize <= maxBufferSize
    ? ['maxStorageBufferBindingSize', maxStorageBufferBindingSize]
    : ['maxBufferSize', maxBufferSize];
  const { vocab_size: V, hidden_size: H, intermediate_size: I, num_hidden_layers: L } = config;
  const labels = labelCount(config);
  // The largest parameter each field sets: [name, rows field, rows, columns field, columns].
  const largest: [string, string, number, string, number][] = [
    ['encoder.layer.0.attention.self.query.weight', 'hidden_size', H, 'hidden_size', H],
    ['encoder.layer.0.intermediate.dense.weight', 'intermediate_size', I, 'hidden_size', H],
    ['embeddings.word_embeddings.weight', 'vocab_size', V, 'hidden_size', H],
    ['embeddings.position_embeddings.weight', 'max_position_embeddings', config.max_position_embeddings, 'hidden_size', H],
    ['embeddings.token_type_embeddings.weight', 'type_vocab_size', config.type_vocab_size, 'hidden_size', H],
    ['classifier.weight', 'num_labels', labels, 'hidden_size', H],
  ];
  for (const [name, rowsField, rows, colsField, cols] of largest) {
    const bytes = rows * cols * 4;
    if (bytes <= limit) continue;
    const fields = rowsField === colsField ? `${rowsField} ${rows}` : `${rowsField} ${rows} × ${colsField} ${cols}`;
    throw new Error(`${source}: ${fields} makes ${name} [${rows}, ${cols}] of ${count(bytes)} bytes, over this device's ${limitName} of ${count(limit)} bytes`);
  }

  // Parameters, an upper bound over the three models: embeddings, layers, pooler and MLM transform, classifier and MLM bias.
  const perLayer = 4 * H * H + 2 * I * H + 9 * H + I;
  const others = (V + config.max_position_embeddings + config.type_vocab_size) * H + 2 * H + 2 * (H * H + H) + labels * (H + 1) + V;
  const bytes = (L * perLayer + others) * 4;
  const budget = runtime.memoryBudget;
  if (budget !== null && bytes > budget) {
    throw new Error(
      `${source}: num_hidden_layers ${L} × ${count(perLayer)} parameters per layer + ${count(others)} others take ${count(bytes)} bytes, ` +
        `over the memory budget of ${count(budget)} bytes (this machine's memory)`,
    );
  }

  const bound = runtime.maxBindGroupsInFlight;
  if (bound !== null && L * MIN_DISPATCHES_PER_LAYER > bound) {
    throw new Error(
      `${source}: num_hidden_layers ${L} records at least ${count(L * MIN_DISPATCHES_PER_LAYER)} dispatches per forward pass, ` +
        `over the ${count(bound)} that ${runtime.adapter.name} can hold between two waits for the GPU (at most ${Math.floor(bound / MIN_DISPATCHES_PER_LAYER)} layers)`,
    );
  }
}

/** 512000000000 -> "512,000,000,000". */
function count(n: number): string {
  return n.toLocaleString('en-US');
}
