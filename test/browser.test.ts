// The browser entry bundles for browsers with no flags and no Node module anywhere in its
// import graph, static or dynamic: with esbuild (platform browser, nothing external) and with
// Vite's default build of a page that imports 'shadergrad/browser' (resolved, through an
// alias, to the source src/browser.ts, so no build of dist/ is needed).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

test('esbuild: src/browser.ts bundles for the browser with no flags; no input or import is a Node module', async () => {
  const { metafile } = await build({
    entryPoints: ['src/browser.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = metafile!.inputs;
  const nodeImports = Object.entries(inputs).flatMap(([path, input]) =>
    input.imports.filter((i) => i.path.startsWith('node:') || i.external).map((i) => `${path}: ${i.path} (${i.kind})`));
  assert.equal(nodeImports, [], 'Node modules or externals in the browser graph');
  assert.ok(Object.keys(inputs).includes('src/models/bert/modeling.ts'), 'the models are in the bundle');
  assert.ok(Object.keys(inputs).includes('src/io/hub/web.ts'), 'the fetch loader is in the bundle');
});

test("vite: a default build of a page importing 'shadergrad/browser' succeeds", async () => {
  const { build: viteBuild } = await import('vite');
  const root = mkdtempSync(join(tmpdir(), 'shadergrad-vite-'));
  try {
    writeFileSync(join(root, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>\n');
    writeFileSync(join(root, 'main.js'), "import { init, BertForSequenceClassification } from 'shadergrad/browser';\nconsole.log(init, BertForSequenceClassification);\n");
    await viteBuild({
      root,
      configFile: false,
      logLevel: 'silent',
      resolve: { alias: { 'shadergrad/browser': resolve('src/browser.ts') } },
    });
    const assets = readdirSync(join(root, 'dist/assets'));
    const script = assets.find((f) => f.endsWith('.js'));
    assert.ok(script, `a script among ${assets.join(', ')}`);
    assert.not.match(readFileSync(join(root, 'dist/assets', script!), 'utf8'), /__vite-browser-external/, 'no Node module externalised');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
