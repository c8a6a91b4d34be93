// layerNorm over the last dim, and addLayerNorm = layerNorm(x + residual) in one
// kernel (BERT's "add & norm"), optionally of dropout(x): layerNorm(dropout(x) + residual), the mask
// drawn in the kernel as dropout() draws it and regenerated in backward; kernels in shaders/layernorm.wgsl.
// Shapes: x, residual [..., H]; weight, bias [H]; mean (shifted, see LayerNormForward), rstd [rows]
// with rows = x.size / H.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty, keep, zeros } from '../tensor.js';
import type { Runtime } from '../gpu/runtime.js';
import { sumRows } from './reduce.js';
import { checkDropout, dropThreshold } from './random.js';
import type { DropoutOptions } from './dropout.js';

const WG = 64; // workgroup size of forward and backward
/** The dropout mask's key and threshold and the kept elements' scale 1/(1 - p) (read only with DROPOUT). */
const DROPOUT_PARAMS = { seed: 'u32', stream: 'u32', threshold: 'u32', scale: 'f32' } as const;
const PARAMS_WG = 256; // and of backward_params: one column per thread
const FORWARD = defineKernel({
  shader: 'layernorm',
  entryPoint: 'layernorm_forward',
  storage: ['read', 'read', 'read', 'read', 'write', 'write', 'write', 'write'],
  uniforms: { rows: 'u32', H: 'u32', eps: 'f32', ...DROPOUT_PARAMS },
  workgroupSize: WG,
});
const BACKWARD = defineKernel({
  shader: 'layernorm',
  entryPoint: 'layernorm_backward',
  storage: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'write'],
  uniforms: { rows: 'u32', H: 'u32', ...DROPOUT_PARAMS },
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

/** Dropout applied to x inside the kernel: probability p (> 0), keyed as dropout()'s mask. */
export interface FusedDropout extends DropoutOptions {
  p: number;
}

/** The uniforms and override of a kernel with `drop` (or without: DROPOUT off, fields unread). */
function dropoutConfig(drop: FusedDropout | undefined) {
  const params = drop
    ? { seed: drop.seed, stream: drop.stream, threshold: dropThreshold(drop.p), scale: 1 / (1 - drop.p) }
    : { seed: 0, stream: 0, threshold: 0, scale: 1 };
  return { params, DROPOUT: Number(!!drop) };
}

let dummy: { runtime: Runtime; tensor: Tensor } | null = null;

/**
 * A 1-element buffer bound where s or dInput is declared but not written (DROPOUT off): another
 * output bound there too would alias two writable bindings, which WebGPU refuses.
 */
function unwritten(): Tensor {
  const runtime = gpu();
  if (dummy?.runtime !== runtime) dummy = { runtime, tensor: keep(zeros([1])) };
  return dummy.tensor;
}

export interface LayerNormForward {
  out: Tensor;
  /** [rows], for backward: each row's mean measured from the row's first element (mean - s[row, 0]:
   * the shift keeps rows with a large common offset precise, see layernorm.wgsl) and 1/√(var + eps). */
  mean: Tensor;
  rstd: Tensor;
  /** With dropout: s = dropout(x) (+ residual), what backward normalises again (in place of x). */
  sum: Tensor | null;
}

export interface LayerNormGrads {
  /** Gradient of the normalised input s (x's, and residual's when there is one; residual's only, with dropout). */
  dx: Tensor;
  /** With dropout: x's gradient, dropout's backward of dx. */
  dInput: Tensor | null;
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

/** Records the forward kernel; no graph. With `drop`, s = dropout(x) (+ residual) is also returned. */
export function layerNormForward(x: Tensor, residual: Tensor | null, weight: Tensor, bias: Tensor, eps: number, drop?: FusedDropout): LayerNormForward {
  const H = weight.size;
  const rows = x.size / H;
  const out = empty(x.shape);
  const mean = empty([rows]);
  const rstd = empty([rows]);
  const sum = drop ? empty(x.shape) : null;
  const tpr = threadsPerRow(H);
  const dropout = dropoutConfig(drop);
  gpu().dispatch(FORWARD, {
    bindings: [x.binding, (residual ?? x).binding, weight.binding, bias.binding, out.binding, mean.binding, rstd.binding, (sum ?? unwritten()).binding],
    params: { rows, H, eps, ...dropout.params },
    invocations: rows * tpr,
    constants: { HAS_RESIDUAL: Number(!!residual), DROPOUT: dropout.DROPOUT, TPR: tpr },
  });
  return { out, mean, rstd, sum };
}

/**
 * Records the backward kernels; no graph. dWeight/dBias only when `params` is set. With `drop`,
 * `x` is forward's s (residual null) and dInput = dropout's backward of ds is returned too.
 */
export function layerNormBackward(
  x: Tensor, residual: Tensor | null, weight: Tensor, mean: Tensor, rstd: Tensor, dOut: Tensor, params: boolean, drop?: FusedDropout,
): LayerNormGrads {
  const H = weight.size;
  const rows = x.size / H;
  const inputs = [x.binding, (residual ?? x).binding];
  const tpr = threadsPerRow(H);
  const hasResidual = { HAS_RESIDUAL: Number(!!residual) };
  const dx = empty(x.shape);
  const dInput = drop ? empty(x.shape) : null;
  const dropout = dropoutConfig(drop);
  gpu().dispatch(BACKWARD, {
    bindings: [...inputs, weight.binding, mean.binding, rstd.binding, dOut.binding, dx.binding, (dInput ?? unwritten()).binding],
    params: { rows, H, ...dropout.params },
    invocations: rows * tpr,
    constants: { ...hasResidual, DROPOUT: dropout.DROPOUT, TPR: tpr },
  });
  if (!params) return { dx, dInput, dWeight: null, dBias: null };
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
  return { dx, dInput, dWeight, dBias };
}

/** layerNorm(dropout(x) + residual): forward, and backward from the saved s with the mask regenerated. */
function droppedNormalized(x: Tensor, residual: Tensor, weight: Tensor, bias: Tensor, eps: number, drop: FusedDropout): Tensor {
  const { out, mean, rstd, sum } = layerNormForward(x, residual, weight, bias, eps, drop);
  const s = sum!;
  const w = weight.detach(); // backward's own handle
  return record(out, 'dropoutAddLayerNorm', [x, residual, weight, bias], (dOut) => {
    const { dx, dInput, dWeight, dBias } = layerNormBackward(s, null, w, mean, rstd, dOut, weight.requiresGrad || bias.requiresGrad, drop);
    const dX = x.requiresGrad ? dInput : null;
    const dResidual = residual.requiresGrad ? dx : null;
    if (!dX) dInput!.dispose();
    if (!dResidual) dx.dispose();
    return [dX, dResidual, dWeight, dBias];
  }, [mean, rstd, s, w], { readsOnlySaved: true });
}

function normalized(op: string, x: Tensor, residual: Tensor | null, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const { out, mean, rstd } = layerNormForward(x, residual, weight, bias, eps);
  const inputs = residual ? [x, residual, weight, bias] : [x, weight, bias];
  // Backward's own handles on what it normalises again, and on the weight.
  const [xSaved, residualSaved, w] = [x.detach(), residual?.detach() ?? null, weight.detach()];
  return record(out, op, inputs, (dOut) => {
    const { dx, dWeight, dBias } = layerNormBackward(xSaved, residualSaved, w, mean, rstd, dOut, weight.requiresGrad || bias.requiresGrad);
    if (!residual) return [dx, dWeight, dBias];
    // x and residual share one gradient; each input that needs it gets a handle of its own.
    const dX = x.requiresGrad ? dx : null;
    const dResidual = residual.requiresGrad ? (dX ? dx.detach() : dx) : null;
    if (!dX && !dResidual) dx.dispose();
    return [dX, dResidual, dWeight, dBias];
  }, residualSaved ? [mean, rstd, xSaved, residualSaved, w] : [mean, rstd, xSaved, w], { readsOnlySaved: true });
}

/** (x - mean)/√(var + eps)·weight + bias over the last dim (BERT: eps = 1e-12). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-12): Tensor {
  check('layerNorm', x, null, weight, bias);
  return normalized('layerNorm', x, null, weight, bias, eps);
}

/**
 * layerNorm(x + residual) in one kernel; the gradient of x and of residual is the same tensor.
 * With `dropout` (p > 0), layerNorm(dropout(x, p, { seed, stream }) + residual), still one kernel
 * forward and one (plus dweight/dbias's) backward, with dropout()'s mask for the same (seed, stream).
 */
export function addLayerNorm(x: Tensor, residual: Tensor, weight: Tensor, bias: Tensor, eps = 1e-12, dropout?: FusedDropout): Tensor {
  check('addLayerNorm', x, residual, weight, bias);
  if (dropout) checkDropout('addLayerNorm', dropout.p, dropout.seed, dropout.stream);
  if (!dropout || dropout.p === 0) return normalized('addLayerNorm', x, residual, weight, bias, eps);
  return droppedNormalized(x, residual, weight, bias, eps, dropout);
}
