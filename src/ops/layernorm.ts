// layerNorm over the last dim, and addLayerNorm = layerNorm(x + residual) in one
// kernel (BERT's "add & norm"); kernels in shaders/layernorm.wgsl.
// Shapes: x, residual [..., H]; weight, bias [H]; mean (shifted, see LayerNormForward), rstd [rows]
// with rows = x.size / H.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';
import { sumRows } from './reduce.js';

const WG = 64; // workgroup size of forward and backward
const PARAMS_WG = 256; // and of backward_params: one column per thread
const FORWARD = defineKernel({
  shader: 'layernorm',
  entryPoint: 'layernorm_forward',
  storage: ['read', 'read', 'read', 'read', 'write', 'write', 'write'],
  uniforms: { rows: 'u32', H: 'u32', eps: 'f32' },
  workgroupSize: WG,
});
const BACKWARD = defineKernel({
  shader: 'layernorm',
  entryPoint: 'layernorm_backward',
  storage: ['read', 'read', 'read', 'read', 'read', 'read', 'write'],
  uniforms: { rows: 'u32', H: 'u32' },
  workgroupSize: WG,
});
const BACKWARD_PARAMS = defineKernel({
  shader: 'layernorm',
  entryPoint: 'layernorm_backward_params',
  storage: ['read', 'read', 'write', 'read', 'read', 'read', 'write'],
  uniforms: { rows: 'u32', H: 'u32', rowsPerBlock: 'u32' },
  workgroupSize: PARAMS_WG,
});
const MIN_ROWS_PER_BLOCK = 32; // rows each dweight/dbias partial sums

/**
 * Threads per row (power of two <= WG): about 96 columns each, so a row's sums take few
 * partials (lavapipe runs a workgroup as 8-wide SIMD, and barriers and short loops cost more
 * than rereading a row from cache). H = 768 -> 8 (lavapipe: 4 to 8 measured fastest, 32 1.5x slower), H = 37 -> 1.
 */
function threadsPerRow(H: number): number {
  let tpr = 1;
  while (tpr < WG && tpr * 96 < H) tpr *= 2;
  return tpr;
}

export interface LayerNormForward {
  out: Tensor;
  /** [rows], for backward: each row's mean measured from the row's first element (mean - s[row, 0]:
   * the shift keeps rows with a large common offset precise, see layernorm.wgsl) and 1/√(var + eps). */
  mean: Tensor;
  rstd: Tensor;
}

export interface LayerNormGrads {
  /** Gradient of the normalised input (x, and residual too when there is one). */
  dx: Tensor;
  dWeight: Tensor | null;
  dBias: Tensor | null;
}

function check(op: string, x: Tensor, residual: Tensor | null, weight: Tensor, bias: Tensor): void {
  const H = x.shape[x.rank - 1];
  const describe = (t: Tensor) => `[${t.shape.join(', ')}]`;
  if (x.rank < 1 || x.dtype !== 'f32') throw new Error(`${op}: x must be an f32 tensor of rank >= 1, got ${x.dtype} ${describe(x)}`);
  if (weight.rank !== 1 || weight.size !== H || bias.rank !== 1 || bias.size !== H) {
    throw new Error(`${op}: weight ${describe(weight)} and bias ${describe(bias)} must both be [${H}] for x ${describe(x)}`);
  }
  if (residual && residual.shape.join() !== x.shape.join()) throw new Error(`${op}: residual ${describe(residual)} differs from x ${describe(x)}`);
}

/** Records the forward kernel; no graph. */
export function layerNormForward(x: Tensor, residual: Tensor | null, weight: Tensor, bias: Tensor, eps: number): LayerNormForward {
  const H = weight.size;
  const rows = x.size / H;
  const out = empty(x.shape);
  const mean = empty([rows]);
  const rstd = empty([rows]);
  const tpr = threadsPerRow(H);
  gpu().dispatch(FORWARD, {
    bindings: [x.binding, (residual ?? x).binding, weight.binding, bias.binding, out.binding, mean.binding, rstd.binding],
    params: { rows, H, eps },
    invocations: rows * tpr,
    constants: { HAS_RESIDUAL: Number(!!residual), TPR: tpr },
  });
  return { out, mean, rstd };
}

/** Records the backward kernels; no graph. dWeight/dBias only when `params` is set. */
export function layerNormBackward(
  x: Tensor, residual: Tensor | null, weight: Tensor, mean: Tensor, rstd: Tensor, dOut: Tensor, params: boolean,
): LayerNormGrads {
  const H = weight.size;
  const rows = x.size / H;
  const inputs = [x.binding, (residual ?? x).binding];
  const tpr = threadsPerRow(H);
  const hasResidual = { HAS_RESIDUAL: Number(!!residual) };
  const dx = empty(x.shape);
  gpu().dispatch(BACKWARD, {
    bindings: [...inputs, weight.binding, mean.binding, rstd.binding, dOut.binding, dx.binding],
    params: { rows, H },
    invocations: rows * tpr,
    constants: { ...hasResidual, TPR: tpr },
  });
  if (!params) return { dx, dWeight: null, dBias: null };
  const rowsPerBlock = Math.max(MIN_ROWS_PER_BLOCK, Math.ceil(rows / gpu().maxWorkgroupsPerDimension));
  const blocks = Math.max(1, Math.ceil(rows / rowsPerBlock));
  const dWeightPart = empty([blocks, H]);
  const dBiasPart = empty([blocks, H]);
  gpu().dispatch(BACKWARD_PARAMS, {
    bindings: [...inputs, dWeightPart.binding, mean.binding, rstd.binding, dOut.binding, dBiasPart.binding],
    params: { rows, H, rowsPerBlock },
    workgroups: [Math.ceil(H / PARAMS_WG), blocks],
    constants: hasResidual,
  });
  const dWeight = sumRows(dWeightPart);
  const dBias = sumRows(dBiasPart);
  dWeightPart.dispose();
  dBiasPart.dispose();
  return { dx, dWeight, dBias };
}

function normalized(op: string, x: Tensor, residual: Tensor | null, weight: Tensor, bias: Tensor, eps: number): Tensor {
  check(op, x, residual, weight, bias);
  const { out, mean, rstd } = layerNormForward(x, residual, weight, bias, eps);
  const inputs = residual ? [x, residual, weight, bias] : [x, weight, bias];
  return record(out, op, inputs, (dOut) => {
    const { dx, dWeight, dBias } = layerNormBackward(x, residual, weight, mean, rstd, dOut, weight.requiresGrad || bias.requiresGrad);
    if (!residual) return [dx, dWeight, dBias];
    // x and residual share one gradient; each input that needs it gets a handle of its own.
    const dX = x.requiresGrad ? dx : null;
    const dResidual = residual.requiresGrad ? (dX ? dx.view(dx.shape) : dx) : null;
    if (!dX && !dResidual) dx.dispose();
    return [dX, dResidual, dWeight, dBias];
  }, [mean, rstd]);
}

/** (x - mean)/√(var + eps)·weight + bias over the last dim (BERT: eps = 1e-12). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-12): Tensor {
  return normalized('layerNorm', x, null, weight, bias, eps);
}

/** layerNorm(x + residual) in one kernel; the gradient of x and of residual is the same tensor. */
export function addLayerNorm(x: Tensor, residual: Tensor, weight: Tensor, bias: Tensor, eps = 1e-12): Tensor {
  return normalized('addLayerNorm', x, residual, weight, bias, eps);
}
