// Every declared kernel (defineKernel, src/gpu/pipelines.ts) against the WGSL it
// binds, as embedded (shaders/lib/ included), by checkKernelContract
// (src/gpu/contracts.ts): the uniform struct its entry point reads at
// @binding(0) has exactly the declared fields, in order, with the declared
// types; the buffer bindings it reads and writes are the declared ones with
// the declared access (storage or uniform); its @workgroup_size is the override the contract sets
// (WG, or WG_X and WG_Y). Every @compute entry point in shaders/ has a
// contract. A reordered, retyped or missing field fails here, not in the numbers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SHADER_SOURCES } from '../../src/gpu/shaders.generated.js';
import { declaredKernels, defineKernel, kernelName, type Kernel } from '../../src/gpu/pipelines.js';
import { checkKernelContract, computeEntryPoints } from '../../src/gpu/contracts.js';
import { gpu } from '../../src/gpu/device.js';
import { setupDevice } from '../helpers.js';

// Every module of the folders that declare kernels, so every kernel is declared before the checks.
for (const dir of ['src/ops', 'src/optim']) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) await import(pathToFileURL(`${dir}/${file}`).href);
}

// The panel product's kernels are written per shape on first use: declare the fewest bindings, the most, and several panels.
const { MAX_BINDINGS, panelKernel } = await import('../../src/ops/matmul-panel.js');
panelKernel(1, 1);
panelKernel(1, MAX_BINDINGS);
panelKernel(3, 3);

function libraryEntryPoints(): string[] {
  return Object.entries(SHADER_SOURCES).flatMap(([shader, source]) => computeEntryPoints(source).map((name) => `${shader}.${name}`));
}

test('every declared kernel matches the WGSL it binds', () => {
  const kernels = declaredKernels();
  assert.ok(kernels.length > 30, `${kernels.length} kernels declared`);
  const problems = kernels.flatMap((k) => {
    if (k.code === undefined && SHADER_SOURCES[k.shader] === undefined) return [`${kernelName(k)}: no shader shaders/${k.shader}.wgsl`];
    return checkKernelContract(k).map((p) => `${kernelName(k)}: ${p}`);
  });
  assert.equal(problems, []);
});

test('every @compute entry point in shaders/ has a declared kernel', () => {
  const declared = new Set(declaredKernels().map(kernelName));
  const entries = libraryEntryPoints();
  assert.ok(entries.length > 30, `${entries.length} entry points found`);
  assert.equal(entries.filter((e) => !declared.has(e)), []);
});

test('a reordered, retyped or dropped uniform field and a wrong binding access each fail the check', () => {
  const kernel = declaredKernels().find((k) => kernelName(k) === 'layernorm.layernorm_forward')!;
  const source = SHADER_SOURCES.layernorm;
  assert.equal(checkKernelContract(kernel, source), []);
  const struct = /struct ForwardParams \{[^}]*\}/.exec(source)![0];
  const mutate = (edit: (s: string) => string) => checkKernelContract(kernel, source.replace(struct, edit(struct)));
  assert.match(mutate((s) => s.replace(/(rows: u32,)(\s*)(H: u32,)/, '$3$2$1')).join(), /declared \{rows: u32, H: u32, eps: f32, seed: u32, stream: u32, threshold: u32, scale: f32\}/);
  assert.match(mutate((s) => s.replace('eps: f32', 'eps: u32')).join(), /eps: u32/);
  assert.match(mutate((s) => s.replace(/\s*eps: f32,[^\n]*/, '')).join(), /ForwardParams/);
  const retyped = { ...kernel, storage: kernel.storage.map((a, i) => (i === 0 ? 'write' : a)) } as Kernel;
  assert.match(checkKernelContract(retyped, source).join(), /@binding\(1\) x is var<storage, read>; declared write/);
  const resized = { ...kernel, workgroupSize: [8, 8] } as Kernel;
  assert.match(checkKernelContract(resized, source).join(), /@workgroup_size is not \(WG_X, WG_Y\)/);
});

test('dispatch packs uniforms by name: an unknown or missing field is an error naming the kernel and the field', async () => {
  await setupDevice();
  const scale = declaredKernels().find((k) => kernelName(k) === 'elementwise.scale')!;
  const buffers = [gpu().pool.acquire(16), gpu().pool.acquire(16)];
  const dispatch = (params: Record<string, number>) => gpu().dispatch(scale, { bindings: buffers, params, invocations: 4 });
  assert.throws(() => dispatch({ n: 4, alpha: 1, beta: 2 }), /elementwise\.scale: unknown uniform field 'beta' \(declared: n, alpha\)/);
  assert.throws(() => dispatch({ n: 4 }), /elementwise\.scale: uniform field 'alpha' \(f32\) is missing/);
  assert.throws(() => dispatch({ n: -1, alpha: 1 }), /elementwise\.scale: uniform field 'n' \(u32\) is -1/);
  assert.throws(() => defineKernel({ ...scale }), /elementwise\.scale is declared twice/);
  await gpu().sync();
  for (const b of buffers) gpu().pool.release(b);
});

test.run();
