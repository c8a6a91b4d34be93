// GradScaler (src/optim/grad-scaler.ts) as torch.amp.GradScaler: torch's defaults, growth after
// growthInterval good steps, backoff on inf/NaN, the state round trip; the GPU check and unscale
// on real gradients (an injected inf or NaN found, as torch's tests fill a gradient with inf).
// No Node API and no float16 product: these run in the browser page too (test/browser). The
// overflowed training step (weights and AdamW state untouched) is in test/train/fp16.test.ts.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, keep, linear, sum, mul, tidy, gpu } from '../../src/index.js';
import { AdamW, GradScaler, clipGradNorm } from '../../src/optim/index.js';
import type { Tensor } from '../../src/tensor.js';
import { setupDevice, randomArray, toF32 } from '../helpers.js';

test.before(setupDevice);

test("torch's defaults: scale 2^16, growth 2, backoff 0.5, interval 2000; bad options are refused by name", () => {
  const s = new GradScaler();
  assert.equal(s.stateDict(), { scale: 65536, growth_factor: 2, backoff_factor: 0.5, growth_interval: 2000, _growth_tracker: 0 });
  assert.throws(() => new GradScaler({ initScale: 0 }), /GradScaler: initScale must be a finite number > 0, got 0/);
  assert.throws(() => new GradScaler({ growthFactor: 1 }), /growthFactor must be a finite number > 1/);
  assert.throws(() => new GradScaler({ backoffFactor: 1 }), /backoffFactor must be a number in \(0, 1\)/);
  assert.throws(() => new GradScaler({ growthInterval: 2.5 }), /growthInterval must be an integer >= 1, got 2.5/);
  // torch's spelling is taken; an option it does not know, or torch's device argument, is refused.
  assert.equal(new GradScaler({ init_scale: 1024, growth_interval: 10 }).stateDict(), { scale: 1024, growth_factor: 2, backoff_factor: 0.5, growth_interval: 10, _growth_tracker: 0 });
  assert.throws(() => new GradScaler({ initscale: 1024 } as never), /GradScaler: unknown option 'initscale'; known options: initScale \(init_scale\)/);
  assert.throws(() => new GradScaler('cuda' as never), /GradScaler: options must be an object, got "cuda"/);
});

test("enabled: false, as torch's GradScaler(enabled=args.fp16): scale() is the loss, step() the optimizer's, getScale() 1", async () => {
  const run = async (scaler: GradScaler | null) => {
    const { w, b, loss } = layer(120);
    const opt = new AdamW([w, b], { lr: 0.01 });
    for (let t = 0; t < 2; t++) {
      if (scaler) {
        tidy(() => {
          const l = loss();
          const scaled = scaler.scale(l);
          assert.is(scaled, l, 'the loss itself');
          scaled.backward();
        });
        await scaler.unscale(opt);
        assert.is(await scaler.step(opt), true);
        scaler.update();
      } else {
        tidy(() => loss().backward());
        opt.step();
      }
      opt.zeroGrad();
    }
    const params = [await w.toArray(), await b.toArray()];
    opt.dispose();
    for (const t of [w, b]) t.dispose();
    return params;
  };
  const scaler = new GradScaler({ enabled: false });
  assert.is(scaler.getScale(), 1);
  const [plain, disabled] = [await run(null), await run(scaler)];
  disabled.forEach((p, k) => assert.ok(p.every((v, i) => Object.is(v, plain[k][i])), `parameter ${k} differs`));
  assert.is(scaler.getScale(), 1, 'still 1 after update()');
  assert.throws(() => new GradScaler({ enabled: 'no' } as never), /enabled must be true or false, got "no"/);
});

test('the scale grows after growthInterval good steps in a row and backs off (tracker reset) on inf', () => {
  const s = new GradScaler();
  for (let i = 0; i < 1999; i++) s.update(false);
  assert.is(s.getScale(), 65536);
  assert.is(s.growthTracker, 1999);
  s.update(false);
  assert.is(s.getScale(), 131072); // 2000 good steps: doubled
  assert.is(s.growthTracker, 0);
  for (let i = 0; i < 1500; i++) s.update(false);
  s.update(true);
  assert.is(s.getScale(), 65536); // backed off, and the 1500 good steps no longer count
  assert.is(s.growthTracker, 0);
  for (let i = 0; i < 1999; i++) s.update(false);
  assert.is(s.getScale(), 65536);
  s.update(true);
  s.update(true);
  assert.is(s.getScale(), 16384);
});

