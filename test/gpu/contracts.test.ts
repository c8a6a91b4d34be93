// Every declared kernel (defineKernel, src/gpu/pipelines.ts) against the WGSL it
// binds, as embedded (shaders/lib/ included): the uniform struct its entry point
// reads at @binding(0) has exactly the declared fields, in order, with the
// declared types; the storage bindings it reads and writes are the declared
// ones with the declared access; its @workgroup_size is the override the
// contract sets (WG, or WG_X and WG_Y). Every @compute entry point has a
// contract. A reordered, retyped or missing field fails here, not in the numbers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SHADER_SOURCES } from '../../src/gpu/shaders.generated.js';
import { declaredKernels, defineKernel, kernelName, type Kernel } from '../../src/gpu/pipelines.js';
import { gpu } from '../../src/gpu/device.js';
import { setupDevice } from '../helpers.js';

interface GlobalVar {
  binding: number;
  /** 'uniform', 'storage, read' or 'storage, read_write'. */
  space: string;
  type: string;
}

interface WgslFunction {
  attributes: string;
  /** Identifiers the body names (member names after '.' excluded), less the function's own parameters and locals. */
  names: Set<string>;
}

interface Module {
  structs: Map<string, [string, string][]>;
  globals: Map<string, GlobalVar>;
  overrides: Map<string, { type: string; initialized: boolean }>;
  functions: Map<string, WgslFunction>;
}

// Every module of the folders that declare kernels, so every kernel is declared before the checks.
for (const dir of ['src/ops', 'src/optim']) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) await import(pathToFileURL(`${dir}/${file}`).href);
}

const squash = (s: string) => s.replace(/\s+/g, '');

/** The declarations of a WGSL module that a contract speaks of (our shaders' subset of WGSL). */
function parseModule(source: string): Module {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const structs = new Map<string, [string, string][]>();
  for (const [, name, body] of code.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}/g)) {
    structs.set(name, [...body.matchAll(/(\w+)\s*:\s*(\w+(?:<[^<>]*(?:<[^<>]*>[^<>]*)*>)?)/g)].map(([, field, type]) => [field, squash(type)]));
  }
  const globals = new Map<string, GlobalVar>();
  for (const [, group, binding, space, name, type] of code.matchAll(/@group\((\d+)\)\s*@binding\((\d+)\)\s*var<([^>]+)>\s*(\w+)\s*:\s*([^;]+);/g)) {
    if (group !== '0') throw new Error(`${name}: group ${group} (the engine binds group 0 only)`);
    globals.set(name, { binding: Number(binding), space: squash(space).replace(',', ', '), type: squash(type) });
  }
  const overrides = new Map<string, { type: string; initialized: boolean }>();
  for (const [, name, type, init] of code.matchAll(/\boverride\s+(\w+)\s*:\s*(\w+)\s*(=[^;]*)?;/g)) overrides.set(name, { type, initialized: !!init });
  const functions = new Map<string, WgslFunction>();
  for (const match of code.matchAll(/((?:@\w+(?:\([^)]*\))?\s*)*)\bfn\s+(\w+)\s*\(/g)) {
    const open = code.indexOf('{', match.index + match[0].length);
    let depth = 0;
    let close = open;
    for (; close < code.length; close++) {
      if (code[close] === '{') depth++;
      else if (code[close] === '}' && --depth === 0) break;
    }
    const signature = code.slice(match.index + match[0].length, open);
    const body = code.slice(open, close + 1);
    const own = new Set([...signature.matchAll(/(\w+)\s*:/g), ...body.matchAll(/\b(?:let|var|const)\s+(\w+)/g)].map((m) => m[1]));
    const names = new Set([...body.matchAll(/(?<![.\w])[A-Za-z_]\w*/g)].map((m) => m[0]).filter((n) => !own.has(n)));
    functions.set(match[2], { attributes: squash(match[1]), names });
  }
  return { structs, globals, overrides, functions };
}

/** The module-scope variables an entry point uses, through the functions it calls. */
function usedGlobals(module: Module, entryPoint: string): Map<string, GlobalVar> {
  const used = new Map<string, GlobalVar>();
  const visited = new Set<string>();
  const visit = (fn: string) => {
    if (visited.has(fn)) return;
    visited.add(fn);
    for (const name of module.functions.get(fn)!.names) {
      const global = module.globals.get(name);
      if (global) used.set(name, global);
      if (module.functions.has(name)) visit(name);
    }
  };
  visit(entryPoint);
  return used;
}

