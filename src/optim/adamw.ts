// AdamW with torch.optim.AdamW's semantics (decoupled weight decay, bias
// correction; amsgrad off), one fused kernel over every parameter per step.
//
// The optimizer keeps flat buffers: m and v [total] for good, and params and
// grads [total] gathered each step. A step records: buffer copies of each
// parameter and its gradient into the flat buffers, ONE `adamw` dispatch over
// all `total` elements (each finds its tensor's lr, weight decay and step
// count in a table), and a copy of each updated parameter back. Everything is recorded
// into the step's one submission; nothing is read back. Parameters that do not
// fit one storage binding (or a chunkElements option) are split into chunks,
// one adamw dispatch each.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { Tensor, empty, keep, tensor, zeros } from '../tensor.js';

const ADAMW = defineKernel({
  shader: 'optim',
  entryPoint: 'adamw',
  storage: ['read', 'read', 'write', 'write', 'write'],
  uniforms: { n: 'u32', tensors: 'u32', beta1: 'f32', beta2: 'f32', eps: 'f32' },
  workgroupSize: 256,
});

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
  /**
   * Most elements updated by one adamw dispatch (default: as many as one storage binding
   * holds, so one dispatch on most adapters). Smaller chunks need less scratch memory per step.
   */
  chunkElements?: number;
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

/** A parameter's place in its chunk's flat buffers, and its own step count (bias correction uses it, as torch's state['step']). */
interface Entry {
  param: Tensor;
  name: string;
  group: ResolvedGroup;
  offset: number;
  steps: number;
}

/** Parameters updated by one adamw dispatch: m and v [size] for good. */
interface Chunk {
  entries: Entry[];
  size: number;
  m: Tensor;
  v: Tensor;
}

export class AdamW {
  readonly groups: ResolvedGroup[];
  readonly betas: [number, number];
  readonly eps: number;
  /** step() calls so far. */
  stepCount = 0;
  private readonly chunks: Chunk[] = [];

