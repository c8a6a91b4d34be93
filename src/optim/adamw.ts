// AdamW with torch.optim.AdamW's semantics (decoupled weight decay, bias
// correction; amsgrad off), one fused kernel over every parameter per step.
//
// The optimizer keeps flat buffers: m and v [total] for good, and params and
// grads [total] gathered each step. A step records: one `pack` per parameter
// (its value and its gradient into the flat buffers), ONE `adamw` dispatch over
// all `total` elements (each finds its tensor's lr / weight decay in a table),
// and one `unpack` per parameter. Everything is recorded into the step's one
// submission; nothing is read back.

import { gpu } from '../gpu/device.js';
import { grid, type Param } from '../gpu/runtime.js';
import type { Kernel } from '../gpu/pipelines.js';
import { Tensor, empty, keep, tensor, zeros } from '../tensor.js';

const PACK: Kernel = { shader: 'optim', entryPoint: 'pack', storage: ['read', 'write'] };
const UNPACK: Kernel = { shader: 'optim', entryPoint: 'unpack', storage: ['read', 'write'] };
const ADAMW: Kernel = { shader: 'optim', entryPoint: 'adamw', storage: ['read', 'read', 'write', 'write', 'write'] };

/** The uniform block of shaders/optim.wgsl: n, offset, then 3 f32 (unused ones 0). */
export function optimParams(n: number, offset: number, floats: number[] = []): Param[] {
  return [n, offset, ...[0, 1, 2].map((i) => ({ f32: floats[i] ?? 0 }))];
}

const TABLE_ROW = 32; // bytes per tensor in the adamw table: {end u32, lr, wd, hasGrad u32, bc1, bc2, pad, pad}

export interface ParamGroup {
  params: Tensor[];
  /** Names (Hugging Face's) for stateDict() keys and error messages; defaults to the index. */
  names?: string[];
  lr?: number;
  weightDecay?: number;
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** A group as the optimizer holds it: lr is what the next step uses; initialLr is what schedules scale. */
export interface ResolvedGroup {
  params: Tensor[];
  names: string[];
  lr: number;
  initialLr: number;
  weightDecay: number;
}

/** Optimizer state in a form safetensors can hold: exp_avg.<name>, exp_avg_sq.<name>, step.<name> ([1]). */
export interface AdamWState {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export class AdamW {
  readonly groups: ResolvedGroup[];
  readonly betas: [number, number];
  readonly eps: number;
  /** step() calls so far. */
  stepCount = 0;
  /** Per parameter: its place in the flat buffers and its own step count (bias correction uses it, as torch's state['step']). */
  private readonly entries: { param: Tensor; name: string; group: ResolvedGroup; offset: number; steps: number }[] = [];
  private readonly total: number;
  private readonly m: Tensor;
  private readonly v: Tensor;

  constructor(params: Tensor[] | ParamGroup[], { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01 }: AdamWOptions = {}) {
    const groups: ParamGroup[] = params.length && params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroup[]);
    if (!(lr >= 0) || !(eps >= 0) || !(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1)) {
      throw new Error(`AdamW: invalid hyperparameters lr ${lr}, betas ${betas}, eps ${eps}`);
    }
    this.betas = betas;
    this.eps = eps;
    let offset = 0;
    const seen = new Set<Tensor>();
    this.groups = groups.map((g, gi) => {
      const group: ResolvedGroup = {
        params: g.params,
        names: g.names ?? g.params.map((_, i) => `${gi}.${i}`),
        lr: g.lr ?? lr,
        initialLr: g.lr ?? lr,
        weightDecay: g.weightDecay ?? weightDecay,
      };
      if (group.names.length !== g.params.length) throw new Error(`AdamW: group ${gi} has ${g.params.length} params and ${group.names.length} names`);
      g.params.forEach((param, i) => {
        const name = group.names[i];
        if (seen.has(param)) throw new Error(`AdamW: parameter ${name} appears twice`);
        if (param.dtype !== 'f32') throw new Error(`AdamW: parameter ${name} is ${param.dtype}, not f32`);
        seen.add(param);
        this.entries.push({ param, name, group, offset, steps: 0 });
        offset += param.size;
      });
      return group;
    });
    if (offset === 0) throw new Error('AdamW: no parameters');
    this.total = offset;
    this.m = keep(zeros([offset]));
    this.v = keep(zeros([offset]));
  }

  /** Sets the learning rate of every group (a schedule's lr for the coming step). */
  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr;
  }

