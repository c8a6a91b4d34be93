// Kernel contracts and compute pipelines. A Kernel declares, in one place, what
// its WGSL entry point expects: the storage bindings, the uniform struct at
// binding 0 field by field, and the workgroup size (WGSL's `override WG`, or
// `WG_X`, `WG_Y` for a 2-D workgroup, set from here). test/gpu/contracts.test.ts
// holds every declared kernel against the WGSL it binds (contracts.ts). A kernel
// outside the library (an extension's own op) brings its WGSL as `code`.
// Pipelines are created by one function and cached by exactly what created
// them: shader file (or the kernel's own source), entry point, binding layout
// and override constants (the workgroup size included).

import { SHADER_SOURCES } from './shaders.generated.js';

/** A uniform field's WGSL type: a 4-byte scalar, or an array of vec4u (a shape padded to 4·N words). */
export type UniformType = 'u32' | 'i32' | 'f32' | `array<vec4u, ${number}>`;

/** The fields of a uniform struct, by name, in struct order. */
export type UniformFields = Readonly<Record<string, UniformType>>;

/** Values for a kernel's uniform fields: a number for a scalar, 4·N numbers for an array<vec4u, N>. */
export type UniformValues<U extends UniformFields> = {
  readonly [K in keyof U]: U[K] extends `array<${string}` ? readonly number[] : number;
};

/** Invocations per workgroup: x, or [x, y]. */
export type WorkgroupSize = number | readonly [number, number];

/**
 * A kernel's contract. Binding 0 is always the uniform struct whose fields
 * `uniforms` lists; the buffer bindings follow from 1, in order: 'read' for
 * `var<storage, read>`, 'write' for `var<storage, read_write>`, 'uniform' for a
 * `var<uniform>` array (a range of at most maxUniformBufferBindingSize bytes).
 */
export interface Kernel<U extends UniformFields = UniformFields> {
  /** File name in shaders/, without .wgsl; with `code`, the name the kernel's own shader goes by. */
  readonly shader: string;
  /** The WGSL module of a kernel outside the library (an extension's op); without it, the embedded shaders/<shader>.wgsl. */
  readonly code?: string;
  readonly entryPoint: string;
  readonly storage: readonly BufferAccess[];
  readonly uniforms: U;
  /**
   * Where binding 0's struct lives: 'uniform' (the default, `var<uniform>`), or 'storage'
   * (`var<storage, read>`) for a kernel that needs every uniform binding of the stage for itself.
   */
  readonly paramsIn?: 'uniform' | 'storage';
  /** Reaches WGSL as `override WG` (a number) or `override WG_X`, `WG_Y` (a pair). */
  readonly workgroupSize: WorkgroupSize;
}

/** How a kernel binds a buffer after binding 0 (see Kernel). */
export type BufferAccess = 'read' | 'write' | 'uniform';

/** WGSL `override` constants (tile shapes, variant switches; the workgroup size comes from the kernel). */
export type OverrideConstants = Readonly<Record<string, number>>;

const registry = new Map<string, Kernel>();

/** Declares a kernel (every op declares its kernels through this, so the contract test sees them all). */
export function defineKernel<const U extends UniformFields>(kernel: Kernel<U>): Kernel<U> {
  const name = kernelName(kernel);
  if (kernel.code !== undefined && kernel.shader in SHADER_SOURCES) throw new Error(`kernel ${name}: '${kernel.shader}' is a library shader; name your own shader otherwise`);
  if (registry.has(name)) throw new Error(`kernel ${name} is declared twice`);
  registry.set(name, kernel);
  return kernel;
}

/** Every kernel declared so far (those of the modules imported). */
export function declaredKernels(): readonly Kernel[] {
  return [...registry.values()];
}

export function kernelName(kernel: Kernel): string {
  return `${kernel.shader}.${kernel.entryPoint}`;
}

/** The WGSL a kernel binds: its own `code`, or its embedded shader. */
export function kernelSource(kernel: Kernel): string {
  const code = kernel.code ?? SHADER_SOURCES[kernel.shader];
  if (code === undefined) throw new Error(`no shader shaders/${kernel.shader}.wgsl (run \`npm run shaders\` after adding one)`);
  return code;
}

/** The override constants that carry a kernel's workgroup size. */
export function workgroupConstants(kernel: Kernel): Record<string, number> {
  const size = kernel.workgroupSize;
  return typeof size === 'number' ? { WG: size } : { WG_X: size[0], WG_Y: size[1] };
}

/** Invocations in one workgroup of `kernel`. */
export function workgroupInvocations(kernel: Kernel): number {
  const size = kernel.workgroupSize;
  return typeof size === 'number' ? size : size[0] * size[1];
}

interface FieldLayout {
  name: string;
  type: UniformType;
  offset: number;
  /** Words of an array<vec4u, N> field (4·N); 0 for a scalar. */
  words: number;
}

/** The uniform struct's layout by WGSL's rules (scalars align to 4, arrays of vec4u to 16) and its size. */
interface UniformLayout {
  fields: FieldLayout[];
  byName: Map<string, FieldLayout>;
  size: number;
}

const layouts = new WeakMap<Kernel, UniformLayout>();

