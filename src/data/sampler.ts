// Length-grouped order (TrainingArguments' groupByLength): batches of rows of
// similar length, so dynamic padding pads little, with the randomness of a
// shuffle. transformers' get_length_grouped_indices (trainer_pt_utils.py):
// a seeded permutation is cut into megabatches of megabatchMult x batchSize
// rows, each megabatch sorted longest first, and the longest row of all is
// swapped to the front so that the first batch is the widest (an out-of-memory
// shows at step 1, not hours later).

import { permutation, type Dataset, type Row } from './dataset.js';
import { tokenColumn } from './collator.js';

/**
 * Row order for one epoch: `lengths[i]` is row i's length in tokens; `seed`
 * as for permutation() (the Trainer passes dataSeed + epoch). megabatchMult
 * defaults as transformers': min(floor(n / (4 batchSize)), 50), at least 1.
 */
export function lengthGroupedPermutation(lengths: ArrayLike<number>, batchSize: number, seed: number, megabatchMult?: number): Uint32Array {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`lengthGroupedPermutation: batchSize ${batchSize} is not a positive integer`);
  const n = lengths.length;
  const mult = megabatchMult ?? Math.max(1, Math.min(Math.floor(n / (batchSize * 4)), 50));
  if (!Number.isInteger(mult) || mult < 1) throw new Error(`lengthGroupedPermutation: megabatchMult ${mult} is not a positive integer`);
  const order = permutation(n, seed);
  const size = mult * batchSize;
  // Sorting is stable, as Python's sorted: equal lengths keep their shuffled order.
  for (let start = 0; start < n; start += size) order.subarray(start, start + size).sort((a, b) => lengths[b] - lengths[a]);
  let longest = 0;
  for (let start = size; start < n; start += size) if (lengths[order[start]] > lengths[order[longest]]) longest = start;
  [order[0], order[longest]] = [order[longest], order[0]];
  return order;
}

/** Each row's length in tokens: its inputIds (as tokenizeDataset makes them) or input_ids, as transformers reads them. */
export function rowLengths(dataset: Dataset<Row>): Uint32Array {
  const out = new Uint32Array(dataset.length);
  for (let i = 0; i < dataset.length; i++) {
    const ids = tokenColumn(dataset.get(i), 'inputIds');
    if (!(ids instanceof Int32Array || Array.isArray(ids))) {
      throw new Error(`groupByLength: training row ${i} has no inputIds (columns: ${Object.keys(dataset.get(i)).join(', ')}); tokenize the data set first (tokenizeDataset)`);
    }
    out[i] = ids.length;
  }
  return out;
}
