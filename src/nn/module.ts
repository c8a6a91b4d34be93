// Module: the base of every layer. Parameters and submodules are plain
// properties whose names mirror Hugging Face's modeling_bert.py
// (`attention.self.query`, `LayerNorm`), so a parameter's Hugging Face name is
// its property path: namedParameters() walks the tree, and arrays of modules
// give `layer.0`, `layer.1`, …  Loading a checkpoint is a walk of that map.

import { Tensor, graphScope, keep, splitmix32 } from '../tensor.js';
import { Callable } from '../callable.js';
import { gpu } from '../gpu/device.js';
import { checkOptions } from '../options.js';

// Seeds for parameter initialisation: one seeded stream for the process, as
// PyTorch's global generator is for Hugging Face's _init_weights.
let initSeeds = splitmix32(0);

/** Restarts the stream of initialisation seeds: the same seed gives the same initial weights. */
export function setInitSeed(seed: number): void {
  initSeeds = splitmix32(seed);
}

/** The next seed for a randn() initialisation. */
export function nextInitSeed(): number {
  return initSeeds();
}

/** A module is called as torch's: module(...args) is module.forward(...args). */
export interface Module {
  (...args: never[]): unknown;
}

export abstract class Module extends Callable {
  /** Dropout is active while true; train()/eval() set it on the whole tree. */
  training = true;
  /** Tensors this module registered with parameter(); other tensor properties (a tied reference, an input) are not its parameters. */
  private readonly ownParameters = new Set<Tensor>();

  constructor() {
    super();
    // Every subclass's forward runs in a graphScope: the intermediates it does not return go to the graph.
    const forward = (this as unknown as { forward?: (...args: unknown[]) => unknown }).forward;
    if (typeof forward === 'function') {
      Object.defineProperty(this, 'forward', {
        value: (...args: unknown[]) => graphScope(() => forward.apply(this, args)),
        enumerable: false,
        writable: true,
      });
    }
  }

  /** What calling the module runs: its forward, as torch's __call__. */
  call(...args: unknown[]): unknown {
    const forward = (this as unknown as { forward?: (...a: unknown[]) => unknown }).forward;
    if (typeof forward !== 'function') throw new Error(`${this.constructor.name} has no forward() to call`);
    return forward.apply(this, args);
  }

  /** Registers `t` as a parameter of this module (requiresGrad, survives tidy()) and returns it. */
  protected parameter(t: Tensor): Tensor {
    t.requiresGrad = true;
    this.ownParameters.add(keep(t));
    return t;
  }