function uniformLayout(kernel: Kernel): UniformLayout {
  let layout = layouts.get(kernel);
  if (layout) return layout;
  let offset = 0;
  let align = 4;
  const fields = Object.entries(kernel.uniforms).map(([name, type]): FieldLayout => {
    const array = /^array<vec4u, (\d+)>$/.exec(type);
    if (!array && type !== 'u32' && type !== 'i32' && type !== 'f32') throw new Error(`${kernelName(kernel)}: uniform field '${name}' has unsupported type ${type}`);
    const fieldAlign = array ? 16 : 4;
    align = Math.max(align, fieldAlign);
    offset = Math.ceil(offset / fieldAlign) * fieldAlign;
    const field = { name, type, offset, words: array ? 4 * Number(array[1]) : 0 };
    offset += array ? 4 * field.words : 4;
    return field;
  });
  layout = { fields, byName: new Map(fields.map((f) => [f.name, f])), size: Math.ceil(offset / align) * align };
  layouts.set(kernel, layout);
  return layout;
}

/** Bytes of a kernel's uniform struct. */
export function uniformSize(kernel: Kernel): number {
  return uniformLayout(kernel).size;
}

/**
 * Writes `values` into `view` (at least uniformSize bytes) by the kernel's declaration;
 * an unknown, missing or out-of-range field is an error naming the kernel and the field.
 */
export function packUniforms(kernel: Kernel, values: Readonly<Record<string, number | readonly number[]>>, view: DataView): void {
  const layout = uniformLayout(kernel);
  for (const name of Object.keys(values)) {
    if (!layout.byName.has(name)) {
      throw new Error(`${kernelName(kernel)}: unknown uniform field '${name}' (declared: ${layout.fields.map((f) => f.name).join(', ') || 'none'})`);
    }
  }
  for (const field of layout.fields) {
    const value = values[field.name];
    const bad = (what: string) => new Error(`${kernelName(kernel)}: uniform field '${field.name}' (${field.type}) ${what}`);
    if (value === undefined) throw bad('is missing');
    if (field.words) {
      if (typeof value === 'number' || value.length !== field.words) throw bad(`needs ${field.words} numbers, got ${typeof value === 'number' ? 'one' : value.length}`);
      value.forEach((v, i) => {
        if (!isU32(v)) throw bad(`element ${i} is ${v}, not an integer in [0, 2^32)`);
        view.setUint32(field.offset + 4 * i, v, true);
      });
    } else if (typeof value !== 'number') {
      throw bad('is a scalar, got an array');
    } else if (field.type === 'f32') {
      view.setFloat32(field.offset, value, true);
    } else if (field.type === 'u32') {
      if (!isU32(value)) throw bad(`is ${value}, not an integer in [0, 2^32)`);
      view.setUint32(field.offset, value, true);
    } else {
      if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) throw bad(`is ${value}, not an integer in [-2^31, 2^31)`);
      view.setInt32(field.offset, value, true);
    }
  }
}

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string | number, GPUShaderModule>();
  /** A number per distinct `code` of an extension's kernel, so a pipeline key names its source exactly. */
  private readonly sourceIds = new Map<string, number>();
  /** Pipelines created so far; a training step after warm-up must not raise it. */
  created = 0;

  constructor(private readonly device: GPUDevice) {}

  get(kernel: Kernel, constants: OverrideConstants = {}): GPUComputePipeline {
    const sizeConstants = workgroupConstants(kernel);
    for (const name of Object.keys(sizeConstants)) {
      if (name in constants) throw new Error(`${kernelName(kernel)}: the workgroup size ${name} comes from the kernel's declaration, not from constants`);
    }
    const all = { ...constants, ...sizeConstants };
    const key = JSON.stringify([this.sourceKey(kernel), kernel.entryPoint, kernel.storage, sortedEntries(all)]);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.create(kernel, all);
      this.pipelines.set(key, pipeline);
      this.created++;
    }
    return pipeline;
  }

  private create(kernel: Kernel, constants: OverrideConstants): GPUComputePipeline {
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: kernel.paramsIn === 'storage' ? 'read-only-storage' : 'uniform' } },
      ...kernel.storage.map((access, i): GPUBindGroupLayoutEntry => ({
        binding: i + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: ({ read: 'read-only-storage', write: 'storage', uniform: 'uniform' } as const)[access] },
      })),
    ];
    const layout = this.device.createPipelineLayout({ bindGroupLayouts: [this.device.createBindGroupLayout({ entries })] });
    return this.device.createComputePipeline({
      layout,
      compute: { module: this.module(kernel), entryPoint: kernel.entryPoint, constants: { ...constants } },
    });
  }

  /** An embedded shader by its name (fixed per build); a kernel's own code by its source's number. */
  private sourceKey(kernel: Kernel): string | number {
    if (kernel.code === undefined) return kernel.shader;
    let id = this.sourceIds.get(kernel.code);
    if (id === undefined) this.sourceIds.set(kernel.code, (id = this.sourceIds.size));
    return id;
  }

  private module(kernel: Kernel): GPUShaderModule {
    const key = this.sourceKey(kernel);
    let module = this.modules.get(key);
    if (!module) {
      module = this.device.createShaderModule({ label: kernel.shader, code: kernelSource(kernel) });
      this.modules.set(key, module);
    }
    return module;
  }
}

function sortedEntries(constants: OverrideConstants): [string, number][] {
  return Object.entries(constants).sort(([a], [b]) => (a < b ? -1 : 1));
}
