// LayerNorm(H, eps) over the last dim: weight (γ) 1, bias (β) 0 at init.

import { Tensor, ones, zeros } from '../tensor.js';
import { addLayerNorm, layerNorm, type FusedDropout } from '../ops/layernorm.js';
import { Module } from './module.js';
import { checkOptions } from '../options.js';

export interface LayerNormOptions {
  /** Added to the variance (default 1e-5, torch's). */
  eps?: number;
}

/** layer(...) is layer.forward(...), as torch's. */
export interface LayerNorm {
  (x: Tensor, residual?: Tensor, dropout?: FusedDropout): Tensor;
}

export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;

  readonly eps: number;

  /** torch's nn.LayerNorm(size, eps=1e-5): eps as a number or { eps } (BERT passes its config's layer_norm_eps, 1e-12). */
  constructor(readonly size: number, eps: number | LayerNormOptions = {}) {
    super();
    const { eps: given = 1e-5 } = typeof eps === 'number' ? { eps } : checkOptions<LayerNormOptions>('LayerNorm', eps, ['eps']);
    if (!(Number.isFinite(given) && given > 0)) throw new Error(`LayerNorm: eps must be a positive number, got ${JSON.stringify(given)}`);
    if (!(Number.isInteger(size) && size > 0)) throw new Error(`LayerNorm: size must be a positive integer (the last dim), got ${JSON.stringify(size)}`);
    this.eps = given;
    this.weight = this.parameter(ones([size]));
    this.bias = this.parameter(zeros([size]));
  }

  /**
   * LayerNorm(x), or LayerNorm(x + residual) in one kernel, or LayerNorm(dropout(x) + residual)
   * with `dropout` (a Dropout's options(): undefined in eval), still one kernel; x [..., H] -> [..., H].
   */
  forward(x: Tensor, residual?: Tensor, dropout?: FusedDropout): Tensor {
    if (!residual) return layerNorm(x, this.weight, this.bias, this.eps);
    return addLayerNorm(x, residual, this.weight, this.bias, this.eps, dropout);
  }
}