  /** Direct children: [property name, module], in declaration order (arrays as `name.i`). */
  children(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value)) value.forEach((m, i) => m instanceof Module && out.push([`${key}.${i}`, m]));
    }
    return out;
  }

  /**
   * Every parameter by its dotted path (Hugging Face's name, relative to this
   * module). A tensor reachable twice (tied weights) appears once, under the
   * first path, as in PyTorch.
   */
  namedParameters(prefix = '', seen: Set<Tensor> | null = new Set<Tensor>()): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Tensor && this.ownParameters.has(value) && !seen?.has(value)) {
        seen?.add(value);
        out.set(prefix + key, value);
      }
    }
    for (const [key, child] of this.children()) {
      for (const [name, t] of child.namedParameters(`${prefix}${key}.`, seen)) out.set(name, t);
    }
    return out;
  }

  /** torch's spelling of namedParameters: iterating the Map gives [name, parameter] pairs, as torch's iterator does. */
  named_parameters(): Map<string, Tensor> {
    return this.namedParameters();
  }

  parameters(): Tensor[] {
    return [...this.namedParameters().values()];
  }

  /**
   * torch's state_dict(): every parameter by its dotted name, tied ones under each of their names
   * (null seen: no deduplication), as the parameter tensors themselves (torch's share storage too).
   */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedParameters('', null));
  }

  state_dict(): Record<string, Tensor> {
    return this.stateDict();
  }

  /**
   * torch's load_state_dict(state, strict=True): copies each entry (a tensor of the parameter's
   * dtype and shape, or its values as a Float32Array or number[]) into the parameter of that
   * name. Everything is checked before anything is copied: a shape or dtype mismatch is an error;
   * so are missing and unexpected names unless strict is false. Returns the names, as torch.
   */
  loadStateDict(state: StateDict, options?: { strict?: boolean }): { missing_keys: string[]; unexpected_keys: string[] } {
    const { strict = true } = checkOptions<{ strict?: boolean }>('load_state_dict', options, ['strict']);
    if (state === null || typeof state !== 'object') throw new Error(`load_state_dict: expected a state dict (names to tensors), got ${String(state)}`);
    const entries = state instanceof Map ? [...state] : Object.entries(state);
    const params = this.namedParameters('', null);
    const given = new Set(entries.map(([name]) => name));
    const missing = [...params.keys()].filter((name) => !given.has(name));
    const unexpected = entries.map(([name]) => name).filter((name) => !params.has(name));
    const problems = entries.flatMap(([name, value]) => {
      const p = params.get(name);
      return p ? stateEntryProblem(name, value, p) : [];
    });
    if (strict && missing.length) problems.push(`Missing key(s) in state_dict: ${missing.map((n) => `"${n}"`).join(', ')}.`);
    if (strict && unexpected.length) problems.push(`Unexpected key(s) in state_dict: ${unexpected.map((n) => `"${n}"`).join(', ')}.`);
    if (problems.length) throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${problems.join('\n\t')}`);
    const runtime = gpu();
    for (const [name, value] of entries) {
      const p = params.get(name);
      if (!p) continue;
      if (value instanceof Tensor) runtime.copy(value.buffer, p.buffer, p.byteLength, value.byteOffset, p.byteOffset);
      else runtime.upload(value instanceof Float32Array ? value : Float32Array.from(value), p.buffer, p.byteOffset);
    }
    return { missing_keys: missing, unexpected_keys: unexpected };
  }

  load_state_dict(state: StateDict, options?: { strict?: boolean }): { missing_keys: string[]; unexpected_keys: string[] } {
    return this.loadStateDict(state, options);
  }

  /** Sets the training flag on this module and every descendant. */
  train(mode = true): this {
    this.training = mode;
    for (const [, child] of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Drops every parameter's gradient: disposed (the next backward() allocates fresh ones), or, for a
   * parameter in an AdamW arena, its slot zeroed (src/optim/arena.ts; AdamW.zeroGrad clears a whole chunk at once).
   */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter's GPU buffer (and gradient). The module is unusable afterwards. */
  dispose(): void {
    this.zeroGrad();
    for (const p of this.parameters()) p.dispose();
  }
}

/** What load_state_dict takes: names to tensors, or to their values in row-major order. */
export type StateDict = Record<string, Tensor | Float32Array | number[]> | Map<string, Tensor | Float32Array | number[]>;

/** Why `value` cannot be copied into the parameter `p` named `name` (torch's wording), or nothing. */
function stateEntryProblem(name: string, value: unknown, p: Tensor): string[] {
  if (value instanceof Tensor) {
    if (value.disposed) return [`${name}: the tensor given was disposed.`];
    if (value.shape.length !== p.shape.length || value.shape.some((d, i) => d !== p.shape[i])) {
      return [`size mismatch for ${name}: copying a param with shape [${value.shape.join(', ')}] from checkpoint, the shape in current model is [${p.shape.join(', ')}].`];
    }
    return value.dtype === p.dtype ? [] : [`dtype mismatch for ${name}: copying a ${value.dtype} tensor into a ${p.dtype} parameter.`];
  }
  if (value instanceof Float32Array || Array.isArray(value)) {
    if (p.dtype !== 'f32') return [`${name}: values as an array fit an f32 parameter only; this one is ${p.dtype}.`];
    if (value.length !== p.size) return [`size mismatch for ${name}: ${value.length} values for a parameter of shape [${p.shape.join(', ')}] (${p.size}).`];
    return Array.isArray(value) && value.some((v) => typeof v !== 'number') ? [`${name}: the array holds a value that is not a number.`] : [];
  }
  return [`${name}: expected a Tensor, Float32Array or number[], got ${value === null ? 'null' : typeof value}.`];
}
