// float16 for mixed precision, as torch.autocast(device_type, dtype=torch.float16):
// castToF16 makes a half copy of a float32 tensor (shaders/cast.wgsl, round to nearest even,
// overflow to ±inf; it runs on any device), castToF32 the exact float32 copy of a half one
// (shaders/cast-f32.wgsl), and autocast(fn) runs fn with the matrix products (linear, matmul; so
// attention's batched products too) reading float16 copies of their float32 operands, summing in
// float32 and returning float32 (src/ops/matmul.ts). Everything else (layer norm, softmax, GELU,
// the loss, the gradients, the weights, AdamW) stays float32, as autocast leaves those ops in
// float32 too. No graph node: the ops that cast save the half copies for their backward.
// The float16 products need the device's shader-f16 feature (lavapipe and most GPUs have it;
// Chromium's SwiftShader does not): autocast and requireShaderF16 say so before any work.

import { gpu } from '../gpu/device.js';
import { defineKernel } from '../gpu/pipelines.js';
import { Tensor, empty } from '../tensor.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

const CAST_F16 = defineKernel({ shader: 'cast', entryPoint: 'cast_f16', storage: ['read', 'write'], uniforms: { n: 'u32' }, workgroupSize: 256 });
const CAST_F32 = defineKernel({ shader: 'cast-f32', entryPoint: 'cast_f32', storage: ['read', 'write'], uniforms: { n: 'u32' }, workgroupSize: 256 });

/** The WebGPU feature float16 needs. */
export const SHADER_F16 = 'shader-f16';

/**
 * Throws, naming the adapter and the missing feature, when the current device has no
 * shader-f16; `what` says who asked (e.g. 'TrainingArguments.fp16').
 */
export function requireShaderF16(what: string): void {
  const runtime = gpu();
  if (runtime.features.has(SHADER_F16)) return;
  const adapter = runtime.adapter.description || runtime.adapter.name;
  const has = [...runtime.features].sort().join(', ') || 'none';
  throw new Error(
    `${what}: float16 needs the WebGPU feature '${SHADER_F16}', which the device on adapter '${adapter}' lacks (its features: ${has}). ` +
      'Train in float32 (drop fp16 / --fp16), or run on an adapter with shader-f16 (most GPUs; Mesa lavapipe).',
  );
}

/** x (f32) as float16, a new tensor of x's shape; no graph. */
export function castToF16(x: Tensor): Tensor {
  if (x.dtype !== 'f32') throw new Error(`castToF16: expects an f32 tensor, got ${x.dtype} [${x.shape.join(', ')}]`);
  const out = empty(x.shape, 'f16');
  if (x.size === 0) return out;
  const pairs = Math.ceil(x.size / 2);
  gpu().dispatch(CAST_F16, { bindings: [x.binding, out.binding], params: { n: x.size }, elements: pairs });
  return out;
}

/** x (f16) as float32, exactly (every half is a float32), a new tensor of x's shape; no graph. */
export function castToF32(x: Tensor): Tensor {
  if (x.dtype !== 'f16') throw new Error(`castToF32: expects an f16 tensor, got ${x.dtype} [${x.shape.join(', ')}]`);
  const out = empty(x.shape);
  if (x.size === 0) return out;
  gpu().dispatch(CAST_F32, { bindings: [x.binding, out.binding], params: { n: x.size }, elements: Math.ceil(x.size / 2) });
  return out;
}

let autocastDepth = 0;

/** autocast's options, as torch.autocast's: `enabled` false runs fn in float32; dtype float16 only. */
export interface AutocastOptions {
  enabled?: boolean;
  dtype?: 'float16' | 'f16';
}

const AUTOCAST_DTYPES = ['float16', 'f16'];

/**
 * Runs fn with float16 matrix products (torch.autocast(dtype=torch.float16)): linear and matmul
 * called inside cast their float32 operands to float16, accumulate in float32 and return float32;
 * their backward (wherever it runs) uses the same half copies. Returns fn's result. fn runs
 * synchronously, as every forward does: a Promise it returns is refused (the work after its first
 * await would leave autocast silently).
 */
export function autocast<T>(fn: () => T, options?: WithSnakeCase<AutocastOptions>): T {
  if (typeof fn !== 'function') throw new Error(`autocast: expects the function to run, autocast(() => model.forward(batch)), got ${typeof fn}`);
  const { enabled = true, dtype = 'float16' } = checkOptions<AutocastOptions>('autocast', options, ['enabled', 'dtype']);
  if (typeof enabled !== 'boolean') throw new Error(`autocast: enabled must be true or false, got ${JSON.stringify(enabled)}`);
  if (!AUTOCAST_DTYPES.includes(dtype)) {
    const why = /^(bfloat16|bf16)$/.test(String(dtype)) ? ' (WGSL has no bfloat16)' : '';
    throw new Error(`autocast: dtype '${String(dtype)}' is not available${why}; accepted: ${AUTOCAST_DTYPES.join(', ')}`);
  }
  if (!enabled) return fn();
  requireShaderF16('autocast');
  autocastDepth++;
  try {
    const out = fn();
    if (typeof (out as { then?: unknown } | null)?.then === 'function') {
      (out as PromiseLike<unknown>).then(undefined, () => {}); // its own failure is not the error raised here
      throw new Error('autocast: fn returned a Promise; autocast runs a synchronous function (forward passes are synchronous): await before or after it, not inside');
    }
    return out;
  } finally {
    autocastDepth--;
  }
}

/** True inside autocast(). */
export function autocastEnabled(): boolean {
  return autocastDepth > 0;
}
