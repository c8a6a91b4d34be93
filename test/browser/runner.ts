// Runs the browser set (browser-set.ts) in a real browser: bundles the test
// files with esbuild for the browser platform, serves the bundle from a static
// server on 127.0.0.1, opens it in Debian's chromium-headless-shell through
// playwright-core (launch.ts, shared with the benchmarks in the page), and
// hands back each file's results as the page reports them (page.ts).
//
// In the bundle: `uvu` is uvu-shim.ts; src/index.js (the Node entry) is
// src/browser.ts, so the tests use what browser users import; Node built-ins
// are stubs whose every export throws "... is not available in the browser".

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'esbuild';
import { EXTRA_FILES } from './browser-set.js';
import { ROOT, bundlePage, pageHtml, runPage } from './launch.js';
import type { FileResult, PageInfo } from './page.js';

export { CHROMIUM_ARGS, CHROMIUM_PATHS, findChromium } from './launch.js';

/**
 * The test files of the browser set: every test/ops/*.test.ts, then EXTRA_FILES.
 * SHADERGRAD_BROWSER_FILES (comma-separated parts of paths, e.g. `matmul,softmax`)
 * narrows it while working on a kernel; the kernel coverage check then fails, as it should.
 */
export function browserFiles(): string[] {
  const ops = readdirSync(join(ROOT, 'test/ops')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `test/ops/${f}`);
  const only = process.env.SHADERGRAD_BROWSER_FILES?.split(',').filter(Boolean);
  return [...ops, ...EXTRA_FILES].filter((f) => !only || only.some((part) => f.includes(part)));
}

const uvuShim: Plugin = {
  name: 'browser-test-uvu',
  setup(b) {
    b.onResolve({ filter: /^uvu$/ }, () => ({ path: join(ROOT, 'test/browser/uvu-shim.ts') }));
  },
};

/** The page's script: the harness running each file of the set in order. */
export async function bundle(files: string[]): Promise<string> {
  const entry = [
    `import { runAll } from ${JSON.stringify(join(ROOT, 'test/browser/page.ts'))};`,
    `runAll([`,
    ...files.map((f) => `  [${JSON.stringify(f)}, () => import(${JSON.stringify(join(ROOT, f))})],`),
    `]);`,
  ].join('\n');
  return (await bundlePage(entry, 'browser-tests.ts', [uvuShim])).script;
}

export interface BrowserHooks {
  onInfo(info: PageInfo): void;
  onFile(result: FileResult): void;
  onConsole(text: string): void;
}

/**
 * Bundles, serves and runs the set; resolves, with the browser's version, when the page reports it is done.
 * Rejects on a build error, a missing browser, a crashed page or after `timeoutMs`;
 * the files reported before that have already reached `onFile`.
 */
export async function runInBrowser(hooks: BrowserHooks, timeoutMs: number): Promise<string> {
  const script = await bundle(browserFiles());
  return runPage({
    files: { '/': pageHtml('shadergrad op tests'), '/page.js': script },
    expose: {
      sgInfo: (info: PageInfo) => hooks.onInfo(info),
      sgFile: (result: FileResult) => hooks.onFile(result),
    },
    onConsole: hooks.onConsole,
    timeoutMs,
  });
}
