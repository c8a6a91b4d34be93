// The results files transformers' example scripts write into the output
// folder: <split>_results.json and all_results.json (Trainer.save_metrics) and
// a root trainer_state.json (Trainer.save_state), keys sorted as Python's
// json.dump(..., sort_keys=True) writes them.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from '../io/files.js';
import type { TrainerState } from '../train/state.js';

export const ALL_RESULTS_NAME = 'all_results.json';
export const TRAINER_STATE_NAME = 'trainer_state.json';

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]));
}

const json = (value: unknown, indent: number) => `${JSON.stringify(sortKeys(value), null, indent)}\n`;

/** `<split>_results.json`, and the same metrics merged into all_results.json (as save_metrics with combined=True). */
export async function saveMetrics(outputDir: string, split: string, metrics: Record<string, number>): Promise<void> {
  await writeFileAtomic(join(outputDir, `${split}_results.json`), json(metrics, 4));
  const allPath = join(outputDir, ALL_RESULTS_NAME);
  const all = existsSync(allPath) ? await readJsonFile<Record<string, unknown>>(allPath) : {};
  await writeFileAtomic(allPath, json({ ...all, ...metrics }, 4));
}

/** trainer_state.json at the root of the output folder (as save_state). */
export async function saveState(outputDir: string, state: TrainerState): Promise<void> {
  await writeFileAtomic(join(outputDir, TRAINER_STATE_NAME), json(state.toJSON(), 2));
}
