// linear over a list of weights and biases: torch's linear(x, cat(weights), cat(biases)), one
// product. Packed (back to back in one buffer: packTensors, an arena) it reads them in place;
// otherwise it gathers a copy. Either way each output column is the same sum, in the same order, as
// the separate linear's, so y, dW and db match separate linears bit for bit; dX (one sum over all
// outputs instead of three added) is checked against the float64 reference.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, linear, sum, mul } from '../../src/index.js';
import { Tensor, packTensors, packedView } from '../../src/tensor.js';
import { AdamW } from '../../src/optim/index.js';
import { setupDevice, randomArray, toF32, assertClose } from '../helpers.js';
import { matmulRef } from '../ref/matmul.js';

test.before(setupDevice);

const ROWS = 10;
const IN = 16;
const OUTS = [32, 32, 64]; // weights [32, 16] are 2 KiB (bindable back to back), biases [32] are 128 B (not)

function parts(seed: number) {
  const weights = OUTS.map((o, i) => tensor(toF32(randomArray(o * IN, seed + i, 0.5)), [o, IN], { requiresGrad: true }));
  const biases = OUTS.map((o, i) => tensor(toF32(randomArray(o, seed + 10 + i, 0.5)), [o], { requiresGrad: true }));
  return { weights, biases };
}

const OUT = OUTS.reduce((a, b) => a + b, 0);
const G = randomArray(ROWS * OUT, 99); // dLoss/dy

/** Columns [c0, c0 + n) of a row-major [ROWS, OUT] array. */
function cols(a: ArrayLike<number>, c0: number, n: number): Float32Array {
  const out = new Float32Array(ROWS * n);
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < n; c++) out[r * n + c] = a[r * OUT + c0 + c];
  return out;
}
const START = OUTS.map((_, i) => OUTS.slice(0, i).reduce((a, b) => a + b, 0));

/** Loss Σ y·G: y (as each part's columns) and every gradient, from the packed linear (one call) or from one linear per part. */
async function run(x: Tensor, weights: Tensor[], biases: Tensor[], oneCall: boolean) {
  const ys = tidy(() => {
    if (oneCall) {
      const y = linear(x, weights, biases);
      sum(mul(y, tensor(toF32(G), [ROWS, OUT]))).backward();
      return [y];
    }
    return weights.map((w, i) => {
      const y = linear(x, w, biases[i]);
      sum(mul(y, tensor(cols(G, START[i], OUTS[i]), [ROWS, OUTS[i]]))).backward();
      return y;
    });
  });
  const values = await Promise.all(ys.map((t) => t.toArray()));
  const y = oneCall ? OUTS.map((n, i) => Array.from(cols(values[0], START[i], n))) : values.map((v) => Array.from(v));
  const read = async (t: Tensor | null) => (t ? Array.from(await t.toArray()) : null);
  for (const t of ys) t.dispose();
  return { y, dx: await x.grad!.toArray(), dW: await Promise.all(weights.map((w) => read(w.grad))), db: await Promise.all(biases.map((b) => read(b.grad))) };
}

for (const layout of ['packed', 'apart'] as const) {
  test(`linear(x, [w1, w2, w3], [b1, b2, b3]) with the parts ${layout === 'packed' ? 'back to back in one buffer' : 'in buffers of their own'}: the separate linears' y, dW and db bit for bit, dX as the reference`, async () => {
    const xData = randomArray(ROWS * IN, 7);
    const x1 = tensor(toF32(xData), [ROWS, IN], { requiresGrad: true });
    const x2 = tensor(toF32(xData), [ROWS, IN], { requiresGrad: true });
    const a = parts(1);
    const b = parts(1);
    if (layout === 'packed') {
      assert.ok(packTensors(a.weights), 'weights of 2 KiB each pack');
      assert.not.ok(packTensors(a.biases), 'biases of 128 bytes each do not (each must stay bindable)');
      assert.ok(packedView(a.weights, [128, IN]), 'packed weights read as one [128, 16]');
    } else {
      assert.is(packedView(a.weights, [128, IN]), null);
    }
    const fused = await run(x1, a.weights, a.biases, true);
    const apart = await run(x2, b.weights, b.biases, false);
    assert.equal(fused.y, apart.y, 'y');
    assert.equal(fused.dW, apart.dW, 'dW');
    assert.equal(fused.db, apart.db, 'db');
    // dX = g·W over all 128 outputs.
    const wAll = (await Promise.all(a.weights.map((w) => w.toArray()))).flatMap((t) => Array.from(t));
    const dxRef = matmulRef(Float64Array.from(toF32(G)), Float64Array.from(wAll), { batch: 1, M: ROWS, N: IN, K: OUT });
    assertClose(fused.dx!, dxRef, { atol: 1e-5, rtol: 1e-5 }, 'dX');
    for (const t of [x1, x2, ...a.weights, ...a.biases, ...b.weights, ...b.biases]) t.dispose();
  });
}

