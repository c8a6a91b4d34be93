// Dropout(p): in training, zeroes each element with probability p and scales
// the rest by 1/(1-p); in eval, or with p = 0, returns its input.
//
// Reproducibility: the mask comes from a counter-based RNG keyed by
// (seed, stream, element) (src/ops/dropout.ts). Every Dropout of one model
// shares a DropoutRng; each call draws the next stream from it, so the
// streams of one forward differ from each other and, once the trainer calls
// rng.reset(seed, step) at each step, from those of every other step: the
// masks of a step depend only on (seed, step), and a resumed run repeats them.

import type { Tensor } from '../tensor.js';
import { dropout } from '../ops/dropout.js';
import { Module } from './module.js';

/** Dropout calls per step before the stream moves on to the next step's range (streams are u32: they repeat after 2^20 steps). */
const STREAMS_PER_STEP = 4096;

/** The shared dropout stream counter of one model. */
export class DropoutRng {
  seed = 0;
  step = 0;
  private counter = 0;

  /** Restarts the streams for (seed, step): called by the trainer before each step's forward. */
  reset(seed: number, step: number): void {
    this.seed = seed >>> 0;
    this.step = step;
    this.counter = 0;
  }

  /** A stream id not used before since the last reset (for this step). */
  nextStream(): number {
    if (this.counter === STREAMS_PER_STEP) {
      // More calls than one step's range (long gradient accumulation): continue in the next step's range.
      this.step++;
      this.counter = 0;
    }
    return (this.step * STREAMS_PER_STEP + this.counter++) >>> 0;
  }
}

/** layer(...) is layer.forward(...), as torch's. */
export interface Dropout {
  (x: Tensor): Tensor;
}

export class Dropout extends Module {
  constructor(readonly p: number, readonly rng: DropoutRng) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, { seed: this.rng.seed, stream: this.rng.nextStream() });
  }

  /** The options for an op that applies dropout itself (attention's probabilities), or undefined when off. */
  options(): { p: number; seed: number; stream: number } | undefined {
    if (!this.training || this.p === 0) return undefined;
    return { p: this.p, seed: this.rng.seed, stream: this.rng.nextStream() };
  }
}
