// GradScaler: dynamic loss scaling for float16 training, as torch.amp.GradScaler, called as torch's is:
//   scaler.scale(loss).backward();  await scaler.step(optimizer);  scaler.update();
// (and `await scaler.unscale(optimizer)` before clipping by hand, as torch's unscale_). The loss is
// multiplied by the scale (getScale()) before backward, so that small gradients do not flush to zero in the
// float16 copies of the backward products (src/ops/matmul.ts under autocast); before clipping and
// the optimizer, every gradient is multiplied by 1 / scale and checked for inf/NaN by one pass
// over the gradients on the GPU (shaders/grad-scaler.wgsl) that raises one flag. A step whose
// gradients overflowed is skipped (no optimizer update: weights, moments and AdamW's step count
// untouched) and the scale backs off; after growthInterval good steps in a row it grows:
//   found inf: scale *= backoffFactor, tracker = 0
//   else:      tracker += 1; tracker == growthInterval -> scale *= growthFactor, tracker = 0
// (torch's _amp_update_scale_). The scale is a power of two under the defaults, so scaling and
// unscaling are exact. check() is the inf/NaN pass alone, without writing the gradients: the
// optimizer step then unscales them as it reads them (AdamW.step({ gradScale: 1 / scale }), the
// same float32 products), one write of every gradient fewer; the Trainer does that.
//
// step(AdamW) takes that path; another optimizer (anything with AdamW's `groups` and `step()`) gets
// its gradients unscaled in place first. step() records whether it found inf or NaN, and update()
// without an argument uses that record, as torch's does; calling update() with no record, or
// step() or unscale() twice before it, is an error naming the call, as torch raises.
//
// Reading the flag back costs one 4-byte readback (and so one submission) per step, as torch's
// scaler.step() does with found_inf.item(): the optimizer step that follows is recorded only
// for a finite step. The scale itself lives on the CPU and reaches the GPU as a uniform.

import { gpu } from '../gpu/device.js';
import { defineKernel, type Kernel } from '../gpu/pipelines.js';
import { empty, keep, type Tensor } from '../tensor.js';
import { gradientPieces } from './arena.js';
import { AdamW, type AdamWStepOptions } from './adamw.js';
import { scale as scaleOp } from '../ops/elementwise.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

const UNSCALE_CHECK = defineKernel({
  shader: 'grad-scaler', entryPoint: 'unscale_check', storage: ['write', 'write'], uniforms: { n: 'u32', invScale: 'f32' }, workgroupSize: 256,
});
const CHECK = defineKernel({
  shader: 'grad-scaler', entryPoint: 'check', storage: ['read', 'write'], uniforms: { n: 'u32', invScale: 'f32' }, workgroupSize: 256,
});

export interface GradScalerOptions {
  /** Default 2^16. */
  initScale?: number;
  /** Default 2. */
  growthFactor?: number;
  /** Default 0.5. */
  backoffFactor?: number;
  /** Good steps in a row before the scale grows (default 2000). */
  growthInterval?: number;
  /** Default true; false: scale() returns the loss as it is, step() is the optimizer's, update() does nothing, getScale() is 1 (torch's enabled=False). */
  enabled?: boolean;
}

/** What step() and unscale() drive: AdamW, or another optimizer with its parameter groups and a step(). */
export interface ScaledOptimizer {
  readonly groups: readonly { readonly params: readonly Tensor[] }[];
  step(options?: object): unknown;
}

/** torch.amp.GradScaler.state_dict(), under torch's keys (scaler.json in a checkpoint). */
export interface GradScalerState {
  scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  _growth_tracker: number;
}

