// What the engine knows of an adapter: its description (for tuning keys and
// file names) and whether it is a software rasteriser, which wants other
// kernel shapes than a GPU.

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A short name for file names and tables, e.g. "llvmpipe". */
  name: string;
}

export function describeAdapter(info: GPUAdapterInfo | undefined): AdapterDescription {
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  // "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" -> "llvmpipe"; "NVIDIA H100 80GB HBM3" -> "nvidia-h100-80gb-hbm3"
  const name = (description || device || architecture || vendor || 'unknown-adapter').split(':')[0]
    .toLowerCase().replace(/\(.*?\)/g, '').trim().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'unknown-adapter';
  return { vendor, architecture, device, description, name };
}

/** True for drivers that run on the CPU (Mesa's lavapipe/llvmpipe, SwiftShader), which want other kernel shapes than GPUs. */
export function isSoftwareAdapter(adapter: AdapterDescription): boolean {
  const text = `${adapter.name} ${adapter.description} ${adapter.device} ${adapter.architecture}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader/.test(text);
}
