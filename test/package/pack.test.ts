// The package as a user gets it: `npm pack` (which builds first), the tarball
// installed into a scratch folder (its dependencies from npm's cache, which
// `npm ci` filled; only their metadata comes from the registry), both entries
// imported, the bin's --help run offline, and a TypeScript consumer with
// default settings type-checked against the shipped types.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../train/synthetic.js';

const ROOT = resolve('.');

function run(command: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

let tarball = '';
let scratch = '';

test('npm pack builds first and ships dist, templates, README and LICENSE, nothing else', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; license: string };
  assert.ok(manifest.scripts.prepack?.includes('build'), 'a prepack script builds');
  const out = tempDir('pack');
  const packed = run('npm', ['pack', '--json', '--pack-destination', out], ROOT);
  assert.is(packed.status, 0, `npm pack failed: ${packed.stderr.slice(-2000)}`);
  // The prepack build prints to stdout too: the JSON report is the last top-level array.
  const [result] = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf('\n[') + 1)) as PackResult[];
  tarball = join(out, result.filename);
  const paths = result.files.map((f) => f.path);
  for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/browser.js', 'dist/train.js', 'templates/model-card.md.jinja', 'LICENSE', 'README.md', 'package.json']) {
    assert.ok(paths.includes(needed), `the tarball has ${needed}`);
  }
  const strays = paths.filter((p) => !/^(dist\/|templates\/|LICENSE$|README\.md$|package\.json$)/.test(p));
  assert.equal(strays, [], 'nothing outside dist/, templates/, README, LICENSE and package.json (shaders are embedded)');
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), new RegExp(manifest.license));
});

test('source maps carry their sources (the tarball has no src/)', () => {
  const map = JSON.parse(readFileSync(join(ROOT, 'dist/index.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
  assert.is(map.sourcesContent?.length, map.sources.length, 'every source inlined');
});

test('the tarball installs; both entries import; the bin answers --help offline', () => {
  assert.ok(tarball, 'packed by the first test');
  scratch = tempDir('pack-consumer');
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const installed = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], scratch);
  assert.is(installed.status, 0, `npm install of the tarball failed: ${installed.stderr.slice(-2000)}`);
  const imported = run(process.execPath, ['--input-type=module', '-e',
    "const n = await import('shadergrad'); const b = await import('shadergrad/browser'); console.log(typeof n.Trainer, typeof b.Trainer, typeof b.tensor, typeof n.nodeStorage, typeof b.nodeStorage);"], scratch);
  assert.is(imported.status, 0, imported.stderr);
  assert.is(imported.stdout.trim(), 'function function function function undefined', 'both entries have the Trainer and tensor(); only Node has its file-system storage');
  const help = run(join(scratch, 'node_modules/.bin/shadergrad-train'), ['--help'], scratch);
  assert.is(help.status, 0, help.stderr);
  assert.match(help.stdout, /--model/);
});

test('a TypeScript consumer with default settings type-checks against the shipped types', () => {
  assert.ok(scratch, 'installed by the previous test');
  writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', target: 'es2022', noEmit: true }, files: ['main.ts'] }));
  writeFileSync(join(scratch, 'main.ts'), [
    "import { init, tensor, type Tensor } from 'shadergrad';",
    'const runtime = await init();',
    'const device: GPUDevice = runtime.device;',
    'const t: Tensor = tensor([1, 2, 3]);',
    'console.log(device.label, t.shape);',
    '',
  ].join('\n'));
  const checked = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', scratch], scratch);
  assert.is(checked.status, 0, `tsc: ${checked.stdout}${checked.stderr}`);
});

test.run();