function positive(name: string, value: number, check: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new Error(`GradScaler: ${name} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

export class GradScaler {
  /** The loss is multiplied by this before backward (getScale()). */
  private lossScale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  /** Good steps in a row since the scale last changed. */
  growthTracker = 0;
  private flag: Tensor | null = null;
  /** Since the last update(): whether unscale() ran, whether step() ran, and the inf/NaN found (null: not checked yet). */
  private pending = freshStep();

  /** Whether it scales at all (GradScalerOptions.enabled). */
  readonly enabled: boolean;

  /** As torch.amp.GradScaler(init_scale, growth_factor, backoff_factor, growth_interval, enabled): keys camelCase or snake_case. */
  constructor(options?: WithSnakeCase<GradScalerOptions>) {
    const { initScale = 2 ** 16, growthFactor = 2, backoffFactor = 0.5, growthInterval = 2000, enabled = true } =
      checkOptions<GradScalerOptions>('GradScaler', options, ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval', 'enabled']);
    if (typeof enabled !== 'boolean') throw new Error(`GradScaler: enabled must be true or false, got ${JSON.stringify(enabled)}`);
    this.enabled = enabled;
    this.lossScale = positive('initScale', initScale, (v) => v > 0, 'a finite number > 0');
    this.growthFactor = positive('growthFactor', growthFactor, (v) => v > 1, 'a finite number > 1');
    this.backoffFactor = positive('backoffFactor', backoffFactor, (v) => v > 0 && v < 1, 'a number in (0, 1)');
    this.growthInterval = positive('growthInterval', growthInterval, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
  }

  /** The current loss scale (torch's get_scale()). */
  getScale(): number {
    return this.enabled ? this.lossScale : 1;
  }

  /** loss · scale (a graph op: its backward scales every gradient by the scale), as torch's scale(outputs); disabled, the loss itself. */
  scale(loss: Tensor): Tensor {
    return this.enabled ? scaleOp(loss, this.lossScale) : loss;
  }

  /** scale(loss)'s earlier name. */
  scaleLoss(loss: Tensor): Tensor {
    return this.scale(loss);
  }

  /**
   * torch's unscale_(optimizer): the optimizer's gradients divided by the scale in place and checked
   * for inf/NaN (recorded for step() and update()); for clipping them by hand before step().
   */
  async unscale(optimizer: ScaledOptimizer): Promise<void> {
    if (!this.enabled) return;
    if (this.pending.unscaled) throw new Error('GradScaler.unscale: already called since the last update()');
    if (this.pending.stepped) throw new Error('GradScaler.unscale: called after step(); unscale() comes before step(), once per update()');
    this.pending.checking = 'unscale';
    this.pending.foundInf = await this.unscaleAndCheck(parametersOf(optimizer));
    this.pending.checking = null;
    this.pending.unscaled = true;
  }

  /**
   * torch's step(optimizer): checks the gradients for inf/NaN (unless unscale() already did) and, if
   * they are finite, runs optimizer.step(options) on the unscaled gradients; with inf or NaN the
   * step is skipped (no update at all). Resolves to whether the optimizer stepped. AdamW unscales
   * as it reads the gradients (step({ gradScale })), which keep their scaled values; another
   * optimizer gets them unscaled in place first.
   */
  async step(optimizer: ScaledOptimizer, options?: Omit<AdamWStepOptions, 'gradScale'>): Promise<boolean> {
    if (this.pending.stepped) throw new Error('GradScaler.step: already called since the last update()');
    if (options && 'gradScale' in options) throw new Error('GradScaler.step: gradScale is the scaler\'s own (1 / getScale()); pass maxGradNorm only');
    if (!this.enabled) {
      optimizer.step(options);
      return true;
    }
    const fused = !this.pending.unscaled && optimizer instanceof AdamW;
    if (!this.pending.unscaled) {
      this.pending.checking = 'step';
      this.pending.foundInf = await (fused ? this.check(parametersOf(optimizer)) : this.unscaleAndCheck(parametersOf(optimizer)));
      this.pending.checking = null;
    }
    this.pending.stepped = true;
    if (this.pending.foundInf) return false;
    optimizer.step(fused ? { ...options, gradScale: 1 / this.lossScale } : options);
    return true;
  }

  /**
   * Records grad *= 1 / scale for every parameter's gradient and the inf/NaN check over them,
   * then submits and resolves to whether some gradient held inf or NaN (torch's unscale_ and
   * the found_inf read of step()). Parameters without a gradient are ignored. An AdamW arena's
   * gradient chunk is one dispatch, as for clipping (its slots without a gradient hold zeros).
   */
  unscaleAndCheck(params: Iterable<Tensor>): Promise<boolean> {
    return this.flagged(UNSCALE_CHECK, params);
  }

  /**
   * The inf/NaN check of unscaleAndCheck alone, the gradients left scaled: for an optimizer
   * step that unscales them as it reads them, AdamW.step({ gradScale: 1 / scale }) with the
   * scale of this step (read it before update() changes it).
   */
  check(params: Iterable<Tensor>): Promise<boolean> {
    return this.flagged(CHECK, params);
  }

  /** Records `kernel` over every gradient piece with the flag cleared, submits, and reads the flag. */
  private async flagged(kernel: Kernel<{ n: 'u32'; invScale: 'f32' }>, params: Iterable<Tensor>): Promise<boolean> {
    const runtime = gpu();
    this.flag = this.flag && !this.flag.disposed ? this.flag : keep(empty([1], 'i32'));
    runtime.clear(this.flag.buffer, this.flag.byteOffset, this.flag.byteLength);
    const invScale = 1 / this.lossScale;
    for (const g of gradientPieces([...params])) {
      if (g.size === 0) continue;
      runtime.dispatch(kernel, { bindings: [g.binding4, this.flag.binding], params: { n: g.size, invScale }, elements: Math.ceil(g.size / 4) });
    }
    const [found] = await this.flag.toInt32Array();
    return found !== 0;
  }

  /**
   * After a step: backs off on an overflow, else counts the step and grows after growthInterval of
   * them. The overflow is `foundInf`, or by default what step() (or unscale()) found since the last
   * update(). A number instead sets the scale to it, as torch's update(new_scale).
   */
  update(foundInfOrNewScale?: boolean | number): void {
    if (!this.enabled) return;
    if (typeof foundInfOrNewScale === 'number') {
      this.lossScale = positive('update(newScale)', foundInfOrNewScale, (v) => v > 0, 'a finite number > 0');
      this.pending = freshStep();
      return;
    }
    if (this.pending.checking) {
      const call = this.pending.checking;
      throw new Error(`GradScaler.update: ${call}() is still waiting for its inf check; await it first (${call === 'step' ? 'const stepped = await scaler.step(optimizer)' : 'await scaler.unscale(optimizer)'}), then update()`);
    }
    const found = foundInfOrNewScale ?? this.pending.foundInf;
    if (typeof found !== 'boolean') {
      throw new Error('GradScaler.update: no inf checks were recorded since the last update(); call step(optimizer) first, or pass update(foundInf)');
    }
    this.pending = freshStep();
    if (found) {
      this.lossScale *= this.backoffFactor;
      this.growthTracker = 0;
      return;
    }
    this.growthTracker++;
    if (this.growthTracker === this.growthInterval) {
      this.lossScale *= this.growthFactor;
      this.growthTracker = 0;
    }
  }

  stateDict(): GradScalerState {
    return {
      scale: this.lossScale, growth_factor: this.growthFactor, backoff_factor: this.backoffFactor,
      growth_interval: this.growthInterval, _growth_tracker: this.growthTracker,
    };
  }

  /** Restores the scale and the tracker (torch's load_state_dict; the factors and interval too). */
  loadStateDict(state: GradScalerState): void {
    const s = new GradScaler({
      initScale: state?.scale, growthFactor: state?.growth_factor, backoffFactor: state?.backoff_factor, growthInterval: state?.growth_interval,
    });
    const tracker = state._growth_tracker;
    if (!Number.isInteger(tracker) || tracker < 0 || tracker >= s.growthInterval) {
      throw new Error(`GradScaler.loadStateDict: _growth_tracker must be an integer in [0, ${s.growthInterval}), got ${JSON.stringify(tracker)}`);
    }
    Object.assign(this, { lossScale: s.lossScale, growthFactor: s.growthFactor, backoffFactor: s.backoffFactor, growthInterval: s.growthInterval, growthTracker: tracker });
  }

  /** Frees the flag buffer. */
  dispose(): void {
    this.flag?.dispose();
    this.flag = null;
  }
}

/** A step's record before unscale() or step() has run. */
/** What happened since the last update(); `checking`: an unscale() or step() is waiting for its inf check (not awaited yet). */
function freshStep(): { unscaled: boolean; stepped: boolean; foundInf: boolean | null; checking: 'unscale' | 'step' | null } {
  return { unscaled: false, stepped: false, foundInf: null, checking: null };
}

/** Every parameter of the optimizer's groups, in order. */
function parametersOf(optimizer: ScaledOptimizer): Tensor[] {
  return optimizer.groups.flatMap((g) => [...g.params]);
}
