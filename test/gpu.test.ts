// The device layer: the shared device and its limits, the pipeline cache, the
// buffer pool, packed uploads and clears, a device handed in by another project,
// and a lost device.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { getDevice, gpu, tensor, scale, tidy } from '../src/index.js';
import { sizeClass } from '../src/gpu/pool.js';
import { MAX_COMMANDS_PER_SUBMISSION } from '../src/gpu/runtime.js';
import { declaredKernels, kernelName } from '../src/gpu/pipelines.js';
import { setupDevice } from './helpers.js';

test.before(setupDevice);

test('one shared device, with the adapter\'s storage limits (BERT-base\'s 89 MB embedding fits)', async () => {
  const device = await getDevice();
  assert.is(await getDevice(), device);
  assert.ok(device.limits.maxStorageBufferBindingSize >= 28996 * 768 * 4, `maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}`);
  assert.ok(gpu().adapter.name.length > 0);
});

test('pipelines are cached by exactly what created them', () => {
  const cache = gpu().pipelines;
  const kernel = declaredKernels().find((k) => kernelName(k) === 'matmul.matmul_simple')!;
  const a = cache.get(kernel, { TRANS_A: 0, TRANS_B: 1, HAS_BIAS: 0 });
  assert.is(cache.get({ ...kernel }, { HAS_BIAS: 0, TRANS_B: 1, TRANS_A: 0 }), a, 'same kernel, same constants in another order');
  assert.is.not(cache.get(kernel, { TRANS_A: 1, TRANS_B: 1, HAS_BIAS: 0 }), a, 'other constants, other pipeline');
  assert.throws(() => cache.get({ ...kernel, shader: 'no-such-shader' }), /no shader shaders\/no-such-shader\.wgsl/);
});

test('the pool reuses buffers by size class', () => {
  assert.is(sizeClass(1), 256);
  assert.is(sizeClass(1000), 1024);
  assert.is(sizeClass(1025), 1280);
  const pool = gpu().pool;
  const before = pool.snapshot();
  const b = pool.acquire(3000);
  pool.release(b);
  const again = pool.acquire(2900);
  assert.is(again, b, 'same size class, same buffer');
  pool.release(again);
  assert.is(pool.snapshot().bytesInUse, before.bytesInUse);
});

test('a recording past maxCommandsPerSubmission is submitted in parts, in order: uploads, uniforms and readbacks stay right', async () => {
  const runtime = gpu();
  await runtime.sync();
  runtime.maxCommandsPerSubmission = 2;
  try {
    const submits = runtime.submitCount;
    const read = tidy(() => {
      let x = tensor([1, 2, 3], [3]);
      for (let i = 2; i <= 6; i++) x = scale(x, i); // each dispatch its own uniforms
      const early = runtime.recordReadback(x.buffer, 12, x.byteOffset);
      return { early, last: scale(tensor([1, 1, 1], [3]), 0.5) };
    });
    runtime.flush();
    assert.ok(runtime.submitCount - submits >= 4, `${runtime.submitCount - submits} submissions`);
    assert.equal(Array.from(new Float32Array(await read.early())), [720, 1440, 2160]);
    assert.equal(Array.from(await read.last.toArray()), [0.5, 0.5, 0.5]);
    read.last.dispose();
  } finally {
    runtime.maxCommandsPerSubmission = MAX_COMMANDS_PER_SUBMISSION;
  }
});

test('uploadAll: several arrays through one staging buffer, each at its target and offset; clear() zeroes a range with nothing uploaded', async () => {
  const runtime = gpu();
  const [a, b] = [tensor(new Float32Array(6).fill(-1), [6]), tensor(new Int32Array(4).fill(-1), [4], { dtype: 'i32' })];
  await runtime.sync();
  const before = runtime.counts();
  runtime.uploadAll([
    { data: new Float32Array([1, 2, 3]), target: a.buffer, offset: 8 },
    { data: new Int32Array([7, 8]), target: b.buffer },
    { data: new Float32Array(0), target: b.buffer }, // nothing to copy
    { data: new Float32Array([9]), target: a.buffer },
  ]);
  runtime.clear(b.buffer, 12, 4);
  const counted = runtime.countsSince(before);
  assert.equal(Array.from(await a.toArray()), [9, -1, 1, 2, 3, -1]);
  assert.equal(Array.from(await b.toInt32Array()), [7, 8, -1, 0]);
  assert.equal({ uploads: counted.uploads, clears: counted.clears, submissions: counted.submissions }, { uploads: 1, clears: 1, submissions: 0 });
  assert.throws(() => runtime.uploadAll([{ data: new Int32Array([1]), target: b.buffer }, { data: new Int32Array([1]), target: b.buffer, offset: 6 }]), /uploadAll: part 1's target offset 6 is not a multiple of 4/);
  a.dispose();
  b.dispose();
});

test('a dispatch takes exactly one of invocations, elements or workgroups: two, or none, are refused naming the kernel', () => {
  const kernel = declaredKernels().find((k) => kernelName(k) === 'elementwise.scale')!;
  const [x, out] = [tensor([1, 2, 3, 4]), tensor([0, 0, 0, 0])];
  const base = { bindings: [x.binding, out.binding], params: { n: 4, alpha: 2 } };
  const before = gpu().dispatchCount;
  assert.throws(() => gpu().dispatch(kernel, { ...base, invocations: 4, elements: 4 } as never), /elementwise\.scale: a dispatch takes exactly one of invocations, elements or workgroups; got invocations and elements/);
  assert.throws(() => gpu().dispatch(kernel, base as never), /elementwise\.scale: a dispatch takes exactly one of invocations, elements or workgroups; got none/);
  assert.is(gpu().dispatchCount, before, 'nothing recorded');
  x.dispose();
  out.dispose();
});

test('timestamp queries time the recorded passes where the adapter has them', async () => {
  const runtime = gpu();
  const x = tensor(new Float32Array(1 << 16).fill(1), [1 << 16]);
  if (!runtime.startTimestamps()) {
    assert.not.ok(runtime.features.has('timestamp-query'));
    return;
  }
  tidy(() => void scale(scale(x, 2), 3));
  const ms = await runtime.stopTimestamps();
  assert.ok(Number.isFinite(ms) && ms > 0, `GPU time ${ms} ms`);
  assert.not.throws(() => runtime.flush());
  x.dispose();
});

test('a device handed in with useDevice() works; once lost, the next operation says so', () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/lost-device.ts'], { encoding: 'utf8', timeout: 120_000 });
  assert.is(child.status, 0, child.stderr);
  assert.match(child.stdout, /before: 2,4,6 on a GPUBuffer/);
  assert.match(child.stdout, /after: WebGPU device was lost/);
});

test.run();
