// Linear(in, out): y = x·Wᵀ + b, weight [out, in] and bias [out] as in
// Hugging Face checkpoints. Initialised as Hugging Face's _init_weights:
// weight ~ normal(0, std), bias 0.

import { Tensor, randn, zeros } from '../tensor.js';
import { linear, type LinearOptions } from '../ops/matmul.js';
import { Module, nextInitSeed } from './module.js';
import { checkOptions } from '../options.js';

/** Linear's options: the weight's init std (no bias: false; a Linear has its bias). */
export interface LinearLayerOptions { std?: number }

/** layer(...) is layer.forward(...), as torch's. */
export interface Linear {
  (x: Tensor, options?: LinearOptions): Tensor;
}

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options?: LinearLayerOptions) {
    super();
    const { std = 0.02 } = checkOptions<LinearLayerOptions>('Linear', options, ['std']);
    this.weight = this.parameter(randn([outFeatures, inFeatures], { std, seed: nextInitSeed() }));
    this.bias = this.parameter(zeros([outFeatures]));
  }

  /** x [..., in] -> [..., out]; `options.activation` applies a GELU in the product's epilogue. */
  forward(x: Tensor, options?: LinearOptions): Tensor {
    return linear(x, this.weight, this.bias, options);
  }
}
