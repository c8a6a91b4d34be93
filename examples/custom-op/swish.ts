// A custom op written against shadergrad's extension API: swish (SiLU),
// swish(x) = x·σ(x), with its backward, plus the plain SGD step that trains a
// model using it. Each kernel's WGSL is this module's own (Kernel.code); its
// contract (bindings, uniform fields, workgroup size) is declared once with
// defineKernel and held against that WGSL by checkKernelContract
// (test/examples/custom-op.test.ts). Shapes: any; elementwise over n elements.

import { defineKernel, empty, gpu, record, type Tensor } from '../../src/browser.js';

/**
 *   swish_forward:  1 x [n], 2 out [n]            out = x·σ(x)
 *   swish_backward: 1 x [n], 2 dOut [n], 3 dx [n] dx = dOut·σ(x)·(1 + x·(1 - σ(x)))   (d/dx of x·σ(x))
 *   sgd_step:       1 grad [n], 2 param [n]       param -= lr·grad, in place
 * Dispatch: n invocations in workgroups of WG, spread over x and y past the device's
 * per-dimension limit (runtime.ts grid()): i = (wid.y·nwg.x + wid.x)·WG + lid.
 * σ(x) from e = exp(-|x|) in (0, 1]: 1/(1 + e) for x >= 0, e/(1 + e) below, so no exp overflows.
 */
export const SWISH_WGSL = /* wgsl */ `
struct Params {
  n: u32,
}

struct SgdParams {
  n: u32,
  lr: f32,
}

override WG: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(0) var<uniform> sgd: SgdParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e, 1.0, v >= 0.0) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn swish_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < params.n) {
    let v = x[i];
    out[i] = v * sigmoid(v);
  }
}

@compute @workgroup_size(WG)
fn swish_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < params.n) {
    let v = x[i];
    let s = sigmoid(v);
    dx[i] = dOut[i] * s * (1.0 + v * (1.0 - s));
  }
}

@compute @workgroup_size(WG)
fn sgd_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i < sgd.n) {
    param[i] = param[i] - sgd.lr * grad[i];
  }
}
`;

/** One kernel of SWISH_WGSL: n elements, one per invocation. */
const swishKernel = (entryPoint: string, storage: readonly ('read' | 'write')[]) =>
  defineKernel({ shader: 'custom-swish', code: SWISH_WGSL, entryPoint, storage, uniforms: { n: 'u32' }, workgroupSize: 256 });
export const SWISH_FORWARD = swishKernel('swish_forward', ['read', 'write']);
export const SWISH_BACKWARD = swishKernel('swish_backward', ['read', 'read', 'write']);
export const SGD_STEP = defineKernel({
  shader: 'custom-swish', code: SWISH_WGSL, entryPoint: 'sgd_step', storage: ['read', 'write'], uniforms: { n: 'u32', lr: 'f32' }, workgroupSize: 256,
});

/** swish(x) = x·σ(x) (SiLU). Forward dispatches one kernel; backward, recorded with it, another. */
export function swish(x: Tensor): Tensor {
  if (x.dtype !== 'f32') throw new Error(`swish: expects an f32 tensor, got ${x.dtype} [${x.shape.join(', ')}]`);
  const out = empty(x.shape);
  gpu().dispatch(SWISH_FORWARD, { bindings: [x.binding, out.binding], params: { n: x.size }, invocations: x.size });
  // Backward reads x itself (no saved tensor): dx = dOut·σ(x)·(1 + x·(1 - σ(x))).
  return record(out, 'swish', [x], (dOut) => {
    const dx = empty(x.shape);
    gpu().dispatch(SWISH_BACKWARD, { bindings: [x.binding, dOut.binding, dx.binding], params: { n: x.size }, invocations: x.size });
    return [dx];
  });
}

/** Plain SGD, in place on each parameter's buffer: p -= lr·p.grad; then drops the gradients. */
export function sgdStep(parameters: readonly Tensor[], lr: number): void {
  for (const p of parameters) {
    if (!p.grad) continue;
    gpu().dispatch(SGD_STEP, { bindings: [p.grad.binding, p.binding], params: { n: p.size, lr }, invocations: p.size });
    p.grad.dispose();
    p.grad = null;
  }
}
