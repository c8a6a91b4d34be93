// The custom op of examples/custom-op/ (swish, written against the extension
// API): its forward and backward on the GPU against a float64 reference whose
// own gradient is checked by central finite differences on sum(out * dOut)
// with a random dOut; its kernels' contracts against their WGSL; a kernel's
// own code in its pipeline's key; swish inside
// a small model trained by SGD; and the device-sharing path, in a child
// process (examples/custom-op/share-device.ts) with a second device of its own
// from Dawn, so this run's shared device is left as it was.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { checkKernelContract, defineKernel, empty, gpu, linear, mean, mul, add, scale, sum, tensor, tidy, randn, type Kernel } from '../../src/index.js';
import { swish, sgdStep, SWISH_FORWARD, SWISH_BACKWARD, SGD_STEP, SWISH_WGSL } from '../../examples/custom-op/swish.js';
import { assertClose, checkReferenceGradients, randomArray, setupDevice, toF32, type Tolerance } from '../helpers.js';

/** f32 GPU against float64: exp's error (a few ulp) times |x|·σ'(x), which stays below ~0.3. */
const SWISH_TOL: Tolerance = { atol: 1e-6, rtol: 1e-5 };

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const swishRef = (x: Float64Array) => x.map((v) => v * sigmoid(v));
const swishGradRef = (x: Float64Array, dOut: Float64Array) => x.map((v, i) => dOut[i] * sigmoid(v) * (1 + v * (1 - sigmoid(v))));

/** 1000 values (not a multiple of the 256-wide workgroup): uniform in [-6, 6) and extremes where exp over- or underflows in f32. */
function inputs(): Float64Array {
  const x = randomArray(1000, 7, 6);
  x.set([0, -0, 1e-8, -1e-8, 30, -30, 100, -100, 1e4, -1e4, 88.8, -88.8]);
  return x;
}

test("swish's float64 reference gradient matches central finite differences on sum(out * dOut)", () => {
  const x = randomArray(64, 11, 8);
  const dOut = randomArray(64, 12);
  checkReferenceGradients(([v]) => swishRef(v), [x], dOut, [swishGradRef(x, dOut)], 'swish');
});

test('swish forward and backward on the GPU match the float64 reference (extremes and a partial workgroup included)', async () => {
  await setupDevice();
  const xs = inputs();
  const dOut = randomArray(xs.length, 8);
  const [out, dx] = await tidy(() => {
    const x = tensor(toF32(xs), [10, 100], { requiresGrad: true });
    const y = swish(x);
    sum(mul(y, tensor(toF32(dOut), [10, 100]))).backward();
    const reads = [y.readLater(), x.grad!.readLater()];
    x.grad!.dispose(); // a leaf's gradient outlives tidy(); its copy is already recorded
    return reads;
  }).map((read) => read());
  // The reference on the f32-rounded inputs the GPU saw.
  const x32 = Float64Array.from(toF32(xs));
  assertClose(await out, swishRef(x32), SWISH_TOL, 'swish forward');
  assertClose(await dx, swishGradRef(x32, Float64Array.from(toF32(dOut))), SWISH_TOL, 'swish backward');
  for (const v of [...(await out), ...(await dx)]) assert.ok(Number.isFinite(v), `finite, got ${v}`);
});

test("the example's kernels hold their contracts against their own WGSL; a wrong one is reported", () => {
  for (const kernel of [SWISH_FORWARD, SWISH_BACKWARD, SGD_STEP]) assert.equal(checkKernelContract(kernel), [], kernel.entryPoint);
  const retyped = { ...SGD_STEP, uniforms: { lr: 'f32', n: 'u32' } } as Kernel;
  assert.match(checkKernelContract(retyped).join(), /uniform sgd: SgdParams is \{n: u32, lr: f32\}; declared \{lr: f32, n: u32\}/);
  const misbound = { ...SWISH_BACKWARD, storage: ['read', 'write', 'write'] } as Kernel;
  assert.match(checkKernelContract(misbound).join(), /@binding\(2\) dOut is var<storage, read>; declared write/);
});

test("a kernel's own code is part of its pipeline's key; a library shader's name is not free for it", async () => {
  await setupDevice();
  // The same shader name and entry point over other WGSL (out = 2·x·σ(x)): a pipeline of its own, not the cached one.
  const doubled = { ...SWISH_FORWARD, code: SWISH_WGSL.replace('out[i] = v * sigmoid(v);', 'out[i] = 2.0 * v * sigmoid(v);') };
  const created = gpu().pipelines.created;
  const [once, twice] = await Promise.all(tidy(() => {
    const x = tensor([1, -2, 3], [3]);
    return [SWISH_FORWARD, doubled].map((kernel) => {
      const out = empty([3]);
      gpu().dispatch(kernel, { bindings: [x.binding, out.binding], params: { n: 3 }, invocations: 3 });
      return out.readLater();
    });
  }).map((read) => read()));
  assert.ok(gpu().pipelines.created > created, 'a pipeline was created for the other source');
  assertClose(twice, Array.from(once, (v) => 2 * v), SWISH_TOL, 'the other source ran');
  assert.throws(() => defineKernel({ ...SWISH_FORWARD, shader: 'activation' }), /'activation' is a library shader/);
});

test('swish in a model (linear, swish, linear, mean squared error): ten SGD steps lower the loss', async () => {
  await setupDevice();
  // x [16, 4] -> h [16, 8] -> y [16, 1]; the target a fixed nonlinear function of x.
  const xs = randomArray(64, 21, 2);
  const target = Float32Array.from({ length: 16 }, (_, r) => Math.sin(xs[4 * r]) + xs[4 * r + 1] * xs[4 * r + 2]);
  const x = tensor(toF32(xs), [16, 4]);
  const t = tensor(target, [16, 1]);
  const parameters = [
    randn([8, 4], { seed: 1, std: 0.5, requiresGrad: true }), tensor(new Float32Array(8), [8], { requiresGrad: true }),
    randn([1, 8], { seed: 2, std: 0.5, requiresGrad: true }), tensor(new Float32Array(1), [1], { requiresGrad: true }),
  ];
  const [w1, b1, w2, b2] = parameters;
  const losses: number[] = [];
  for (let step = 0; step < 10; step++) {
    const read = tidy(() => {
      const y = linear(swish(linear(x, w1, b1)), w2, b2);
      const d = add(y, scale(t, -1));
      const loss = mean(mul(d, d));
      loss.backward();
      sgdStep(parameters, 0.1);
      return loss.readLater();
    })();
    losses.push((await read)[0]);
  }
  for (const p of [x, t, ...parameters]) p.dispose();
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses[9] < 0.8 * losses[0], `loss ${losses[0]} -> ${losses[9]}`);
});

test("another program's device (useDevice), its buffer read as a tensor, the tensors' buffers read back by plain WebGPU", () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'examples/custom-op/share-device.ts'], { encoding: 'utf8', timeout: 120_000 });
  assert.is(child.status, 0, child.stderr);
  const { adapter, x, out, dx } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { adapter: string; x: number[]; out: number[]; dx: number[] };
  assert.ok(adapter.length > 0, 'adapter name');
  const x64 = Float64Array.from(x);
  assertClose(out, swishRef(x64), SWISH_TOL, 'swish on the shared device');
  assertClose(dx, swishGradRef(x64, new Float64Array(x.length).fill(1)), SWISH_TOL, 'swish backward on the shared device');
});

test.run();
