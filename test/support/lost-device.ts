// Run by test/gpu.test.ts in a child process: hands the engine a device of
// its own (useDevice), uses it, destroys it, and prints what the next
// operation says. A separate process keeps the test run's shared device intact.

import { create, globals } from 'webgpu';
import { useDevice, tensor, scale, closeDevice } from '../../src/index.js';

Object.assign(globalThis, globals);
// Held for the whole run: Dawn frees the instance (and crashes later) once its GPU object is collected.
const instance = create([]);
const adapter = await instance.requestAdapter();
const device = await adapter!.requestDevice();
useDevice(device, { name: 'test-device' });
const t = tensor([1, 2, 3], [3]);
console.log(`before: ${Array.from(await scale(t, 2).toArray()).join(',')} on a ${t.buffer.constructor.name}`);
device.destroy();
await new Promise((resolve) => setTimeout(resolve, 100));
try {
  scale(t, 2);
  await t.toArray();
  console.log('after: no error');
} catch (e) {
  console.log(`after: ${(e as Error).message}`);
}
closeDevice();
process.exit(0);
