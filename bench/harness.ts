// Benchmark harness: validate once, warm up, then time. Each timing is the
// wall time of `iterations` recorded runs submitted together and awaited, so
// per-dispatch submission cost is not counted; the median of several samples
// is reported (the machines are shared and noisy). Runs in Node and in a
// browser page (bench/browser/): no Node module here; bench/results.ts writes
// the results file.

import { gpu, type AdapterDescription } from '../src/gpu/device.js';
import { randn } from '../src/tensor.js';
import { copy } from '../src/ops/elementwise.js';

export interface Measurement {
  /** Section of the table, e.g. "matmul" or "layernorm". */
  group: string;
  name: string;
  /** Median milliseconds per run. */
  ms: number;
  /** Every sample, ms per run. */
  samples: number[];
  gflops?: number;
  gbps?: number;
  /** Anything else worth a column (ratios, tokens/s, bytes). */
  extra?: Record<string, number | string>;
}

export interface TimingOptions {
  warmup?: number;
  iterations?: number;
  samples?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Milliseconds per call of `record` (which records GPU work), one value per
 * sample: GPU time from timestamp queries where the adapter has them (from the
 * start of the first compute pass to the end of the last), otherwise wall time
 * around the flushed batch. A `record` that reads something back mid-way (an fp16 step's overflow
 * flag) is awaited; its time then includes the GPU's wait for it.
 */
export async function timeGpu(record: () => void | Promise<void>, { warmup = 2, iterations = 5, samples = 5 }: TimingOptions = {}): Promise<number[]> {
  const runtime = gpu();
  for (let i = 0; i < warmup; i++) await record();
  await runtime.sync();
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const timed = runtime.startTimestamps();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await record();
    const ms = timed ? await runtime.stopTimestamps() : (await runtime.sync(), performance.now() - start);
    out.push(ms / iterations);
  }
  return out;
}

/** Which clock timeGpu uses on this adapter, for the report's header. */
export function clockName(): string {
  return gpu().features.has('timestamp-query') ? 'GPU timestamp queries' : 'wall time around flushed batches';
}

/** What bench/results/<adapter>.json holds. */
export interface ResultsFile {
  adapter: AdapterDescription;
  clock: string;
  date: string;
  /** Node's version, or the page's user agent and browser, and anything else about where it ran. */
  [where: string]: unknown;
  results: Measurement[];
}

export class Report {
  readonly rows: Measurement[] = [];

  add(m: Omit<Measurement, 'ms'> & { ms?: number }): Measurement {
    const full = { ...m, ms: m.ms ?? median(m.samples) } as Measurement;
    this.rows.push(full);
    const parts = [`${full.group.padEnd(14)} ${full.name.padEnd(44)} ${full.ms.toFixed(3).padStart(10)} ms`];
    if (full.gflops !== undefined) parts.push(`${full.gflops.toFixed(2).padStart(8)} GFLOP/s`);
    if (full.gbps !== undefined) parts.push(`${full.gbps.toFixed(2).padStart(8)} GB/s`);
    for (const [k, v] of Object.entries(full.extra ?? {})) parts.push(`${k} ${typeof v === 'number' ? v.toFixed(3) : v}`);
    console.log(parts.join('  '));
    return full;
  }

  /** The results file's contents for the current adapter; `where` says what ran it (e.g. { node: process.version }). */
  body(where: Record<string, string>): ResultsFile {
    const runtime = gpu();
    return { adapter: { ...runtime.adapter }, clock: clockName(), date: new Date().toISOString(), ...where, results: this.rows };
  }
}

/**
 * Memory-bound kernels, measured next to a plain copy of the same number of
 * floats (n read, n written): the adapter's copy bandwidth, measured once per
 * size and reported as a row of its own.
 */
export class BandwidthBench {
  private readonly copyGbps = new Map<number, number>();

  constructor(private readonly report: Report, private readonly group: string, readonly timing: TimingOptions) {}

  /** GB/s of copying n floats. */
  async copyBandwidth(n: number): Promise<number> {
    let gbps = this.copyGbps.get(n);
    if (gbps === undefined) {
      const x = randn([n], { seed: 1 });
      const samples = await timeGpu(() => copy(x).dispose(), this.timing);
      gbps = (2 * n * 4) / (median(samples) * 1e6);
      this.report.add({ group: this.group, name: `copy ${n} floats`, samples, gbps });
      this.copyGbps.set(n, gbps);
      x.dispose();
    }
    return gbps;
  }

  /** Times `record` (which disposes what it makes) moving `bytes` per run; its ratio to copying `copySize` floats. Returns median ms. */
  async measure(name: string, record: () => void, bytes: number, copySize: number, flops?: number): Promise<number> {
    const reference = await this.copyBandwidth(copySize);
    const samples = await timeGpu(record, this.timing);
    const ms = median(samples);
    const gbps = bytes / (ms * 1e6);
    this.report.add({ group: this.group, name, samples, gbps, gflops: flops && flops / (ms * 1e6), extra: { 'x copy': gbps / reference } });
    return ms;
  }
}
