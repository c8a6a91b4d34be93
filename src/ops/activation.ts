// gelu (exact erf form, as BERT's) and tanh (BERT's pooler), each with its
// backward; kernels in shaders/activation.wgsl. Shapes: any; elementwise.

import { gpu } from '../gpu/device.js';
import { defineKernel, type Kernel } from '../gpu/pipelines.js';
import { record } from '../autograd.js';
import { Tensor, empty } from '../tensor.js';
import { checkOptions } from '../options.js';

const UNARY = ['read', 'write'] as const;
const BINARY = ['read', 'read', 'write'] as const;
/** Every activation kernel: n elements, one per invocation. */
const activationKernel = (entryPoint: string, storage: Kernel['storage']) =>
  defineKernel({ shader: 'activation', entryPoint, storage, uniforms: { n: 'u32' }, workgroupSize: 256 });
const GELU_FORWARD = activationKernel('gelu_forward', UNARY);
const GELU_BACKWARD = activationKernel('gelu_backward', BINARY);
const TANH_FORWARD = activationKernel('tanh_forward', UNARY);
const TANH_BACKWARD = activationKernel('tanh_backward', BINARY);

function checkF32(op: string, x: Tensor): void {
  if (x.dtype !== 'f32') throw new Error(`${op}: expects an f32 tensor, got ${x.dtype} [${x.shape.join(', ')}]`);
}

/** Records one flat elementwise kernel over `inputs` (all of out's size) into a new tensor; no graph. */
function elementwise(kernel: typeof GELU_FORWARD, inputs: Tensor[], shape: readonly number[]): Tensor {
  const out = empty(shape);
  gpu().dispatch(kernel, { bindings: [...inputs.map((t) => t.binding), out.binding], params: { n: out.size }, elements: out.size });
  return out;
}

/** GELU forward, no graph: x·Φ(x). */
export function geluForward(x: Tensor): Tensor {
  return elementwise(GELU_FORWARD, [x], x.shape);
}

/** GELU backward, no graph: dOut·(Φ(x) + x·φ(x)). */
export function geluBackward(x: Tensor, dOut: Tensor): Tensor {
  return elementwise(GELU_BACKWARD, [x, dOut], x.shape);
}

/** tanh forward, no graph. */
export function tanhForward(x: Tensor): Tensor {
  return elementwise(TANH_FORWARD, [x], x.shape);
}

/** tanh backward from the saved output y, no graph: dOut·(1 - y²). */
export function tanhBackward(y: Tensor, dOut: Tensor): Tensor {
  return elementwise(TANH_BACKWARD, [y, dOut], y.shape);
}

export interface GeluOptions {
  /** torch's approximate: 'none' (the exact erf form, BERT's) only; 'tanh' is not implemented. */
  approximate?: 'none';
}

/** GELU, exact erf form: 0.5·x·(1 + erf(x/√2)). */
export function gelu(x: Tensor, options?: GeluOptions): Tensor {
  const { approximate = 'none' } = checkOptions<GeluOptions>('gelu', options, ['approximate']);
  if (approximate !== 'none') throw new Error(`gelu: approximate ${JSON.stringify(approximate)} is not implemented (only 'none', the exact erf form)`);
  checkF32('gelu', x);
  const out = geluForward(x);
  const xSaved = x.detach(); // backward's own handle on x
  return record(out, 'gelu', [x], (dOut) => [geluBackward(xSaved, dOut)], [xSaved], { readsOnlySaved: true });
}

/** tanh(x); backward uses the saved output. */
export function tanh(x: Tensor): Tensor {
  checkF32('tanh', x);
  const out = tanhForward(x);
  // A handle of its own on out's storage: backward reads y even if the caller disposed `out`.
  const y = out.detach();
  return record(out, 'tanh', [x], (dOut) => [tanhBackward(y, dOut)], [y], { readsOnlySaved: true });
}
