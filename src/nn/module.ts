// Module: the base of every layer. Parameters and submodules are plain
// properties whose names mirror Hugging Face's modeling_bert.py
// (`attention.self.query`, `LayerNorm`), so a parameter's Hugging Face name is
// its property path: namedParameters() walks the tree, and arrays of modules
// give `layer.0`, `layer.1`, …  Loading a checkpoint is a walk of that map.

import { Tensor, graphScope, keep, splitmix32 } from '../tensor.js';
import { Callable } from '../callable.js';

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
  namedParameters(prefix = '', seen = new Set<Tensor>()): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Tensor && this.ownParameters.has(value) && !seen.has(value)) {
        seen.add(value);
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
