// The runtime's profiling mode (src/gpu/profile.ts): every dispatch of a tiny
// forward and backward is profiled once, in order, with its family; with the
// mode off the same dispatches are recorded in the passes they were before, and
// the numbers are the same bit for bit either way. A packed upload is one entry,
// a clear another. The panel product's staging, pack and dispatches count as the
// product they compute.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crossEntropy, gelu, linear, randn, tidy, zeros } from '../../src/index.js';
import { gpu } from '../../src/gpu/device.js';
import { matmulVariant, setMatmulPanels } from '../../src/ops/matmul.js';
import type { Profile } from '../../src/gpu/profile.js';
import { setupDevice } from '../helpers.js';

await setupDevice();

/** linear -> GELU -> linear -> cross-entropy, forward and backward; the gradients, and what the runtime counted. */
async function step(profiled: boolean) {
  const runtime = gpu();
  const x = randn([4, 8], { seed: 1, requiresGrad: true });
  const w1 = randn([16, 8], { seed: 2, requiresGrad: true });
  const b1 = randn([16], { seed: 3, requiresGrad: true });
  const w2 = randn([3, 16], { seed: 4, requiresGrad: true });
  const labels = new Int32Array([0, 2, 1, 2]);
  await runtime.sync();
  const before = { dispatches: runtime.dispatchCount, passes: runtime.passCount };
  if (profiled) runtime.startProfile();
  tidy(() => crossEntropy(linear(gelu(linear(x, w1, b1)), w2), labels).backward());
  const profile: Profile | null = profiled ? await runtime.stopProfile() : (await runtime.sync(), null);
  const counted = { dispatches: runtime.dispatchCount - before.dispatches, passes: runtime.passCount - before.passes };
  const grads = await Promise.all([x, w1, b1, w2].map((t) => t.grad!.toArray()));
  for (const t of [x, w1, b1, w2]) {
    t.grad!.dispose();
    t.dispose();
  }
  return { grads, profile, ...counted };
}

test('profiling times every dispatch once, by family, and changes no result', async () => {
  await step(false); // warm-up: backward's seed is uploaded once per device, by the first backward()
  const off = await step(false);
  const on = await step(true);
  const profile = on.profile!;
  const dispatches = profile.entries.filter((e) => e.kind === 'dispatch');
  assert.is(dispatches.length, on.dispatches);
  assert.is(on.dispatches, off.dispatches);
  assert.is(on.passes, on.dispatches, 'one pass per dispatch while profiling');
  const copies = profile.entries.length - dispatches.length;
  assert.ok(off.passes <= copies + 1, `off: ${off.passes} passes for ${off.dispatches} dispatches around ${copies} copies`);
  if (profile.timed) {
    for (const e of profile.entries) assert.ok(e.gpuMs !== null && e.gpuMs >= 0, `${e.name}: ${e.gpuMs} ms`);
    assert.ok(profile.spanMs! >= 0 && profile.gpuMs! >= 0);
  }
  const families = new Set(dispatches.map((e) => e.family));
  for (const f of ['matmul forward', 'matmul dX', 'matmul dW', 'GELU', 'cross-entropy']) assert.ok(families.has(f), `${f} in ${[...families].join(', ')}`);
  assert.ok(families.has('elementwise.scale'), 'other kernels by entry point');
  assert.is(profile.families.reduce((n, f) => n + f.count, 0), profile.entries.length);
  assert.ok(profile.submitGapsMs.length >= 1 && profile.cpuMs >= 0);
  for (let i = 0; i < off.grads.length; i++) {
    assert.equal(new Uint32Array(on.grads[i].buffer), new Uint32Array(off.grads[i].buffer), `gradient ${i} bit for bit`);
  }
});

test('profiling: an uploadAll is one upload of all its bytes, a clear its own entry', async () => {
  const runtime = gpu();
  const t = zeros([8]);
  await runtime.sync();
  runtime.startProfile();
  runtime.uploadAll([{ data: new Float32Array([1, 2, 3]), target: t.buffer }, { data: new Float32Array([4]), target: t.buffer, offset: 16 }]);
  runtime.clear(t.buffer, 4, 8);
  const profile = await runtime.stopProfile();
  assert.equal(profile.entries.map((e) => [e.kind, e.family, e.bytes]), [['upload', 'uploads', 16], ['clear', 'clears', 8]]);
  assert.equal(Array.from(await t.toArray()), [1, 0, 0, 0, 4, 0, 0, 0], 'the clear after the upload zeroed elements 1 and 2');
  t.dispose();
});


// The panel product serves the subgroup variant only.
(matmulVariant() === 'subgroup' ? test : test.skip)('profiling: a linear layer through the panel product is forward, dX and dW like any other', async () => {
  setMatmulPanels(1);
  try {
    const x = randn([24, 32], { seed: 5, requiresGrad: true });
    const w = randn([40, 32], { seed: 6, requiresGrad: true });
    await gpu().sync();
    gpu().startProfile();
    tidy(() => crossEntropy(linear(x, w), new Int32Array(24).map((_, i) => i % 40)).backward());
    const profile = await gpu().stopProfile();
    const families = profile.entries.filter((e) => e.kind === 'dispatch' && /^matmul-(pack|panel|stage)/.test(e.name)).map((e) => `${e.name.split('.')[0].replace(/-\d+x\d+$/, '')} ${e.family}`);
    assert.equal(families, [
      'matmul-pack matmul forward', 'matmul-panel matmul forward',
      'matmul-pack matmul dX', 'matmul-panel matmul dX',
      'matmul-stage matmul dW', 'matmul-pack matmul dW', 'matmul-panel matmul dW',
    ]);
    for (const t of [x, w]) {
      t.grad!.dispose();
      t.dispose();
    }
  } finally {
    setMatmulPanels();
  }
});

test.run();
