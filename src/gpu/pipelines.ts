// Compute pipelines, created by one function and cached by exactly what
// created them: shader file, entry point, binding layout and override constants.

import { SHADER_SOURCES } from './shaders.generated.js';

/**
 * A kernel's contract. Binding 0 is always the uniform params block; storage
 * bindings follow from 1, in order: 'read' for `var<storage, read>`, 'write'
 * for `var<storage, read_write>`.
 */
export interface Kernel {
  /** File name in shaders/, without .wgsl. */
  readonly shader: string;
  readonly entryPoint: string;
  readonly storage: readonly ('read' | 'write')[];
}

/** WGSL `override` constants (workgroup sizes, tile shapes, variant switches). */
export type OverrideConstants = Readonly<Record<string, number>>;

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  /** Pipelines created so far; a training step after warm-up must not raise it. */
  created = 0;

  constructor(private readonly device: GPUDevice) {}

  get(kernel: Kernel, constants: OverrideConstants = {}): GPUComputePipeline {
    const key = JSON.stringify([kernel.shader, kernel.entryPoint, kernel.storage, sortedEntries(constants)]);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.create(kernel, constants);
      this.pipelines.set(key, pipeline);
      this.created++;
    }
    return pipeline;
  }

  private create(kernel: Kernel, constants: OverrideConstants): GPUComputePipeline {
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ...kernel.storage.map((access, i): GPUBindGroupLayoutEntry => ({
        binding: i + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: access === 'read' ? 'read-only-storage' : 'storage' },
      })),
    ];
    const layout = this.device.createPipelineLayout({ bindGroupLayouts: [this.device.createBindGroupLayout({ entries })] });
    return this.device.createComputePipeline({
      layout,
      compute: { module: this.module(kernel.shader), entryPoint: kernel.entryPoint, constants: { ...constants } },
    });
  }

  private module(shader: string): GPUShaderModule {
    let module = this.modules.get(shader);
    if (!module) {
      const code = SHADER_SOURCES[shader];
      if (code === undefined) throw new Error(`no shader shaders/${shader}.wgsl (run \`npm run shaders\` after adding one)`);
      module = this.device.createShaderModule({ label: shader, code });
      this.modules.set(shader, module);
    }
    return module;
  }
}

function sortedEntries(constants: OverrideConstants): [string, number][] {
  return Object.entries(constants).sort(([a], [b]) => (a < b ? -1 : 1));
}