  constructor(params: Tensor[] | ParamGroup[], { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, chunkElements }: AdamWOptions = {}) {
    const groups: ParamGroup[] = params.length && params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroup[]);
    if (!(lr >= 0) || !(eps >= 0) || !(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1)) {
      throw new Error(`AdamW: invalid hyperparameters lr ${lr}, betas ${betas}, eps ${eps}`);
    }
    this.betas = betas;
    this.eps = eps;
    const entries: Entry[] = [];
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
        entries.push({ param, name, group, offset: 0, steps: 0 });
      });
      return group;
    });
    if (entries.length === 0) throw new Error('AdamW: no parameters');
    // One chunk unless the parameters do not fit one storage binding (or chunkElements asks for smaller ones).
    const bindingLimit = Math.floor(gpu().device.limits.maxStorageBufferBindingSize / 4);
    const limit = Math.min(bindingLimit, chunkElements ?? Infinity);
    let current: Entry[] = [];
    let size = 0;
    const close = () => {
      if (current.length) this.chunks.push({ entries: current, size, m: keep(zeros([size])), v: keep(zeros([size])) });
      current = [];
      size = 0;
    };
    for (const entry of entries) {
      if (entry.param.size > limit) {
        throw new Error(`AdamW: parameter ${entry.name} [${entry.param.shape}] has more elements than a chunk holds (${limit})`);
      }
      if (size + entry.param.size > limit) close();
      entry.offset = size;
      current.push(entry);
      size += entry.param.size;
    }
    close();
  }

  /** adamw dispatches per step (1 unless the parameters exceed one storage binding or chunkElements). */
  get chunkCount(): number {
    return this.chunks.length;
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
    // Scratch for one chunk at a time: dispatches run in recording order, so chunks can share it.
    const largest = Math.max(...this.chunks.map((c) => c.size));
    const flatParams = empty([largest]);
    const flatGrads = empty([largest]);
    for (const chunk of this.chunks) {
      const table = new ArrayBuffer(chunk.entries.length * TABLE_ROW);
      const view = new DataView(table);
      chunk.entries.forEach((entry, k) => {
        const { param, name, group, offset } = entry;
        const grad = param.grad;
        const row = k * TABLE_ROW;
        view.setUint32(row, offset + param.size, true);
        view.setFloat32(row + 4, group.lr, true);
        view.setFloat32(row + 8, group.weightDecay, true);
        view.setUint32(row + 12, grad ? 1 : 0, true);
        if (!grad) return;
        if (grad.size !== param.size) throw new Error(`AdamW: gradient of ${name} has shape [${grad.shape}], parameter [${param.shape}]`);
        entry.steps++;
        view.setFloat32(row + 16, 1 - beta1 ** entry.steps, true);
        view.setFloat32(row + 20, 1 - beta2 ** entry.steps, true);
        runtime.copy(param.buffer, flatParams.buffer, param.byteLength, 0, offset * 4);
        runtime.copy(grad.buffer, flatGrads.buffer, grad.byteLength, 0, offset * 4);
      });
      const tableTensor = tensor(new Float32Array(table), [table.byteLength / 4]);
      runtime.dispatch(ADAMW, {
        bindings: [tableTensor.binding, flatGrads.binding, flatParams.binding, chunk.m.binding, chunk.v.binding],
        params: { n: chunk.size, tensors: chunk.entries.length, beta1, beta2, eps: this.eps },
        invocations: chunk.size,
      });
      tableTensor.dispose();
      for (const { param, offset } of chunk.entries) {
        if (!param.grad) continue;
        runtime.copy(flatParams.buffer, param.buffer, param.byteLength, offset * 4, 0);
      }
    }
    flatParams.dispose();
    flatGrads.dispose();
  }

  /** Disposes every parameter's gradient. */
  zeroGrad(): void {
    for (const chunk of this.chunks) {
      for (const { param } of chunk.entries) {
        param.grad?.dispose();
        param.grad = null;
      }
    }
  }

  /** Reads m, v and the step counts back, keyed by parameter name. */
  async stateDict(): Promise<AdamWState> {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const chunk of this.chunks) {
      const [m, v] = [await chunk.m.toArray(), await chunk.v.toArray()];
      for (const { param, name, offset, steps } of chunk.entries) {
        tensors.set(`exp_avg.${name}`, { shape: [...param.shape], data: m.slice(offset, offset + param.size) });
        tensors.set(`exp_avg_sq.${name}`, { shape: [...param.shape], data: v.slice(offset, offset + param.size) });
        tensors.set(`step.${name}`, { shape: [1], data: Float32Array.of(steps) }); // exact below 2^24 steps
      }
    }
    return { tensors };
  }

  /** Restores what stateDict() returned (same parameter names and shapes); checks everything before changing anything. */
  loadStateDict(state: AdamWState): void {
    const loaded = this.chunks.map((chunk) => {
      const m = new Float32Array(chunk.size);
      const v = new Float32Array(chunk.size);
      const steps = chunk.entries.map(({ param, name, offset }) => {
        for (const [prefix, target] of [['exp_avg', m], ['exp_avg_sq', v]] as const) {
          const entry = state.tensors.get(`${prefix}.${name}`);
          if (!entry) throw new Error(`AdamW.loadStateDict: no ${prefix}.${name} in the optimizer state`);
          if (entry.data.length !== param.size) {
            throw new Error(`AdamW.loadStateDict: ${prefix}.${name} has shape [${entry.shape}], parameter [${param.shape}]`);
          }
          target.set(entry.data, offset);
        }
        const step = state.tensors.get(`step.${name}`)?.data[0];
        if (step === undefined || !Number.isInteger(step) || step < 0) throw new Error(`AdamW.loadStateDict: no valid step.${name} in the optimizer state`);
        return step;
      });
      return { m, v, steps };
    });
    const runtime = gpu();
    this.chunks.forEach((chunk, c) => {
      runtime.upload(loaded[c].m, chunk.m.buffer);
      runtime.upload(loaded[c].v, chunk.v.buffer);
      chunk.entries.forEach((e, k) => (e.steps = loaded[c].steps[k]));
    });
    this.stepCount = Math.max(...loaded.flatMap((l) => l.steps));
  }

  /** Frees m and v. */
  dispose(): void {
    for (const chunk of this.chunks) {
      chunk.m.dispose();
      chunk.v.dispose();
    }
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
