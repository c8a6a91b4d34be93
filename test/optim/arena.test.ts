// The parameter arena (src/optim/arena.ts): parameters, gradients, m and v in a few chunk
// buffers, each tensor a view at an aligned offset. Written as a user writes code: build
// tensors, hand them to AdamW, train; the checks read values back.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, keep, tidy, linear, layerNorm, embedding, mul, add, sum, mean, scale, gpu } from '../../src/index.js';
import { AdamW, clipGradNorm } from '../../src/optim/index.js';
import type { Tensor } from '../../src/tensor.js';
import { sizeClass } from '../../src/gpu/pool.js';
import { setupDevice, randomArray, toF32, assertClose } from '../helpers.js';

// float32 AdamW vs float64 (as adamw.test.ts): each update ≈ lr, a few f32 operations.
const ADAMW_TOL = { atol: 2e-6, rtol: 1e-5 };
// Sum of squares over ~10⁴ elements in f32 with a tree: relative error ~1e-6.
const CLIP_TOL = { atol: 1e-6, rtol: 1e-5 };
const EXACT = { atol: 0, rtol: 0 };

test.before(setupDevice);

function param(data: ArrayLike<number>, shape: number[]): Tensor {
  return keep(tensor(toF32(data), shape, { requiresGrad: true }));
}

/** backward() of Σ p·g over the parameters: each p.grad receives exactly g (summed into what it holds). */
function backwardWith(params: readonly Tensor[], grads: readonly ArrayLike<number>[]): void {
  tidy(() => {
    const terms = params.flatMap((p, i) => (grads[i] ? [sum(mul(p, tensor(toF32(grads[i]), p.shape)))] : []));
    terms.reduce((a, b) => add(a, b)).backward();
  });
}

/** torch.optim.AdamW for one tensor, float64 (amsgrad off). */
function adamwRef(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, t: number, lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
  }
}

test('parameters move into the arena as views at aligned offsets: same objects, same values, their own buffers freed', async () => {
  const values = [randomArray(91, 1), randomArray(13, 2), randomArray(300, 3)];
  const params = [param(values[0], [7, 13]), param(values[1], [13]), param(values[2], [300])];
  const pool = gpu().pool;
  const before = pool.snapshot().bytesInUse;
  const opt = new AdamW(params);
  const align = gpu().device.limits.minStorageBufferOffsetAlignment;
  assert.ok(params.every((p) => p.buffer === params[0].buffer), 'one chunk buffer');
  assert.equal(params.map((p) => p.byteOffset % align), [0, 0, 0]);
  assert.ok(params[1].byteOffset >= params[0].byteLength && params[2].byteOffset >= params[1].byteOffset + params[1].byteLength, 'no overlap');
  for (const [i, p] of params.entries()) assertClose(await p.toArray(), toF32(values[i]), EXACT, `parameter ${i} after the move`);
  // The three own buffers went; the chunk came, plus gradient, m and v chunks of its size.
  const chunkBytes = params[2].byteOffset + params[2].byteLength;
  const ownBytes = params.reduce((n, p) => n + sizeClass(p.byteLength), 0);
  assert.is(pool.snapshot().bytesInUse - before, 4 * chunkBytes - ownBytes, 'memory: parameter, gradient, m and v chunks in place of the parameters\' own buffers');
  params[1].assign(new Float32Array(13).fill(5)); // writes into the view, not its neighbours
  assertClose(await params[1].toArray(), new Float32Array(13).fill(5), EXACT, 'assign into a view');
  assertClose(await params[2].toArray(), toF32(values[2]), EXACT, 'the neighbour is untouched');
  opt.dispose();
  for (const p of params) p.dispose();
});

test.run();
