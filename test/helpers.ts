// Shared test helpers: the device, seeded data, and comparisons with a
// float64 reference that say where and by how much they differ.

import * as assert from 'uvu/assert';
import { init, gpu } from '../src/gpu/device.js';
import { splitmix32 } from '../src/tensor.js';

/** Opens the device; a missing adapter fails the test loudly (never a skip). */
export async function setupDevice(): Promise<void> {
  await init();
}

/** Uniform values in [-scale, scale) from a seeded generator. */
export function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const next = splitmix32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() / 4294967296 * 2 - 1) * scale;
  return out;
}

export function toF32(x: ArrayLike<number>): Float32Array {
  return Float32Array.from(x);
}

/** Absolute and relative tolerance: |actual - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.unreachable(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${tol.atol}, rtol ${tol.rtol})`);
  }
}

/**
 * Central finite differences of L(x) = sum(f(x) * dOut) with respect to each
 * input, compared with a reference's analytic gradients. f works in float64.
 */
export function checkReferenceGradients(
  f: (inputs: Float64Array[]) => Float64Array,
  inputs: Float64Array[],
  dOut: Float64Array,
  analytic: Float64Array[],
  what: string,
  { h = 1e-6, tol = { atol: 1e-7, rtol: 1e-5 } }: { h?: number; tol?: Tolerance } = {},
): void {
  const loss = (xs: Float64Array[]) => {
    const y = f(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dOut[i];
    return s;
  };
  inputs.forEach((x, k) => {
    const numeric = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const saved = x[i];
      x[i] = saved + h;
      const up = loss(inputs);
      x[i] = saved - h;
      const down = loss(inputs);
      x[i] = saved;
      numeric[i] = (up - down) / (2 * h);
    }
    assertClose(analytic[k], numeric, tol, `${what}: reference gradient of input ${k} vs finite differences`);
  });
}

/**
 * Runs `run` at the runtime's grid-stride workgroup count (CPU drivers: 64), then in 1 and 3
 * workgroups and one invocation per element (a GPU's shape), and hands each later result to
 * `compare` with the first: grid-stride kernels must give the same bits whichever invocation
 * visits an element.
 */
export async function acrossGridStrideCounts<T>(run: () => Promise<T>, compare: (got: T, expected: T, what: string) => void): Promise<void> {
  const runtime = gpu();
  const initial = runtime.gridStrideWorkgroups;
  try {
    const expected = await run();
    for (const count of [1, 3, Infinity]) {
      runtime.gridStrideWorkgroups = count;
      compare(await run(), expected, `with ${count} workgroups (against ${initial})`);
    }
  } finally {
    runtime.gridStrideWorkgroups = initial;
  }
}

/** The error `promise` rejects with; fails the test, naming `what`, when it resolves instead. */
async function rejection(promise: Promise<unknown>, what: string): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  return assert.unreachable(`${what} should fail`) as never;
}

/** Asserts that `promise` rejects with an error `check` accepts. */
export async function rejects(promise: Promise<unknown>, check: (e: Error) => boolean, what: string): Promise<void> {
  const error = await rejection(promise, what);
  assert.ok(check(error), `${what}: ${error.message}`);
}

/** Asserts that `promise` rejects with an error whose message holds every pattern; returns the error. */
export async function rejectsNaming(promise: Promise<unknown>, patterns: (string | RegExp)[], what: string): Promise<Error> {
  const error = await rejection(promise, what);
  for (const p of patterns) assert.ok(typeof p === 'string' ? error.message.includes(p) : p.test(error.message), `${what}: '${error.message}' lacks ${p}`);
  return error;
}