test('state round trip: stateDict -> JSON -> loadStateDict continues the same sequence; a bad state is refused', () => {
  const a = new GradScaler({ growthInterval: 3 });
  a.update(true);
  a.update(false);
  a.update(false);
  const b = new GradScaler();
  b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
  assert.equal(b.stateDict(), { scale: 32768, growth_factor: 2, backoff_factor: 0.5, growth_interval: 3, _growth_tracker: 2 });
  a.update(false);
  b.update(false);
  assert.equal(b.stateDict(), a.stateDict());
  assert.is(b.getScale(), 65536);
  assert.throws(() => b.loadStateDict({ ...a.stateDict(), _growth_tracker: 3 }), /_growth_tracker must be an integer in \[0, 3\), got 3/);
  assert.throws(() => b.loadStateDict({ ...a.stateDict(), scale: -1 }), /initScale must be a finite number > 0, got -1/);
});

/** Gradients of sum(linear(x, W, b)) scaled by the scaler's loss scale. */
function scaledGradients(scaler: GradScaler, w: Tensor, b: Tensor): void {
  const x = tensor(toF32(randomArray(5 * 4, 71)), [5, 4]);
  tidy(() => scaler.scale(sum(linear(x, w, b))).backward());
  x.dispose();
}

test('unscaleAndCheck: scaled gradients come back exactly unscaled (a power-of-two scale), no overflow found', async () => {
  const w = keep(tensor(toF32(randomArray(3 * 4, 72)), [3, 4], { requiresGrad: true }));
  const b = keep(tensor(toF32(randomArray(3, 73)), [3], { requiresGrad: true }));
  const plain = new GradScaler({ initScale: 1 });
  scaledGradients(plain, w, b);
  const [gw, gb] = [await w.grad!.toArray(), await b.grad!.toArray()];
  w.grad!.dispose();
  b.grad!.dispose();
  w.grad = b.grad = null;
  const scaler = new GradScaler();
  scaledGradients(scaler, w, b);
  assert.is((await b.grad!.toArray())[0], gb[0] * 65536);
  assert.is(await scaler.unscaleAndCheck([w, b]), false);
  assert.equal(await w.grad!.toArray(), gw);
  assert.equal(await b.grad!.toArray(), gb);
  for (const t of [w, b, w.grad!, b.grad!]) t.dispose();
  scaler.dispose();
  plain.dispose();
});

test('unscaleAndCheck finds an injected inf or NaN in any one gradient, and the flag resets for the next step', async () => {
  const scaler = new GradScaler();
  const clean = keep(tensor(toF32(randomArray(1000, 74)), [1000], { requiresGrad: true }));
  const poisoned = keep(tensor(toF32(randomArray(7, 75)), [7], { requiresGrad: true }));
  const grads = (bad: number) => {
    clean.grad?.dispose();
    poisoned.grad?.dispose();
    clean.grad = tensor(toF32(randomArray(1000, 76)), [1000]);
    const g = toF32(randomArray(7, 77));
    g[5] = bad;
    poisoned.grad = tensor(g, [7]);
  };
  for (const bad of [Infinity, -Infinity, NaN]) {
    grads(bad);
    assert.is(await scaler.unscaleAndCheck([clean, poisoned]), true, `${bad} found`);
  }
  grads(1e30); // finite, however large
  assert.is(await scaler.unscaleAndCheck([clean, poisoned]), false);
  // The kernel reads vec4s: an inf in the buffer just past a gradient's end is not the gradient's.
  poisoned.grad!.dispose();
  const padded = toF32(randomArray(8, 78));
  padded[7] = Infinity;
  const whole = tensor(padded, [8]);
  poisoned.grad = whole.viewAt(0, [7]);
  assert.is(await scaler.unscaleAndCheck([clean, poisoned]), false, 'inf past the end');
  assert.equal(Array.from(await whole.toArray()).slice(7), [Infinity], 'past the end untouched');
  for (const t of [clean, poisoned, clean.grad!, poisoned.grad!, whole]) t.dispose();
  scaler.dispose();
});

