// Where a training step's time goes: the step of bench/training-step.ts
// (forward, backward, clipping, AdamW) for the small model and BERT-base at
// 8 × 64 tokens, one step profiled after a warm-up step (src/gpu/profile.ts:
// each dispatch in a timed pass of its own, uploads and copies between marker
// passes), as GPU ms per op family; the CPU time recording and submitting the
// step and the submissions. Then one evaluation batch of the same model and
// batch through the Trainer's evaluation loop (forward without a graph, logits
// and loss read back), profiled the same way. Then the cost of an empty
// dispatch: 1,000 one-workgroup dispatches of add with n = 0.

import { gpu } from '../src/gpu/device.js';
import type { Profile } from '../src/gpu/profile.js';
import { ADD, MAX_RUNS } from '../src/ops/accumulate.js';
import { zeros } from '../src/tensor.js';
import { Dataset } from '../src/data/dataset.js';
import { evaluationLoop } from '../src/train/evaluation.js';
import { median, timeGpu, type Report } from './harness.js';
import { trainingStep, type Preset } from './training-step.js';

const CASES: [Preset, number, number][] = [['small', 8, 64], ['base', 8, 64]];
const EMPTY_DISPATCHES = 1000;

export async function run(report: Report): Promise<void> {
  const runtime = gpu();
  for (const [preset, B, T] of CASES) {
    const { trainStep, model, batch, dispose } = trainingStep(preset, B, T);
    trainStep(); // warm-up: pipelines created, shaders compiled by the driver on first run
    await runtime.sync();
    runtime.startProfile();
    trainStep();
    const profile = await runtime.stopProfile();
    printAndReport(report, `bert-${preset} ${B}x${T}`, 'forward+backward+clip+AdamW, one step after a warm-up', profile);
    const rows = new Dataset(Array.from({ length: B }, () => ({})));
    const evaluate = () => evaluationLoop({ model, collate: () => batch, batchSize: B, metrics: null }, rows, 'evaluation', false);
    await evaluate(); // warm-up
    runtime.startProfile();
    await evaluate();
    const evaluation = await runtime.stopProfile();
    dispose();
    printAndReport(report, `bert-${preset} ${B}x${T} evaluation batch`, 'evaluation loop, one batch after a warm-up', evaluation);
  }
  await emptyDispatch(report);
}

function printAndReport(report: Report, name: string, what: string, p: Profile): void {
  const clock = p.timed ? 'timestamp queries, each dispatch in a pass of its own' : "no 'timestamp-query' on this adapter: counts only";
  console.log(`\nprofile: ${name} ${what} (${clock})`);
  console.log(`${'family'.padEnd(26)} ${'count'.padStart(6)} ${'GPU ms'.padStart(10)} ${'% GPU'.padStart(7)} ${'MiB moved'.padStart(10)}`);
  for (const f of p.families) {
    const share = p.gpuMs && f.gpuMs !== null ? (100 * f.gpuMs) / p.gpuMs : null;
    console.log(`${f.family.padEnd(26)} ${String(f.count).padStart(6)} ${fmt(f.gpuMs, 10)} ${fmt(share, 7, 1)} ${f.bytes ? fmt(f.bytes / 2 ** 20, 10, 1) : ''}`);
    report.rows.push({
      group: 'profile', name: `${name} ${f.family}`, ms: f.gpuMs ?? 0, samples: f.gpuMs === null ? [] : [f.gpuMs],
      extra: { count: f.count, '% GPU': share ?? 'not timed', bytes: f.bytes },
    });
  }
  const dispatches = p.entries.filter((e) => e.kind === 'dispatch').length;
  const uploads = p.entries.filter((e) => e.kind === 'upload').length;
  console.log(`${'total'.padEnd(26)} ${String(p.entries.length).padStart(6)} ${fmt(p.gpuMs, 10)}   (${dispatches} dispatches, ${uploads} uploads; GPU span first to last timestamp ${fmt(p.spanMs, 0)} ms)`);
  const gaps = p.submitGapsMs.map((g) => g.toFixed(1)).join(', ');
  console.log(
    `CPU: ${p.cpuMs.toFixed(1)} ms recording and submitting, ${p.submitGapsMs.length} submission(s) (ms before each: ${gaps}); ` +
      `then ${p.waitMs.toFixed(1)} ms waiting for the GPU; ${(p.uniformBytes / 1024).toFixed(0)} KiB of uniforms written at submission`,
  );
  report.rows.push({
    group: 'profile', name: `${name} step`, ms: p.gpuMs ?? 0, samples: p.gpuMs === null ? [] : [p.gpuMs],
    extra: {
      clock, dispatches, uploads, 'GPU span ms': p.spanMs ?? 'not timed', 'CPU recording ms': p.cpuMs, submissions: p.submitGapsMs.length,
      'ms before each submission': gaps, 'GPU wait ms': p.waitMs, 'uniform bytes': p.uniformBytes,
    },
  });
}

/** One workgroup of add over nothing, EMPTY_DISPATCHES times: GPU µs each in one pass and in passes of their own, CPU µs recording each, wall µs each. */
async function emptyDispatch(report: Report): Promise<void> {
  const runtime = gpu();
  const [a, b, out] = [zeros([1]), zeros([1]), zeros([1])];
  const ones = Array(MAX_RUNS).fill(1);
  const record = () => {
    for (let i = 0; i < EMPTY_DISPATCHES; i++) {
      runtime.dispatch(ADD, { bindings: [a.binding, b.binding, out.binding], params: { n: 0, rank: 1, sizes: ones, aStrides: ones, bStrides: ones }, workgroups: 1 });
    }
  };
  const gpuUs = (median(await timeGpu(record, { warmup: 1, iterations: 1, samples: 5 })) * 1000) / EMPTY_DISPATCHES;
  await runtime.sync();
  const start = performance.now();
  record();
  const recorded = performance.now();
  await runtime.sync();
  const cpuUs = ((recorded - start) * 1000) / EMPTY_DISPATCHES;
  const wallUs = ((performance.now() - start) * 1000) / EMPTY_DISPATCHES;
  runtime.startProfile();
  record();
  const own = await runtime.stopProfile();
  const ownUs = own.spanMs === null ? null : (own.spanMs * 1000) / EMPTY_DISPATCHES;
  for (const t of [a, b, out]) t.dispose();
  console.log(
    `\nempty dispatch (add, n = 0, one workgroup; ${EMPTY_DISPATCHES} recorded, submitted once): GPU ${gpuUs.toFixed(1)} µs each in one pass, ` +
      `${fmt(ownUs, 0, 1)} µs in a pass of its own (profiling); CPU ${cpuUs.toFixed(1)} µs to record; wall ${wallUs.toFixed(1)} µs (record, submit, wait)`,
  );
  report.rows.push({
    group: 'profile', name: 'empty dispatch', ms: gpuUs / 1000, samples: [gpuUs / 1000],
    extra: { 'GPU µs in one pass': gpuUs, 'GPU µs own pass': ownUs ?? 'not timed', 'CPU µs recording': cpuUs, 'wall µs': wallUs },
  });
}

function fmt(x: number | null, width: number, digits = 2): string {
  return (x === null ? '-' : x.toFixed(digits)).padStart(width);
}