test('linear over packed weights in an AdamW arena writes dW straight into the gradient slots, and a step gives the separate layers\' update', async () => {
  const xData = randomArray(ROWS * IN, 3);
  const results: number[][][] = [];
  for (const packed of [true, false]) {
    const { weights, biases } = parts(5);
    // Weights and biases in groups of their own, as Hugging Face's decay / no-decay groups: the weights lie back to back in their chunk.
    const opt = new AdamW([{ params: weights }, { params: biases, weightDecay: 0 }], { lr: 1e-2 });
    if (packed) assert.ok(packedView(weights, [128, IN]), 'the arena lays a group\'s weights back to back');
    const x = tensor(toF32(xData), [ROWS, IN]);
    tidy(() => {
      const y = packed ? linear(x, weights, biases) : null;
      if (y) sum(mul(y, y)).backward();
      else {
        for (let i = 0; i < 3; i++) {
          const yi = linear(x, weights[i], biases[i]);
          sum(mul(yi, yi)).backward();
        }
      }
    });
    if (packed) {
      for (const w of weights) assert.ok(w.grad!.buffer === w.gradSlot!.buffer && w.grad!.byteOffset === w.gradSlot!.byteOffset, 'the gradient is the slot itself');
    }
    opt.step();
    results.push(await Promise.all([...weights, ...biases].map(async (p) => Array.from(await p.toArray()))));
    x.dispose();
    opt.dispose();
    for (const p of [...weights, ...biases]) p.dispose();
  }
  assert.equal(results[0], results[1]);
});

test('an AdamW arena keeps packed weights back to back whatever order it gets them in (model.parameters() interleaves weights and biases)', async () => {
  const { weights, biases } = parts(9);
  assert.ok(packTensors(weights));
  const values = await Promise.all(weights.map((w) => w.toArray()));
  const opt = new AdamW(weights.flatMap((w, i) => [w, biases[i]]), { lr: 1e-2 });
  assert.ok(packedView(weights, [128, IN]), 'still one [128, 16] after moving into the arena');
  assert.ok(weights.every((w) => w.buffer === biases[0].buffer), 'in the one chunk with the biases');
  assert.equal(await Promise.all(weights.map((w) => w.toArray())), values, 'values moved with them');
  opt.dispose();
  for (const p of [...weights, ...biases]) p.dispose();
});

test('linear refuses a list of weights with different input sizes, and biases that do not match the weights', () => {
  const x = tensor(new Float32Array(2 * 4), [2, 4]);
  const w1 = tensor(new Float32Array(3 * 4), [3, 4]);
  const w2 = tensor(new Float32Array(3 * 5), [3, 5]);
  const b1 = tensor(new Float32Array(3), [3]);
  assert.throws(() => linear(x, [w1, w2]), /weight f32 \[3, 4\], f32 \[3, 5\] \(expects f32 \[out, 4\]\)/);
  assert.throws(() => linear(x, [w1, w1], [b1]), /one \[out\] per weight/);
  assert.throws(() => linear(x, []), /\(none\)/);
  for (const t of [x, w1, w2, b1]) t.dispose();
});

test.run();
