// LayerNorm(H, eps) over the last dim: weight (γ) 1, bias (β) 0 at init.

import { Tensor, ones, zeros } from '../tensor.js';
import { addLayerNorm, layerNorm, type FusedDropout } from '../ops/layernorm.js';
import { Module } from './module.js';

export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;

  constructor(readonly size: number, readonly eps = 1e-12) {
    super();
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