test('check() finds what unscaleAndCheck() finds, leaving the gradients scaled; AdamW.step({ gradScale }) after it gives the bits of unscaleAndCheck() then step()', async () => {
  const sizes = [5000, 3, 4097, 1, 1000];
  const run = async (fused: boolean) => {
    const params = sizes.map((n, i) => keep(tensor(toF32(randomArray(n, 90 + i)), [n], { requiresGrad: true })));
    const opt = new AdamW(params, { lr: 0.01, chunkElements: 5000 }); // 3 chunks, parameter 3 without a gradient
    const scaler = new GradScaler({ initScale: 3 }); // not a power of two: the products are rounded, the same ones either way
    const gs = sizes.map((n, i) => toF32(randomArray(n, 95 + i, 3e3)));
    const norms: number[] = [];
    for (let t = 0; t < 2; t++) {
      tidy(() => params.forEach((p, i) => {
        if (i !== 3) p.grad = tensor(gs[i], p.shape); // copied into the arena slot
      }));
      const gradScale = 1 / scaler.getScale();
      const before = gpu().dispatchCount;
      assert.is(await (fused ? scaler.check(params) : scaler.unscaleAndCheck(params)), false);
      assert.is(gpu().dispatchCount - before, 3, 'one check per chunk');
      if (fused) assert.equal(await params[2].grad!.toArray(), gs[2], 'check() leaves the gradients as they were');
      const norm = (fused ? opt.step({ maxGradNorm: 1, gradScale }) : opt.step({ maxGradNorm: 1 }))!;
      norms.push(await norm.item());
      norm.dispose();
      opt.zeroGrad();
    }
    const out = { norms, params: await Promise.all(params.map((p) => p.toArray())) };
    opt.dispose();
    scaler.dispose();
    for (const p of params) p.dispose();
    return out;
  };
  const [apart, fused] = [await run(false), await run(true)];
  assert.equal(fused.norms, apart.norms, 'norms of the unscaled gradients');
  assert.ok(apart.norms[0] > 1, 'the gradients are clipped');
  fused.params.forEach((p, k) => assert.ok(p.every((v, i) => Object.is(v, apart.params[k][i])), `parameter ${k} differs`));
  // check() flags an inf as unscaleAndCheck() does.
  const w = keep(tensor(new Float32Array(5), [5], { requiresGrad: true }));
  w.grad = tensor(Float32Array.of(1, 2, Infinity, 4, 5), [5]);
  const scaler = new GradScaler();
  assert.is(await scaler.check([w]), true);
  assert.equal(Array.from(await w.grad!.toArray()), [1, 2, Infinity, 4, 5]);
  for (const t of [w.grad!, w]) t.dispose();
  scaler.dispose();
});

/** A linear layer's W and b, kept, with their loss for one step: sum(linear(x, W, b)²). */
function layer(seed: number): { w: Tensor; b: Tensor; loss: () => Tensor } {
  const w = keep(tensor(toF32(randomArray(3 * 4, seed)), [3, 4], { requiresGrad: true }));
  const b = keep(tensor(toF32(randomArray(3, seed + 1)), [3], { requiresGrad: true }));
  const x = keep(tensor(toF32(randomArray(5 * 4, seed + 2)), [5, 4]));
  return { w, b, loss: () => { const y = linear(x, w, b); return sum(mul(y, y)); } };
}

test("torch's loop: scaler.scale(loss).backward(); await scaler.step(optimizer); scaler.update() gives the unscaled run's bits", async () => {
  const run = async (scaled: boolean) => {
    const { w, b, loss } = layer(120);
    const opt = new AdamW([w, b], { lr: 0.01 });
    const scaler = new GradScaler({ growthInterval: 2 });
    for (let t = 0; t < 3; t++) {
      if (scaled) {
        tidy(() => scaler.scale(loss()).backward());
        assert.is(await scaler.step(opt, { maxGradNorm: 1 }), true, 'a finite step is taken');
        scaler.update();
      } else {
        tidy(() => loss().backward());
        opt.step({ maxGradNorm: 1 })?.dispose();
      }
      opt.zeroGrad();
    }
    const out = { params: [await w.toArray(), await b.toArray()], scale: scaler.getScale(), tracker: scaler.growthTracker };
    opt.dispose();
    scaler.dispose();
    for (const t of [w, b]) t.dispose();
    return out;
  };
  const [plain, scaled] = [await run(false), await run(true)];
  scaled.params.forEach((p, k) => assert.ok(p.every((v, i) => Object.is(v, plain.params[k][i])), `parameter ${k} differs`));
  assert.equal([scaled.scale, scaled.tracker], [2 ** 17, 1], 'grown once after 2 good steps, 1 more counted');
});

