// AdamW with torch.optim.AdamW's semantics (decoupled weight decay, bias
// correction; amsgrad off), one fused kernel per arena chunk per step.
//
// The parameters it is given are moved into a parameter arena (arena.ts) when it
// is built: parameters and gradients in a few chunk buffers, and the optimizer's
// m and v [chunk elements] beside each. A step records ONE `adamw` dispatch per
// chunk, straight in place over the chunk's parameters, gradients, m and v (each
// element finds its tensor's lr, weight decay and step count in a small table
// uploaded with the step); nothing is copied and nothing is read back. Chunks
// hold at most one storage binding (or a chunkElements option); a parameter
// larger than a chunk is refused, not split. step({ maxGradNorm }) clips too: the
// norm pass of clip.ts over the gradient chunks, then the update reads g · coef,
// so the clipped gradients are never written (one pass over them fewer than
// clipGradNorm followed by step()); step({ gradScale }) unscales the same way the
// gradients a GradScaler's check() left scaled.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { Tensor, emptyExact, keep, ones, tensor } from '../tensor.js';
import { ParameterArena } from './arena.js';
import { gradNorm } from './clip.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

const ADAMW = defineKernel({
  shader: 'optim',
  entryPoint: 'adamw',
  storage: ['read', 'read', 'read', 'write', 'write', 'write'],
  uniforms: { n: 'u32', tensors: 'u32', beta1: 'f32', beta2: 'f32', eps: 'f32', gradScale: 'f32' },
  workgroupSize: 256,
});

const TABLE_ROW = 32; // bytes per tensor in the adamw table: {end u32, lr, wd, hasGrad u32, bc1, bc2, start u32, pad}

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
   * Most elements in one arena chunk, updated by one adamw dispatch, rounded down to a multiple
   * of 4 (default: as many as one storage binding holds, so one dispatch on most adapters).
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
  /** torch's key for weightDecay (an accessor: writing it changes weightDecay), as `for (const g of optimizer.param_groups) g.weight_decay = 0`. */
  weight_decay: number;
}

/** Optimizer state in a form safetensors can hold: exp_avg.<name>, exp_avg_sq.<name>, step.<name> ([1]). */
export interface AdamWState {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

/** A parameter as the optimizer holds it, with its own step count (bias correction uses it, as torch's state['step']). */
interface Entry {
  param: Tensor;
  name: string;
  group: ResolvedGroup;
  steps: number;
}

/** An arena chunk's entries (in its slots' order) and its m and v [chunk elements], for good. */
interface Chunk {
  entries: Entry[];
  offsets: number[];
  size: number;
  params: Tensor;
  grads: Tensor;
  m: Tensor;
  v: Tensor;
}

/** AdamW.step's options (see there). */
export interface AdamWStepOptions {
  maxGradNorm?: number;
  gradScale?: number;
}

export class AdamW {
  readonly groups: ResolvedGroup[];

  /** torch's name of groups: `for (const g of optimizer.param_groups) g.lr = 1e-5` sets the next step's rate. */
  get param_groups(): ResolvedGroup[] {
    return this.groups;
  }
  readonly betas: [number, number];
  readonly eps: number;
  /** step() calls so far. */
  stepCount = 0;
  private readonly arena: ParameterArena;
  private readonly chunks: Chunk[];
  /** The clipping coefficient of a step without clipping. */
  private readonly one: Tensor;