/** What is wrong with `kernel` against `source` (its shader as embedded); empty when it holds. */
function contractProblems(kernel: Kernel, source: string): string[] {
  const module = parseModule(source);
  const fn = module.functions.get(kernel.entryPoint);
  if (!fn || !fn.attributes.includes('@compute')) return [`no @compute fn ${kernel.entryPoint}`];
  const problems: string[] = [];

  const size = typeof kernel.workgroupSize === 'number' ? ['WG'] : ['WG_X', 'WG_Y'];
  if (!fn.attributes.includes(`@workgroup_size(${size.join(',')})`)) problems.push(`@workgroup_size is not (${size.join(', ')}): ${fn.attributes}`);
  for (const name of size) {
    const o = module.overrides.get(name);
    if (!o || o.type !== 'u32' || o.initialized) problems.push(`the module does not declare \`override ${name}: u32;\` (no default: the contract sets it)`);
  }

  const used = [...usedGlobals(module, kernel.entryPoint)];
  const uniforms = used.filter(([, g]) => g.binding === 0);
  if (uniforms.length !== 1 || uniforms[0][1].space !== 'uniform') {
    problems.push(`reads ${uniforms.length} variables at @binding(0) (${uniforms.map(([n]) => n).join(', ')}); expected one var<uniform>`);
  } else {
    const [name, { type }] = uniforms[0];
    const fields = module.structs.get(type);
    const declared = Object.entries(kernel.uniforms).map(([f, t]) => `${f}: ${squash(t)}`).join(', ');
    const actual = fields?.map(([f, t]) => `${f}: ${t}`).join(', ');
    if (actual !== declared) problems.push(`uniform ${name}: ${type} is {${actual ?? 'not a struct'}}; declared {${declared}}`);
  }

  const storage = used.filter(([, g]) => g.binding > 0);
  kernel.storage.forEach((access, i) => {
    const space = access === 'read' ? 'storage, read' : 'storage, read_write';
    const at = storage.filter(([, g]) => g.binding === i + 1);
    if (at.length === 0) problems.push(`@binding(${i + 1}) (${access}) is declared but never used`);
    for (const [name, g] of at) if (g.space !== space) problems.push(`@binding(${i + 1}) ${name} is var<${g.space}>; declared ${access} (var<${space}>)`);
  });
  for (const [name, g] of storage) if (g.binding > kernel.storage.length) problems.push(`uses @binding(${g.binding}) ${name}, past the ${kernel.storage.length} declared`);
  return problems;
}

function computeEntryPoints(): string[] {
  return Object.entries(SHADER_SOURCES).flatMap(([shader, source]) =>
    [...parseModule(source).functions].filter(([, f]) => f.attributes.includes('@compute')).map(([name]) => `${shader}.${name}`));
}

test('every declared kernel matches the WGSL it binds', () => {
  const kernels = declaredKernels();
  assert.ok(kernels.length > 30, `${kernels.length} kernels declared`);
  const problems = kernels.flatMap((k) => {
    const source = SHADER_SOURCES[k.shader];
    if (source === undefined) return [`${kernelName(k)}: no shader shaders/${k.shader}.wgsl`];
    return contractProblems(k, source).map((p) => `${kernelName(k)}: ${p}`);
  });
  assert.equal(problems, []);
});

test('every @compute entry point in shaders/ has a declared kernel', () => {
  const declared = new Set(declaredKernels().map(kernelName));
  const entries = computeEntryPoints();
  assert.ok(entries.length > 30, `${entries.length} entry points found`);
  assert.equal(entries.filter((e) => !declared.has(e)), []);
});

test('a reordered, retyped or dropped uniform field and a wrong binding access each fail the check', () => {
  const kernel = declaredKernels().find((k) => kernelName(k) === 'layernorm.layernorm_forward')!;
  const source = SHADER_SOURCES.layernorm;
  assert.equal(contractProblems(kernel, source), []);
  const struct = /struct ForwardParams \{[^}]*\}/.exec(source)![0];
  const mutate = (edit: (s: string) => string) => contractProblems(kernel, source.replace(struct, edit(struct)));
  assert.match(mutate((s) => s.replace(/(rows: u32,)(\s*)(H: u32,)/, '$3$2$1')).join(), /declared \{rows: u32, H: u32, eps: f32\}/);
  assert.match(mutate((s) => s.replace('eps: f32', 'eps: u32')).join(), /eps: u32/);
  assert.match(mutate((s) => s.replace(/\s*eps: f32,[^\n]*/, '')).join(), /ForwardParams/);
  const retyped = { ...kernel, storage: kernel.storage.map((a, i) => (i === 0 ? 'write' : a)) } as Kernel;
  assert.match(contractProblems(retyped, source).join(), /@binding\(1\) x is var<storage, read>; declared write/);
  const resized = { ...kernel, workgroupSize: [8, 8] } as Kernel;
  assert.match(contractProblems(resized, source).join(), /@workgroup_size is not \(WG_X, WG_Y\)/);
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
