// A kernel's contract (pipelines.ts) held against the WGSL it binds: the
// uniform struct its entry point reads at @binding(0) has exactly the declared
// fields, in order, with the declared types; the buffer bindings it reads and
// writes are the declared ones with the declared access (storage or uniform); its @workgroup_size is
// the override the contract sets (WG, or WG_X and WG_Y). The library's kernels
// are checked by test/gpu/contracts.test.ts; an extension's own kernel (with
// its `code`) by the same function. The parser reads the subset of WGSL our
// shaders use: module-scope structs, bindings, overrides and functions.

import { kernelSource, type Kernel } from './pipelines.js';

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

const squash = (s: string) => s.replace(/\s+/g, '');

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

/**
 * What is wrong with `kernel` against `source` (by default the WGSL it binds:
 * its own `code`, or its embedded shader); empty when the contract holds.
 */
export function checkKernelContract(kernel: Kernel, source: string = kernelSource(kernel)): string[] {
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
  const paramsSpace = kernel.paramsIn === 'storage' ? 'storage, read' : 'uniform';
  if (uniforms.length !== 1 || uniforms[0][1].space !== paramsSpace) {
    problems.push(`reads ${uniforms.length} variables at @binding(0) (${uniforms.map(([n]) => n).join(', ')}); expected one var<${paramsSpace}>`);
  } else {
    const [name, { type }] = uniforms[0];
    const fields = module.structs.get(type);
    const declared = Object.entries(kernel.uniforms).map(([f, t]) => `${f}: ${squash(t)}`).join(', ');
    const actual = fields?.map(([f, t]) => `${f}: ${t}`).join(', ');
    if (actual !== declared) problems.push(`uniform ${name}: ${type} is {${actual ?? 'not a struct'}}; declared {${declared}}`);
  }

  const storage = used.filter(([, g]) => g.binding > 0);
  kernel.storage.forEach((access, i) => {
    const space = { read: 'storage, read', write: 'storage, read_write', uniform: 'uniform' }[access];
    const at = storage.filter(([, g]) => g.binding === i + 1);
    if (at.length === 0) problems.push(`@binding(${i + 1}) (${access}) is declared but never used`);
    for (const [name, g] of at) if (g.space !== space) problems.push(`@binding(${i + 1}) ${name} is var<${g.space}>; declared ${access} (var<${space}>)`);
  });
  for (const [name, g] of storage) if (g.binding > kernel.storage.length) problems.push(`uses @binding(${g.binding}) ${name}, past the ${kernel.storage.length} declared`);
  return problems;
}

/** The names of the @compute entry points of a WGSL module (each should have a declared kernel). */
export function computeEntryPoints(source: string): string[] {
  return [...parseModule(source).functions].filter(([, f]) => f.attributes.includes('@compute')).map(([name]) => name);
}
