// Results files and lines as transformers' Trainer and its examples write
// them: speed_metrics (runtime, samples and steps per second), save_metrics
// ({split}_results.json, merged into all_results.json, indented, keys sorted)
// and log_metrics ("***** train metrics *****" with aligned keys, as
// metrics_format prints them).

import { readJson, writeJsonAtomic } from './checkpoint-files.js';
import type { TrainerStorage } from './storage.js';

export const ALL_RESULTS_NAME = 'all_results.json';

/** transformers' speed_metrics: {split}_runtime (s, 4 decimals), {split}_samples_per_second, {split}_steps_per_second (3 decimals). */
export function speedMetrics(split: string, started: number, samples: number, steps?: number): Record<string, number> {
  const runtime = (performance.now() - started) / 1000;
  const out: Record<string, number> = {
    [`${split}_runtime`]: round(runtime, 4),
    [`${split}_samples_per_second`]: round(samples / runtime, 3),
  };
  if (steps !== undefined) out[`${split}_steps_per_second`] = round(steps / runtime, 3);
  return out;
}

function round(v: number, decimals: number): number {
  return Number(v.toFixed(decimals));
}

/** Writes outputDir/{split}_results.json and merges the metrics into all_results.json (transformers' save_metrics, combined). */
export async function saveMetrics(storage: TrainerStorage, outputDir: string, split: string, metrics: Record<string, number>): Promise<void> {
  if (!/^[A-Za-z0-9_-]+$/.test(split)) throw new Error(`saveMetrics: split '${split}' is not a plain name such as 'train', 'eval' or 'test'`);
  await storage.mkdir(outputDir);
  await writeJsonAtomic(storage, storage.join(outputDir, `${split}_results.json`), sorted(metrics));
  const allPath = storage.join(outputDir, ALL_RESULTS_NAME);
  const all = (await storage.exists(allPath)) ? await readJson<Record<string, number>>(storage, allPath) : {};
  await writeJsonAtomic(storage, allPath, sorted({ ...all, ...metrics }));
}

function sorted(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** transformers' log_metrics lines: a header, then `  key = value`, keys sorted and padded, values as metrics_format shows them. */
export function formatMetrics(split: string, metrics: Record<string, number>): string {
  const entries = Object.entries(sorted(metrics)).map(([k, v]) => [k, metricFormat(k, v)] as const);
  const keyWidth = Math.max(0, ...entries.map(([k]) => k.length));
  const valueWidth = Math.max(0, ...entries.map(([, v]) => v.length));
  return [`***** ${split} metrics *****`, ...entries.map(([k, v]) => `  ${k.padEnd(keyWidth)} = ${v.padStart(valueWidth)}`)].join('\n');
}

/** metrics_format: runtimes as h:mm:ss.ss, total_flos in GF, other floats to 4 decimals. */
function metricFormat(key: string, value: number): string {
  if (key.endsWith('_runtime')) {
    const h = Math.floor(value / 3600);
    const m = Math.floor((value % 3600) / 60);
    const s = (value % 60).toFixed(2).padStart(5, '0');
    return `${h}:${String(m).padStart(2, '0')}:${s}`;
  }
  if (key === 'total_flos') return `${Math.floor(value / 2 ** 30)}GF`;
  return Number.isInteger(value) ? String(value) : String(round(value, 4));
}

/** Metrics with `prefix_` before each key that lacks it, as transformers. */
export function prefixed(metrics: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k.startsWith(`${prefix}_`) ? k : `${prefix}_${k}`, v]));
}