  /**
   * Records one AdamW update of every parameter that has a gradient (those
   * without are skipped, m and v included, as torch does).
   */
  step(): void {
    this.stepCount++;
    const [beta1, beta2] = this.betas;
    const runtime = gpu();
    const flatParams = empty([this.total]);
    const flatGrads = empty([this.total]);
    const table = new ArrayBuffer(this.entries.length * TABLE_ROW);
    const view = new DataView(table);
    this.entries.forEach((entry, k) => {
      const { param, name, group, offset } = entry;
      const grad = param.grad;
      const row = k * TABLE_ROW;
      view.setUint32(row, offset + param.size, true);
      view.setFloat32(row + 4, group.lr, true);
      view.setFloat32(row + 8, group.weightDecay, true);
      view.setUint32(row + 12, grad ? 1 : 0, true);
      if (!grad) return;
      entry.steps++;
      view.setFloat32(row + 16, 1 - beta1 ** entry.steps, true);
      view.setFloat32(row + 20, 1 - beta2 ** entry.steps, true);
      if (grad.size !== param.size) throw new Error(`AdamW: gradient of ${name} has shape [${grad.shape}], parameter [${param.shape}]`);
      runtime.dispatch(PACK, { bindings: [param.binding, flatParams.binding], params: optimParams(param.size, offset), workgroups: grid(param.size, 256) });
      runtime.dispatch(PACK, { bindings: [grad.binding, flatGrads.binding], params: optimParams(grad.size, offset), workgroups: grid(grad.size, 256) });
    });
    const tableTensor = tensor(new Float32Array(table), [table.byteLength / 4]);
    runtime.dispatch(ADAMW, {
      bindings: [tableTensor.binding, flatGrads.binding, flatParams.binding, this.m.binding, this.v.binding],
      params: optimParams(this.total, this.entries.length, [beta1, beta2, this.eps]),
      workgroups: grid(this.total, 256),
    });
    for (const { param, offset } of this.entries) {
      if (!param.grad) continue;
      runtime.dispatch(UNPACK, { bindings: [flatParams.binding, param.binding], params: optimParams(param.size, offset), workgroups: grid(param.size, 256) });
    }
    for (const x of [tableTensor, flatParams, flatGrads]) x.dispose();
  }

  /** Disposes every parameter's gradient. */
  zeroGrad(): void {
    for (const { param } of this.entries) {
      param.grad?.dispose();
      param.grad = null;
    }
  }

  /** Reads m, v and the step counts back, keyed by parameter name. */
  async stateDict(): Promise<AdamWState> {
    const [m, v] = [await this.m.toArray(), await this.v.toArray()];
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const { param, name, offset, steps } of this.entries) {
      tensors.set(`exp_avg.${name}`, { shape: [...param.shape], data: m.slice(offset, offset + param.size) });
      tensors.set(`exp_avg_sq.${name}`, { shape: [...param.shape], data: v.slice(offset, offset + param.size) });
      tensors.set(`step.${name}`, { shape: [1], data: Float32Array.of(steps) }); // exact below 2^24 steps
    }
    return { tensors };
  }

  /** Restores what stateDict() returned (same parameter names and shapes). */
  loadStateDict(state: AdamWState): void {
    const m = new Float32Array(this.total);
    const v = new Float32Array(this.total);
    const steps = this.entries.map(({ name }) => {
      const s = state.tensors.get(`step.${name}`)?.data[0];
      if (s === undefined || !Number.isInteger(s) || s < 0) throw new Error(`AdamW.loadStateDict: no valid step.${name} in the optimizer state`);
      return s;
    });
    for (const { param, name, offset } of this.entries) {
      for (const [prefix, target] of [['exp_avg', m], ['exp_avg_sq', v]] as const) {
        const entry = state.tensors.get(`${prefix}.${name}`);
        if (!entry) throw new Error(`AdamW.loadStateDict: no ${prefix}.${name} in the optimizer state`);
        if (entry.data.length !== param.size) {
          throw new Error(`AdamW.loadStateDict: ${prefix}.${name} has shape [${entry.shape}], parameter [${param.shape}]`);
        }
        target.set(entry.data, offset);
      }
    }
    const runtime = gpu();
    runtime.upload(m, this.m.buffer);
    runtime.upload(v, this.v.buffer);
    this.entries.forEach((e, k) => (e.steps = steps[k]));
    this.stepCount = Math.max(...steps);
  }

  /** Frees m and v. */
  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}

/**
 * Hugging Face Trainer's parameter groups: weight decay on everything except
 * biases and LayerNorm weights (names containing "bias" or "LayerNorm.weight").
 */
export function hfParameterGroups(model: { namedParameters(): Map<string, Tensor> }, weightDecay: number): ParamGroup[] {
  const decay: ParamGroup = { params: [], names: [], weightDecay };
  const noDecay: ParamGroup = { params: [], names: [], weightDecay: 0 };
  for (const [name, p] of model.namedParameters()) {
    const group = name.includes('bias') || name.includes('LayerNorm.weight') ? noDecay : decay;
    group.params.push(p);
    group.names!.push(name);
  }
  return [decay, noDecay].filter((g) => g.params.length > 0);
}
