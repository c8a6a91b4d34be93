// The WebGPU device the engine runs on: one shared GPUDevice, from the `webgpu`
// package (Dawn) in Node or from `navigator.gpu` in a browser, or handed in by
// another WebGPU project through useDevice().

import { Runtime } from './runtime.js';
import { describeAdapter, type AdapterDescription } from './adapter.js';

export { isSoftwareAdapter, type AdapterDescription } from './adapter.js';

/** Features turned on whenever the adapter has them. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups'];

/** init()'s error in Node when Dawn finds no adapter. */
export const NO_ADAPTER_HELP =
  'No WebGPU adapter found. On a machine without a GPU, install Mesa\'s lavapipe (a Vulkan driver that runs ' +
  'on the CPU), Mesa 24 or newer: on Debian 12, `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1` ' +
  '(in a clone of shadergrad: `bash scripts/install-lavapipe.sh`). With a GPU, install its Vulkan driver.';

/** init()'s error in a browser without WebGPU. */
export const NO_BROWSER_WEBGPU_HELP =
  'This browser gives the page no WebGPU (navigator.gpu is missing or has no adapter). Use a browser with WebGPU ' +
  '(Chrome or Edge 113 or newer; Safari and Firefox in their recent versions), on an https:// or localhost page; ' +
  'Chromium on Linux needs the flag --enable-unsafe-webgpu (chrome://flags/#enable-unsafe-webgpu).';

/** init()'s error in Node when the `webgpu` package (Dawn) is not installed. */
export const NO_DAWN_HELP = 'WebGPU in Node comes from the `webgpu` package (Dawn\'s bindings): `npm install webgpu`.';

const inNode = () => Boolean((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node);


let runtime: Runtime | null = null;
// Dawn's node bindings free the instance when its GPU object is collected, and
// the device's pending events with it: hold it for the life of the process.
let instance: GPU | null = null;
let pending: Promise<Runtime> | null = null;

async function findGPU(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (!inNode()) throw new Error(NO_BROWSER_WEBGPU_HELP);
  // Node: Dawn's bindings. Imported lazily so browser bundles never need it.
  const moduleName = 'webgpu';
  let dawn: { create(flags: string[]): GPU; globals: object };
  try {
    dawn = (await import(moduleName)) as typeof dawn;
  } catch (e) {
    throw new Error(`${NO_DAWN_HELP} (${(e as Error).message})`, { cause: e });
  }
  Object.assign(globalThis, dawn.globals);
  return dawn.create([]);
}

async function createDevice(): Promise<Runtime> {
  const gpu = (instance ??= await findGPU());
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(inNode() ? NO_ADAPTER_HELP : NO_BROWSER_WEBGPU_HELP);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      // BERT-base's word embedding alone is 89 MB: ask for the adapter's maximum.
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: adapter.limits.maxComputeWorkgroupSizeY,
    },
  });
  const created = new Runtime(device, describeAdapter(adapter.info));
  created.memoryBudget = await hostMemory();
  return created;
}

/** The machine's memory in Node (what a CPU adapter's buffers and every loaded checkpoint pass through); null in a browser. */
async function hostMemory(): Promise<number | null> {
  if (!inNode()) return null;
  const moduleName = 'node:os';
  const os = (await import(moduleName)) as { totalmem(): number };
  return os.totalmem();
}

/** Opens (once) and returns the shared device. Every other call returns the same one. */
export async function getDevice(): Promise<GPUDevice> {
  return (await init()).device;
}

/** Opens the shared device and the engine's runtime on it; idempotent. */
export async function init(): Promise<Runtime> {
  if (runtime) return runtime;
  pending ??= createDevice().then((r) => (runtime = r)).finally(() => (pending = null));
  return pending;
}

/**
 * Runs the engine on a device that another WebGPU project created. The device
 * should have the limits the models need (see getDevice for what is asked for).
 */
export function useDevice(device: GPUDevice, adapter?: Partial<AdapterDescription>): Runtime {
  runtime?.release();
  runtime = new Runtime(device, { ...describeAdapter(undefined), name: 'external-device', ...adapter });
  return runtime;
}

/** The runtime ops record into; throws if no device has been opened yet. */
export function gpu(): Runtime {
  if (!runtime) throw new Error('No WebGPU device yet: `await init()` (or getDevice()/useDevice()) before creating tensors');
  return runtime;
}

/** True once a device has been opened. */
export function hasDevice(): boolean {
  return runtime !== null;
}

/** Destroys the shared device (tests and command-line tools call this before exiting). */
export function closeDevice(): void {
  runtime?.release();
  runtime?.device.destroy();
  runtime = null;
}
