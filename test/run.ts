// Runs the uvu test files (all of test/**/*.test.ts, or those named on the
// command line) in one process, on one WebGPU device, and ends with the line
// `N passed, N failed, N skipped` that CI looks for.

import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

declare global {
  // uvu's deferred-run queue: one group per file, the file name first.
  var UVU_DEFER: number;
  var UVU_INDEX: number;
  var UVU_QUEUE: [string | null, ...(() => Promise<[unknown, number, number, number]>)[]][];
}

function findTests(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

// Shaders are embedded into the engine at build time; refresh them first.
execFileSync(process.execPath, ['scripts/embed-shaders.mjs'], { stdio: 'inherit' });

const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => resolve(f)) : findTests(resolve('test'));
globalThis.UVU_DEFER = 1;
globalThis.UVU_QUEUE = [];
for (const [index, file] of files.entries()) {
  globalThis.UVU_INDEX = index;
  globalThis.UVU_QUEUE.push([file.slice(process.cwd().length + 1)]);
  await import(pathToFileURL(file).href);
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const group of globalThis.UVU_QUEUE) {
  const name = group.shift() as string;
  process.stdout.write(`${name}\n`);
  for (const suite of group as (() => Promise<[unknown, number, number, number]>)[]) {
    const [errors, ran, skips, total] = await suite();
    passed += ran;
    skipped += skips;
    failed += total - ran;
    if (errors !== true && errors) process.stdout.write(`\n${errors}\n`);
  }
  process.stdout.write('\n');
}

const { closeDevice } = await import('../src/gpu/device.js');
closeDevice();
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
