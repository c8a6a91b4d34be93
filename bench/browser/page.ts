// The benchmarks inside a browser page (bundled and driven by run-page.ts):
// opens the engine on the page's WebGPU adapter through shadergrad/browser,
// tunes the matmul variant with the tuning choice kept in localStorage
// (browserTuningStore), runs the suites asked for in the query string with the
// same code as Node (bench/matmul.ts, bench/training-step.ts, bench/harness.ts),
// and hands everything to Node through functions it exposed on window.
//
// Query: phase=bench (suites=matmul,training-step; large=1: bench/matmul.ts's full
// suite, tuning on the Trainer's shape; base=1: BERT-base in training-step), phase=quick (a small tuning shape and one 256³ product:
// test/browser/bench.test.ts), phase=tune or tune-quick (tuning only: a later
// load, which must find the choice stored and measure nothing).

import { init, setTuningStore, tuneMatmul, matmulVariant, browserTuningStore, tensor } from '../../src/browser.js';
import { matmulForward } from '../../src/ops/matmul.js';
import { splitmix32 } from '../../src/tensor.js';
import { Report, clockName, median, timeGpu, type ResultsFile } from '../harness.js';
import type { Preset } from '../training-step.js';
import { BENCH_TUNE, QUICK_TUNE } from './settings.js';

export interface PageInfo {
  userAgent: string;
  adapter: { vendor: string; architecture: string; device: string; description: string; name: string };
  clock: string;
  features: string[];
  subgroupSizes?: [number, number];
}

export interface TuneResult {
  phase: string;
  variant: string;
  /** ms per candidate; empty when the stored choice was reused without measuring. */
  timings: Record<string, number>;
  ms: number;
}

/** What Node exposes on the page's window (sgDone: runPage's). */
interface Reporter {
  sgInfo(info: PageInfo): Promise<void>;
  sgTuned(result: TuneResult): Promise<void>;
  sgResults(body: ResultsFile): Promise<void>;
  sgDone(): Promise<void>;
}


/** One 256³ product with the engine's variant, checked on sampled entries, then timed. */
async function quickMatmul(report: Report): Promise<void> {
  const n = 256;
  const next = splitmix32(7);
  const data = () => Float32Array.from({ length: n * n }, () => next() / 4294967296 * 2 - 1);
  const [a, b] = [data(), data()];
  const A = tensor(a, [n, n]);
  const B = tensor(b, [n, n]);
  const variant = matmulVariant();
  const c = matmulForward(A, B, {}, { variant });
  const got = await c.toArray();
  c.dispose();
  for (const [i, j] of [[0, 0], [n - 1, n - 1], [17, 201], [130, 3]]) {
    let ref = 0;
    let magnitude = 0;
    for (let k = 0; k < n; k++) {
      ref += a[i * n + k] * b[k * n + j];
      magnitude += Math.abs(a[i * n + k] * b[k * n + j]);
    }
    if (!(Math.abs(got[i * n + j] - ref) <= n * 2 ** -24 * magnitude + 1e-6)) throw new Error(`matmul ${variant} 256³: C[${i}, ${j}] = ${got[i * n + j]}, float64 reference ${ref}`);
  }
  const samples = await timeGpu(() => matmulForward(A, B, {}, { variant }).dispose(), { warmup: 1, iterations: 2, samples: 3 });
  report.add({ group: 'matmul', name: `256³ ${variant}`, samples, gflops: (2 * n ** 3) / (median(samples) * 1e6), extra: { MxNxK: '256x256x256', chosen: 'yes' } });
  A.dispose();
  B.dispose();
}

async function main(): Promise<void> {
  const reporter = window as unknown as Window & Reporter;
  const query = new URLSearchParams(location.search);
  const phase = query.get('phase') ?? 'bench';
  const runtime = await init();
  const adapterInfo = (runtime.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
  await reporter.sgInfo({
    userAgent: navigator.userAgent,
    adapter: { ...runtime.adapter },
    clock: clockName(),
    features: [...runtime.features].map(String).sort(),
    ...(adapterInfo?.subgroupMinSize !== undefined ? { subgroupSizes: [adapterInfo.subgroupMinSize, adapterInfo.subgroupMaxSize ?? 0] as [number, number] } : {}),
  });

  // As the Trainer does: tune once per adapter; the choice persists in localStorage.
  setTuningStore(browserTuningStore());
  const large = query.get('large') === '1';
  const start = performance.now();
  const tuned = await tuneMatmul(phase.includes('quick') ? QUICK_TUNE : large ? undefined : BENCH_TUNE);
  await reporter.sgTuned({ phase, variant: tuned.variant, timings: tuned.timings, ms: performance.now() - start });

  const report = new Report();
  if (phase === 'quick') {
    await quickMatmul(report);
  } else if (phase === 'bench') {
    const suites = (query.get('suites') ?? 'matmul,training-step').split(',');
    if (suites.includes('matmul')) {
      // By default a linear layer's three products only: SwiftShader would take most of an hour over them all.
      const { run, linearProducts } = await import('../matmul.js');
      await run(report, large ? { large } : { large, products: linearProducts(512, 768, 768) });
    }
    if (suites.includes('training-step')) {
      const presets: Preset[] = query.get('base') === '1' ? ['small', 'base'] : ['small'];
      await (await import('../training-step.js')).run(report, { large: false, presets });
    }
  }
  if (report.rows.length) await reporter.sgResults(report.body({ userAgent: navigator.userAgent }));
  await reporter.sgDone();
}

main().catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  const frames = e.stack?.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 4).join('\n') ?? '';
  setTimeout(() => {
    throw new Error(`${e.message}${frames ? `\n${frames}` : ''}`);
  });
});