test("torch's loop typed without await: update() says to await step() first (it said step() had not been called)", async () => {
  const { w, b, loss } = layer(121);
  const opt = new AdamW([w, b], { lr: 0.01 });
  const scaler = new GradScaler();
  tidy(() => scaler.scale(loss()).backward());
  const stepping = scaler.step(opt);
  assert.throws(() => scaler.update(), /GradScaler\.update: step\(\) is still waiting for its inf check; await it first \(const stepped = await scaler\.step\(optimizer\)\), then update\(\)/);
  assert.is(await stepping, true);
  scaler.update(); // once awaited, as torch's loop
  assert.is(scaler.growthTracker, 1);
  opt.dispose();
  scaler.dispose();
  for (const t of [w, b]) t.dispose();
});

test('scaler.step skips an overflowed step (parameters untouched) and update() backs off; another optimizer gets unscaled gradients', async () => {
  const { w, b, loss } = layer(130);
  const opt = new AdamW([w, b], { lr: 0.01 });
  const scaler = new GradScaler();
  tidy(() => scaler.scale(loss()).backward());
  const poisoned = toF32(randomArray(3, 135));
  poisoned[1] = Infinity;
  b.grad = tensor(poisoned, [3]); // copied into the arena slot
  const before = [await w.toArray(), await b.toArray()];
  assert.is(await scaler.step(opt), false, 'skipped');
  assert.equal([await w.toArray(), await b.toArray()], before, 'no update');
  assert.is(opt.stepCount, 0);
  scaler.update();
  assert.is(scaler.getScale(), 32768);
  opt.zeroGrad();
  // An optimizer of one's own (AdamW's groups and a step()): it reads the gradients unscaled.
  tidy(() => loss().backward());
  const expected = await w.grad!.toArray();
  opt.zeroGrad();
  let steps = 0;
  const own = { groups: [{ params: [w, b] }], step: () => { steps++; } };
  tidy(() => scaler.scale(loss()).backward());
  assert.is(await scaler.step(own), true);
  assert.is(steps, 1, 'its step() ran once');
  assert.equal(await w.grad!.toArray(), expected, 'gradients unscaled in place before its step()');
  scaler.update();
  opt.dispose();
  scaler.dispose();
  for (const t of [w, b]) t.dispose();
});

test('scaler.unscale(optimizer) before clipping by hand, then step(): the unscaled run\'s bits; misuse is refused by name', async () => {
  const run = async (scaled: boolean) => {
    const { w, b, loss } = layer(140);
    const opt = new AdamW([w, b], { lr: 0.01 });
    const scaler = new GradScaler();
    tidy(() => (scaled ? scaler.scale(loss()) : loss()).backward());
    if (scaled) await scaler.unscale(opt);
    clipGradNorm([w, b], 0.5).dispose();
    if (scaled) assert.is(await scaler.step(opt), true);
    else opt.step();
    if (scaled) scaler.update();
    const out = [await w.toArray(), await b.toArray()];
    opt.dispose();
    scaler.dispose();
    for (const t of [w, b]) t.dispose();
    return out;
  };
  const [plain, scaled] = [await run(false), await run(true)];
  scaled.forEach((p, k) => assert.ok(p.every((v, i) => Object.is(v, plain[k][i])), `parameter ${k} differs`));

  const { w, b, loss } = layer(150);
  const opt = new AdamW([w, b], { lr: 0.01 });
  const scaler = new GradScaler();
  assert.throws(() => scaler.update(), /GradScaler.update: no inf checks were recorded since the last update\(\); call step\(optimizer\) first, or pass update\(foundInf\)/);
  tidy(() => scaler.scale(loss()).backward());
  await scaler.unscale(opt);
  let error = await scaler.unscale(opt).then(() => null, (e: Error) => e);
  assert.match(error?.message ?? 'resolved', /GradScaler.unscale: already called since the last update\(\)/);
  error = await scaler.step(opt, { gradScale: 2 } as never).then(() => null, (e: Error) => e);
  assert.match(error?.message ?? 'resolved', /GradScaler.step: gradScale is the scaler's own/);
  assert.is(await scaler.step(opt), true);
  error = await scaler.step(opt).then(() => null, (e: Error) => e);
  assert.match(error?.message ?? 'resolved', /GradScaler.step: already called since the last update\(\)/);
  scaler.update();
  assert.throws(() => scaler.update(), /no inf checks were recorded/);
  scaler.update(1024); // torch's update(new_scale)
  assert.is(scaler.getScale(), 1024);
  assert.throws(() => scaler.update(-1), /GradScaler: update\(newScale\) must be a finite number > 0, got -1/);
  opt.dispose();
  scaler.dispose();
  for (const t of [w, b]) t.dispose();
});

test.run();
