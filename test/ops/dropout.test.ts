import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, sum, mul, gpu } from '../../src/index.js';
import { dropout } from '../../src/ops/dropout.js';
import { philox4x32, dropoutKeepMask } from '../../src/ops/random.js';
import { setupDevice, randomArray, toF32, assertClose, checkReferenceGradients } from '../helpers.js';
import { dropoutRef } from '../ref/dropout.js';

// Kept values are x * (1 / (1 - p)) in float32: one rounding of the product.
const DROPOUT_TOL = { atol: 0, rtol: 2e-7 };

test.before(setupDevice);

/** dropout on the GPU, backpropagating sum(y * dOut); returns y and dx. */
async function runDropout(x: Float32Array, p: number, seed: number, stream: number, dOut: Float32Array): Promise<[Float32Array, Float32Array]> {
  const X = tensor(x, [x.length], { requiresGrad: true });
  const y = tidy(() => {
    const y = dropout(X, p, { seed, stream });
    sum(mul(y, tensor(dOut, [x.length]))).backward();
    return y;
  });
  const result: [Float32Array, Float32Array] = [await y.toArray(), await X.grad!.toArray()];
  for (const t of [X, X.grad!, y]) t.dispose();
  return result;
}

test('Philox-4x32-10 matches the Random123 known-answer vectors', () => {
  const hex = (w: number[]) => w.map((x) => x.toString(16).padStart(8, '0')).join(' ');
  assert.is(hex(philox4x32([0, 0, 0, 0], [0, 0])), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
  assert.is(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])), '408f276d 41c83b0e a20bc7c6 6d5451fd');
  assert.is(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])), 'd16cfe09 94fdcceb 5001e420 24126ea1');
});

test('dropout reference gradient matches finite differences', () => {
  const keep = dropoutKeepMask(20, 0.3, 7, 1);
  const x = randomArray(20, 1);
  checkReferenceGradients(([x]) => dropoutRef(x, keep, 0.3), [x], randomArray(20, 2), [dropoutRef(randomArray(20, 2), keep, 0.3)], 'dropout');
});

test('dropout on the GPU keeps exactly the CPU Philox mask; backward regenerates it', async () => {
  const n = 1001; // not a multiple of the 4 words per Philox block
  const p = 0.25;
  const x = toF32(randomArray(n, 3).map((v) => v + (v >= 0 ? 0.5 : -0.5))); // no zeros in x
  const dOut = toF32(randomArray(n, 4));
  const keep = dropoutKeepMask(n, p, 1234, 9);
  const [y, dx] = await runDropout(x, p, 1234, 9, dOut);
  assertClose(y, dropoutRef(Float64Array.from(x), keep, p), DROPOUT_TOL, 'dropout forward');
  assertClose(dx, dropoutRef(Float64Array.from(dOut), keep, p), DROPOUT_TOL, 'dropout dx');
  for (let i = 0; i < n; i++) assert.ok((y[i] === 0) === (dx[i] === 0), `element ${i}: y ${y[i]}, dx ${dx[i]}`);
});

test('dropout keeps a fraction 1 - p of 10^6 elements (within 5 standard deviations)', async () => {
  const n = 1_000_000;
  for (const p of [0.1, 0.5]) {
    const [y] = await runDropout(new Float32Array(n).fill(1), p, 42, 3, new Float32Array(n));
    const kept = y.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(kept - n * (1 - p)) < 5 * sd, `p = ${p}: kept ${kept} of ${n}, expected ${n * (1 - p)} ± ${5 * sd}`);
    assert.ok(y.every((v) => v === 0 || v === Math.fround(1 / (1 - p))), `p = ${p}: kept values are 1 / (1 - p)`);
  }
});

test('same (seed, stream) gives the same bits; another stream or seed another mask', async () => {
  const n = 4096;
  const x = new Float32Array(n).fill(1);
  const zero = new Float32Array(n);
  const [a] = await runDropout(x, 0.5, 7, 1, zero);
  const [b] = await runDropout(x, 0.5, 7, 1, zero);
  const [c] = await runDropout(x, 0.5, 7, 2, zero);
  const [d] = await runDropout(x, 0.5, 8, 1, zero);
  assert.equal(Array.from(a), Array.from(b), 'same seed and stream');
  for (const [other, what] of [[c, 'stream'], [d, 'seed']] as const) {
    const differ = a.reduce((s, v, i) => s + (v !== other[i] ? 1 : 0), 0);
    // Independent masks at p = 0.5 differ on half the elements (sd 32).
    assert.ok(Math.abs(differ - n / 2) < 5 * 32, `another ${what}: ${differ} of ${n} differ`);
  }
});

test('p = 0 returns x itself and records no kernel', () => {
  const x = tensor(new Float32Array(8), [2, 4], { requiresGrad: true });
  const before = gpu().dispatchCount;
  assert.is(dropout(x, 0, { seed: 1, stream: 1 }), x);
  assert.is(gpu().dispatchCount, before);
  x.dispose();
});

test('dropout rejects p outside [0, 1) and non-u32 seeds or streams', () => {
  const x = tensor(new Float32Array(4), [4]);
  assert.throws(() => dropout(x, 1, { seed: 1, stream: 1 }), /probability 1 is outside \[0, 1\)/);
  assert.throws(() => dropout(x, -0.1, { seed: 1, stream: 1 }), /outside/);
  assert.throws(() => dropout(x, 0.1, { seed: 1.5, stream: 1 }), /seed 1.5 is not an integer/);
  assert.throws(() => dropout(x, 0.1, { seed: 1, stream: -1 }), /stream -1 is not an integer/);
  x.dispose();
});

test.run();
