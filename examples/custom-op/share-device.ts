// "Another WebGPU program" that shares its device with shadergrad (Node; run with
// `npx tsx examples/custom-op/share-device.ts`). It opens its own GPUDevice
// through the `webgpu` package (Dawn) as src/gpu/device.ts does, hands it to the
// engine with useDevice(), writes a GPUBuffer of its own that the engine reads
// as a tensor, runs swish and its backward there, and reads the results back
// from the tensors' buffers (t.buffer, from t.byteOffset) with plain WebGPU calls once the
// engine's recording is submitted (gpu().flush()). Prints one JSON line:
// { adapter, x, out, dx } with dx = d sum(swish(x)) / dx.

import { create, globals } from 'webgpu';
import { closeDevice, empty, gpu, sum, useDevice } from '../../src/index.js';
import { swish } from './swish.js';

Object.assign(globalThis, globals);
// Held for the whole run: Dawn frees the instance (and its device's events) once its GPU object is collected.
const instance = create([]);
const adapter = await instance.requestAdapter();
if (!adapter) throw new Error('no WebGPU adapter (install lavapipe: bash scripts/install-lavapipe.sh)');
const device = await adapter.requestDevice();
useDevice(device, { name: adapter.info.device || adapter.info.description || 'shared-device' });

// The other program's data: a storage buffer it wrote itself.
const values = Float32Array.from({ length: 300 }, (_, i) => (i - 150) / 15);
const bytes = values.byteLength;
const theirs = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(theirs, 0, values);

// Their buffer read as a tensor: a copy recorded in the engine's encoder, ordered with its dispatches.
const x = empty([values.length]);
gpu().copy(theirs, x.buffer, bytes, 0, x.byteOffset);
x.requiresGrad = true;
const out = swish(x);
sum(out).backward();
gpu().flush(); // submits the engine's recording; later submissions on this queue see its results

/** `size` bytes of `source` from `offset` (a tensor's byteOffset), read by plain WebGPU: copy into a mappable buffer, submit, map. */
async function readBack(source: GPUBuffer, offset: number, size: number): Promise<number[]> {
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(source, offset, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const result = Array.from(new Float32Array(staging.getMappedRange().slice(0)));
  staging.destroy();
  return result;
}

const result = {
  adapter: gpu().adapter.name,
  x: Array.from(values),
  out: await readBack(out.buffer, out.byteOffset, out.byteLength),
  dx: await readBack(x.grad!.buffer, x.grad!.byteOffset, x.grad!.byteLength),
};
theirs.destroy();
closeDevice(); // the engine is done with the device; here the program ends with it
console.log(JSON.stringify(result));
process.exit(0);
