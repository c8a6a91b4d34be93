// Node only: PyTorch's side of the training-step bench (bench/training-step.ts),
// and of the epoch bench (bench/epoch.ts): the same step on the CPU through
// bench/torch_step.py in a python3 with torch.

import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { median } from './harness.js';

/** A python3 that imports torch (PATH's first, then Debian's), or null. */
export function findTorchPython(): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return python;
  }
  return null;
}

/** Runs bench/torch_step.py with `args` and returns its JSON line, or null (with the reason printed). */
function torchStepScript<T>(python: string, what: string, args: string[]): T | null {
  const threads = availableParallelism();
  const run = spawnSync(python, [new URL('./torch_step.py', import.meta.url).pathname, ...args, '--threads', String(threads)], { encoding: 'utf8' });
  if (run.status !== 0) {
    console.log(`PyTorch ${what}: failed (${run.stderr.trim().split('\n').at(-1)})`);
    return null;
  }
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as T;
}

/** Median seconds of PyTorch's step at the same shapes (preset: bench/torch_step.py's, as training-step.ts's PRESETS), or null (with the reason printed). */
export function torchStep(python: string | null, preset: string, B: number, T: number, samples: number): number | null {
  if (!python) return null;
  const out = torchStepScript<{ samples_s: number[] }>(python, `${preset} ${B}x${T}`, ['--preset', preset, '--batch', String(B), '--seq', String(T), '--samples', String(samples)]);
  return out && median(out.samples_s);
}

/** Seconds of PyTorch's epoch over the batches in `file` (bench/epoch.ts writes them), or null (with the reason printed). */
export function torchEpoch(python: string, preset: string, file: string): number | null {
  return torchStepScript<{ epoch_s: number }>(python, `${preset} epoch`, ['--preset', preset, '--batches', file])?.epoch_s ?? null;
}
