// shadergrad's public API.

import { gpu } from './gpu/device.js';

export { init, getDevice, useDevice, closeDevice, hasDevice, gpu, NO_ADAPTER_HELP } from './gpu/device.js';
export type { AdapterDescription } from './gpu/device.js';
export { Runtime, grid } from './gpu/runtime.js';
export type { Param, Binding, DispatchOptions } from './gpu/runtime.js';
export type { Kernel, OverrideConstants } from './gpu/pipelines.js';
export type { PoolStats } from './gpu/pool.js';

export { Tensor, tensor, zeros, ones, full, randn, empty, tidy, keep } from './tensor.js';
export type { DType, TensorOptions } from './tensor.js';
export { noGrad, isGradEnabled, record } from './autograd.js';
export type { GradFn } from './autograd.js';

export { add, mul, scale } from './ops/elementwise.js';
export { sum, mean } from './ops/reduce.js';
export { reshape, permute, transpose } from './ops/shape.js';
export { matmul, linear } from './ops/matmul.js';
export type { MatmulOptions } from './ops/matmul.js';

/** Pending GPU work submitted, resolved when it has finished. */
export async function flush(): Promise<void> {
  await gpu().sync();
}
