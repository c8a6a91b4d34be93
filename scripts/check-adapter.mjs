// Exits 0 when Dawn finds a WebGPU adapter on this machine, 1 otherwise
// (CI then installs lavapipe). Prints what it found.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.log('no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info ?? {};
console.log(`WebGPU adapter: ${info.description || info.device || info.architecture || info.vendor || 'unnamed'}`);
process.exit(0);
