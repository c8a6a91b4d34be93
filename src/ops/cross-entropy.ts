// crossEntropy(logits [N, C], labels [N]): mean over non-ignored rows of
// logsumexp(logits_n) - logits_n[label_n], log-softmax fused; backward
// dlogits = (softmax - onehot) / count on counted rows, 0 on ignored ones.
// Forward saves only the per-row (max, sum of exp) [N, 2] and 1 / count.
//
// Labels as an Int32Array are checked here (a label outside [0, C) that is not
// ignoreIndex throws, naming the value and its row). A label Tensor cannot be
// checked without a readback: a bad label there makes the loss NaN.
// When every label is ignored the loss is 0 and the gradient 0 (Hugging Face
// gives NaN; a NaN would poison the optimizer).

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty, tensor } from '../tensor.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

const WG = 256; // threads per row (a power of two)
const CE_ROWS = defineKernel({
  shader: 'cross-entropy',
  entryPoint: 'ce_rows',
  storage: ['read', 'read', 'write', 'write'],
  uniforms: { rows: 'u32', cols: 'u32', ignoreIndex: 'i32', nanBits: 'u32' },
  workgroupSize: WG,
});
const CE_REDUCE = defineKernel({ shader: 'cross-entropy', entryPoint: 'ce_reduce', storage: ['read', 'write', 'write'], uniforms: { rows: 'u32' }, workgroupSize: WG });
const CE_BACKWARD = defineKernel({
  shader: 'cross-entropy',
  entryPoint: 'ce_backward',
  storage: ['read', 'read', 'read', 'read', 'read', 'write'],
  uniforms: { rows: 'u32', cols: 'u32', ignoreIndex: 'i32' },
  workgroupSize: WG,
});
const NAN_BITS = 0x7fc00000;

export interface CrossEntropyOptions {
  /** Rows with this label are left out of the mean (default -100, as in PyTorch). */
  ignoreIndex?: number;
}

/** Throws naming the first label outside [0, C) that is not `ignoreIndex`, and its row (BERT's heads check theirs before uploading them). */
export function checkLabels(labels: Int32Array, C: number, ignoreIndex: number): void {
  labels.forEach((label, row) => {
    if (label !== ignoreIndex && (label < 0 || label >= C)) {
      throw new Error(`crossEntropy: label ${label} in row ${row} is outside [0, ${C}) and is not the ignore index ${ignoreIndex}`);
    }
  });
}

/** number[] labels -> an Int32Array; a value that is not an integer is named by its row. */
function integerLabels(labels: readonly number[]): Int32Array {
  if (!Array.isArray(labels)) throw new Error(`crossEntropy: labels must be an Int32Array, a number[] or an i32 tensor, got ${Object.prototype.toString.call(labels)}`);
  const bad = labels.findIndex((v) => !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31);
  if (bad >= 0) throw new Error(`crossEntropy: label ${JSON.stringify(labels[bad])} in row ${bad} is not an integer class index`);
  return Int32Array.from(labels);
}

/** The label of rows left out of the loss, as PyTorch's cross_entropy and transformers' padded labels. */
export const IGNORE_INDEX = -100;

export function crossEntropy(logits: Tensor, given: Int32Array | readonly number[] | Tensor, options?: WithSnakeCase<CrossEntropyOptions>): Tensor {
  const { ignoreIndex = IGNORE_INDEX } = checkOptions<CrossEntropyOptions>('crossEntropy', options, ['ignoreIndex']);
  // number[] labels as torch's tensor of class indices (an f32 upload of them was read as i32 bits: a NaN loss).
  const labels = given instanceof Tensor || given instanceof Int32Array ? given : integerLabels(given);
  if (logits.rank !== 2 || logits.dtype !== 'f32') throw new Error(`crossEntropy: logits must be f32 [N, C], got ${logits.dtype} [${logits.shape.join(', ')}]`);
  const [N, C] = logits.shape;
  const labelCount = labels instanceof Tensor ? labels.size : labels.length;
  if (labelCount !== N || (labels instanceof Tensor && (labels.dtype !== 'i32' || labels.rank !== 1))) {
    const described = labels instanceof Tensor ? `${labels.dtype} [${labels.shape.join(', ')}]` : `${labels.length} labels`;
    throw new Error(`crossEntropy: labels must be i32 [${N}] for logits [${N}, ${C}], got ${described}`);
  }
  if (!Number.isInteger(ignoreIndex)) throw new Error(`crossEntropy: ignoreIndex ${ignoreIndex} is not an integer`);
  if (!(labels instanceof Tensor)) checkLabels(labels, C, ignoreIndex);
  // The kernels' copy of the labels: an upload of the array, or a view sharing the caller's tensor.
  const labelTensor = labels instanceof Tensor ? labels.detachedView([N]) : tensor(labels, [N]);

  const stats = empty([N, 2]);
  const rowLoss = empty([N, 2]);
  gpu().dispatch(CE_ROWS, {
    bindings: [logits.binding, labelTensor.binding, stats.binding, rowLoss.binding],
    params: { rows: N, cols: C, ignoreIndex, nanBits: NAN_BITS },
    workgroups: N, // one per row
  });
  const loss = empty([]);
  const invCount = empty([1]);
  gpu().dispatch(CE_REDUCE, { bindings: [rowLoss.binding, loss.binding, invCount.binding], params: { rows: N }, workgroups: 1 });
  rowLoss.dispose();

  const logitsSaved = logits.detach(); // backward's own handle on the logits
  return record(loss, 'crossEntropy', [logits], (dLoss) => {
    const dx = empty(logits.shape);
    gpu().dispatch(CE_BACKWARD, {
      bindings: [logitsSaved.binding, labelTensor.binding, stats.binding, dLoss.binding, invCount.binding, dx.binding],
      params: { rows: N, cols: C, ignoreIndex },
      workgroups: N,
    });
    return [dx];
  }, [stats, invCount, labelTensor, logitsSaved], { readsOnlySaved: true });
}
