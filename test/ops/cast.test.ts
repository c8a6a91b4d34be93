// castToF32 (shaders/cast-f32.wgsl): every one of the 65,536 halves widened exactly.
// castToF16 (shaders/cast.wgsl) against the float64 reference's binary16 rounding (test/ref/cast.ts):
// every value must be the exact nearest half (ties to even), with overflow to ±inf and NaN kept,
// which the loss scaler relies on. The cast has no backward of its own: it is not a graph op;
// linear and matmul under autocast cast inside their forward and backward, and their gradient
// tests (test/ops/matmul-f16.test.ts) cover it there.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor } from '../../src/index.js';
import { castToF16, castToF32 } from '../../src/ops/cast.js';
import { setupDevice, randomArray, toF32 } from '../helpers.js';
import { F16_MAX, f16Round, f16RoundAll } from '../ref/cast.js';

test.before(setupDevice);

test('the reference rounds to binary16: known halves, ties to even, subnormals, overflow', () => {
  assert.is(f16Round(1 / 3), 0.333251953125); // 0x3555
  assert.is(f16Round(F16_MAX), F16_MAX);
  assert.is(f16Round(65519.99), F16_MAX);
  assert.is(f16Round(65520), Infinity); // the tie between 65504 and 2^16 goes to the even (2^16: overflow)
  assert.is(f16Round(-1e6), -Infinity);
  assert.is(f16Round(1 + 2 ** -11), 1); // tie: to the even fraction 0
  assert.is(f16Round(1 + 3 * 2 ** -11), 1 + 2 ** -9); // tie: to the even fraction 2
  assert.is(f16Round(2 ** -24), 2 ** -24); // smallest subnormal
  assert.is(f16Round(2 ** -25), 0); // tie with 0: to the even, 0
  assert.is(f16Round(1.5 * 2 ** -24), 2 * 2 ** -24); // tie: to the even subnormal 2·2^-24
  assert.is(f16Round(2 ** -14 - 2 ** -25), 2 ** -14); // subnormal range rounds up to the smallest normal
  assert.ok(Number.isNaN(f16Round(NaN)));
});

async function castValues(values: ArrayLike<number>): Promise<Float32Array> {
  const x = tensor(toF32(values));
  const h = castToF16(x);
  assert.is(h.dtype, 'f16');
  assert.equal(h.shape, x.shape);
  const out = await h.toArray();
  x.dispose();
  h.dispose();
  return out;
}

test('castToF16: edge values exactly as the reference (ties, subnormals, 65504, overflow to inf, NaN, -0)', async () => {
  const values = [
    1, -1, 1 / 3, 0.1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2048 + 1, 2048 + 3, F16_MAX, 65519.99, 65520, -65520, 1e30, -Infinity, Infinity,
    2 ** -24, 2 ** -25, 1.5 * 2 ** -24, 2.5 * 2 ** -24, 2 ** -14 - 2 ** -25, 1e-10, -0, 0,
  ];
  const out = await castValues(values);
  const expected = f16RoundAll(values);
  values.forEach((v, i) => assert.ok(Object.is(out[i], expected[i]), `cast(${v}) = ${out[i]}, expected ${expected[i]}`));
  const [nan] = await castValues([NaN]);
  assert.ok(Number.isNaN(nan), `cast(NaN) = ${nan}`);
});

test('castToF16: 100,003 values over eight decades (odd length, several workgroups) exactly as the reference', async () => {
  const n = 100_003;
  const u = randomArray(n, 5);
  const sign = randomArray(n, 6);
  // |x| = 10^(-6 .. 2) with a random sign (subnormal and normal halves); every 97th times 700, up to
  // 70,000: halves near 65504 and overflow to inf.
  const values = Float64Array.from(u, (v, i) => Math.sign(sign[i]) * 10 ** (v * 4 - 2) * (i % 97 === 0 ? 700 : 1));
  const out = await castValues(values);
  const expected = f16RoundAll(values);
  for (let i = 0; i < n; i++) {
    if (!Object.is(out[i], expected[i])) assert.unreachable(`element ${i}: cast(${Math.fround(values[i])}) = ${out[i]}, expected ${expected[i]}`);
  }
});

test('castToF16 refuses a tensor that is not f32, naming its dtype', () => {
  const ids = tensor(Int32Array.of(1, 2));
  assert.throws(() => castToF16(ids), /castToF16: expects an f32 tensor, got i32 \[2\]/);
  ids.dispose();
  assert.throws(() => tensor([1, 2], [2], { dtype: 'f16' }), /dtype 'f16' is not created from values \(accepted: 'f32', 'i32'\)/);
});

/** The value of the half with bits h (IEEE 754 binary16). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

test('castToF32 widens every half exactly: ±0, subnormals, normals, ±inf and NaN', async () => {
  const values = Array.from({ length: 65536 }, (_, h) => halfValue(h));
  const x = tensor(toF32(values));
  const h16 = castToF16(x);
  const wide = castToF32(h16);
  assert.is(wide.dtype, 'f32');
  assert.equal(wide.shape, [65536]);
  const got = await wide.toArray();
  for (let h = 0; h < 65536; h++) {
    if (!(Object.is(got[h], values[h]) || (Number.isNaN(values[h]) && Number.isNaN(got[h])))) {
      assert.unreachable(`half 0x${h.toString(16)}: widened to ${got[h]}, expected ${values[h]}`);
    }
  }
  const y = tensor(toF32([1.5, -2, 3]));
  const y16 = castToF16(y);
  const odd = castToF32(y16);
  assert.equal([...(await odd.toArray())], [1.5, -2, 3], 'an odd count of halves');
  assert.throws(() => castToF32(y), /castToF32: expects an f16 tensor, got f32 \[3\]/);
  for (const t of [x, h16, wide, y, y16, odd]) t.dispose();
});

test.run();