  /**
   * As torch.optim.AdamW(params, lr, betas, eps, weight_decay): `params` a list of tensors or of
   * groups ({ params, lr?, weightDecay? }); options and group keys camelCase or snake_case, and
   * torch's others (amsgrad, maximize, foreach, …) refused by name rather than ignored.
   */
  constructor(params: Tensor[] | WithSnakeCase<ParamGroup>[], options?: WithSnakeCase<AdamWOptions>) {
    const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, chunkElements } =
      checkOptions<AdamWOptions>('AdamW', options, ['lr', 'betas', 'eps', 'weightDecay', 'chunkElements']);
    const groups: ParamGroup[] = params.length && params[0] instanceof Tensor
      ? [{ params: params as Tensor[] }]
      : (params as WithSnakeCase<ParamGroup>[]).map((g, gi) => {
        const group = checkOptions<ParamGroup>(`AdamW: parameter group ${gi}`, g, ['params', 'names', 'lr', 'weightDecay']);
        if (!Array.isArray(group.params)) throw new Error(`AdamW: parameter group ${gi} has no params list`);
        return group;
      });
    if (!(lr >= 0) || !(eps >= 0) || !(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1)) {
      throw new Error(`AdamW: invalid hyperparameters lr ${lr}, betas ${betas}, eps ${eps}`);
    }
    this.betas = betas;
    this.eps = eps;
    const entries: Entry[] = [];
    const seen = new Set<Tensor>();
    this.groups = groups.map((g, gi) => {
      const group = Object.defineProperty({
        params: g.params,
        names: g.names ?? g.params.map((_, i) => `${gi}.${i}`),
        lr: g.lr ?? lr,
        initialLr: g.lr ?? lr,
        weightDecay: g.weightDecay ?? weightDecay,
      }, 'weight_decay', {
        get(this: ResolvedGroup) { return this.weightDecay; },
        set(this: ResolvedGroup, value: number) {
          if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw new Error(`AdamW: weight_decay must be a finite number >= 0, got ${JSON.stringify(value)}`);
          this.weightDecay = value;
        },
        enumerable: false,
      }) as ResolvedGroup;
      if (group.names.length !== g.params.length) throw new Error(`AdamW: group ${gi} has ${g.params.length} params and ${group.names.length} names`);
      g.params.forEach((param, i) => {
        const name = group.names[i];
        if (seen.has(param)) throw new Error(`AdamW: parameter ${name} appears twice`);
        if (param.dtype !== 'f32') throw new Error(`AdamW: parameter ${name} is ${param.dtype}, not f32`);
        seen.add(param);
        entries.push({ param, name, group, steps: 0 });
      });
      return group;
    });
    if (entries.length === 0) throw new Error('AdamW: no parameters');
    this.arena = new ParameterArena(entries, chunkElements);
    const entryOf = new Map(entries.map((e) => [e.param, e]));
    this.chunks = this.arena.chunks.map((c) => ({
      entries: c.slots.map((s) => entryOf.get(s.param)!),
      offsets: c.slots.map((s) => s.offset),
      size: c.elements,
      params: c.params,
      grads: c.grads,
      m: keep(zerosExact(c.elements)),
      v: keep(zerosExact(c.elements)),
    }));
    this.one = keep(ones([1]));
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
   * without are skipped, m and v included, as torch does). With maxGradNorm, the
   * gradients are clipped first, as clipGradNorm(all of this optimizer's parameters,
   * maxGradNorm) would, and the norm before clipping is returned (a scalar tensor, the
   * caller's; read it only when it is logged); the gradients themselves keep their
   * unclipped values (the update reads them scaled). Without it, returns null.
   * gradScale multiplies every gradient as it is read, before clipping (the norm is the
   * scaled gradients'): a GradScaler's 1 / scale after its check(), which leaves them scaled;
   * the same float32 products as its unscaleAndCheck() followed by step().
   */
  step(options?: WithSnakeCase<AdamWStepOptions>): Tensor | null {
    const { maxGradNorm, gradScale = 1 } = checkOptions<AdamWStepOptions>('AdamW.step', options, ['maxGradNorm', 'gradScale']);
    if (!(gradScale > 0 && Number.isFinite(gradScale))) throw new Error(`AdamW.step: gradScale must be a positive finite number, got ${gradScale}`);
    this.arena.checkOwned('AdamW.step');
    const clip = maxGradNorm === undefined ? null : gradNorm(this.chunks.map((c) => c.grads), maxGradNorm, gradScale);
    this.stepCount++;
    const [beta1, beta2] = this.betas;
    const runtime = gpu();
    const coef = clip?.coef ?? this.one;
    for (const chunk of this.chunks) {
      const table = new ArrayBuffer(chunk.entries.length * TABLE_ROW);
      const view = new DataView(table);
      chunk.entries.forEach((entry, k) => {
        const { param, group } = entry;
        const row = k * TABLE_ROW;
        view.setUint32(row, chunk.offsets[k] + param.size, true);
        view.setFloat32(row + 4, group.lr, true);
        view.setFloat32(row + 8, group.weightDecay, true);
        view.setUint32(row + 12, param.grad ? 1 : 0, true);
        view.setUint32(row + 24, chunk.offsets[k], true);
        if (!param.grad) return;
        entry.steps++;
        view.setFloat32(row + 16, 1 - beta1 ** entry.steps, true);
        view.setFloat32(row + 20, 1 - beta2 ** entry.steps, true);
      });
      const tableTensor = tensor(new Float32Array(table), [table.byteLength / 4]);
      runtime.dispatch(ADAMW, {
        bindings: [tableTensor.binding, coef.binding, ...[chunk.grads, chunk.params, chunk.m, chunk.v].map((t) => t.binding4)],
        params: { n: chunk.size / 4, tensors: chunk.entries.length, beta1, beta2, eps: this.eps, gradScale },
        elements: chunk.size / 4,
      });
      tableTensor.dispose();
    }
    clip?.coef.dispose();
    return clip?.norm ?? null;
  }

  /** Drops every parameter's gradient: one clearBuffer per arena chunk. */
  zeroGrad(): void {
    this.arena.zeroGrad();
  }

  /** torch's spelling of zeroGrad. With set_to_none (torch's default) torch leaves no gradient; here the gradients stay, as zeros, either way. */
  zero_grad(setToNone?: boolean): void {
    if (setToNone !== undefined && typeof setToNone !== 'boolean') throw new Error(`AdamW.zero_grad: set_to_none must be true or false, got ${JSON.stringify(setToNone)}`);
    this.zeroGrad();
  }

  /** Reads m, v and the step counts back, keyed by parameter name. */
  async stateDict(): Promise<AdamWState> {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const chunk of this.chunks) {
      const [m, v] = [await chunk.m.toArray(), await chunk.v.toArray()];
      chunk.entries.forEach(({ param, name, steps }, k) => {
        const offset = chunk.offsets[k];
        tensors.set(`exp_avg.${name}`, { shape: [...param.shape], data: m.slice(offset, offset + param.size) });
        tensors.set(`exp_avg_sq.${name}`, { shape: [...param.shape], data: v.slice(offset, offset + param.size) });
        tensors.set(`step.${name}`, { shape: [1], data: Float32Array.of(steps) }); // exact below 2^24 steps
      });
    }
    return { tensors };
  }

  /** Restores what stateDict() returned (same parameter names and shapes); checks everything before changing anything. */
  loadStateDict(state: AdamWState): void {
    const loaded = this.chunks.map((chunk) => {
      const m = new Float32Array(chunk.size);
      const v = new Float32Array(chunk.size);
      const steps = chunk.entries.map(({ param, name }, k) => {
        const offset = chunk.offsets[k];
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
    this.chunks.forEach((chunk, c) => {
      chunk.m.assign(loaded[c].m);
      chunk.v.assign(loaded[c].v);
      chunk.entries.forEach((e, k) => (e.steps = loaded[c].steps[k]));
    });
    this.stepCount = Math.max(...loaded.flatMap((l) => l.steps));
  }

  /** Frees m, v and the gradient chunks (the gradients are dropped); the parameters stay where they are. */
  dispose(): void {
    this.arena.dispose();
    for (const chunk of this.chunks) {
      chunk.m.dispose();
      chunk.v.dispose();
    }
    this.one.dispose();
  }
}

/** A zeroed f32 tensor [elements] in a buffer of exactly its size (m and v beside an arena chunk). */
function zerosExact(elements: number): Tensor {
  const t = emptyExact(elements);
  gpu().clear(t.buffer, 0, t.byteLength);
  return t;
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
