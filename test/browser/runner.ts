// Runs the browser set (browser-set.ts) in a real browser: bundles the test
// files with esbuild for the browser platform, serves the bundle from a static
// server on 127.0.0.1 (WebGPU needs a secure context; localhost is one),
// opens it in Debian's chromium-headless-shell through playwright-core, and
// hands back each file's results as the page reports them (page.ts).
//
// In the bundle: `uvu` is uvu-shim.ts; src/index.js (the Node entry) is
// src/browser.ts, so the tests use what browser users import; Node built-ins
// are stubs whose every export throws "... is not available in the browser".

import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { EXTRA_FILES } from './browser-set.js';
import type { FileResult, PageInfo } from './page.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where scripts/install-chromium.sh puts it; CHROMIUM_PATH overrides. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium-headless-shell', '/usr/lib/chromium/headless_shell', '/usr/bin/chromium'];

// --enable-unsafe-webgpu: WebGPU on Linux; --use-webgpu-adapter=swiftshader: SwiftShader's
// Vulkan on the CPU even where Mesa's lavapipe (Node's adapter) is installed. The rest keep
// Chromium from calling out on a closed network. playwright adds --headless and a fresh
// --user-data-dir of its own.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--metrics-recording-only',
];

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

export function findChromium(): string {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : CHROMIUM_PATHS;
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium at ${candidates.join(' or ')}: install it with \`bash scripts/install-chromium.sh\` (Debian's chromium-headless-shell) or set CHROMIUM_PATH`);
  return found;
}

const aliases: Plugin = {
  name: 'browser-test-aliases',
  setup(b) {
    b.onResolve({ filter: /^uvu$/ }, () => ({ path: join(ROOT, 'test/browser/uvu-shim.ts') }));
    b.onResolve({ filter: /\/index\.js$/ }, (args) =>
      resolve(args.resolveDir, args.path) === join(ROOT, 'src/index.js') ? { path: join(ROOT, 'src/browser.ts') } : undefined);
    const builtins = new Set(builtinModules);
    b.onResolve({ filter: /^[a-z_/:]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      return args.path.startsWith('node:') || builtins.has(name) ? { path: `node:${name}`, namespace: 'node-stub' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, async (args) => {
      const names = Object.keys(await import(args.path)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const stub = (n: string) => `() => { throw new Error(${JSON.stringify(`${args.path} ${n}() is not available in the browser`)}); }`;
      return {
        contents: `${names.map((n) => `export const ${n} = ${stub(n)};`).join('\n')}\nexport default { ${names.join(', ')} };\n`,
        loader: 'js',
      };
    });
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
  const result = await build({
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'browser-tests.ts', loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    plugins: [aliases],
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>shadergrad op tests</title><script type="module" src="/tests.js"></script>';

function serve(script: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/' || req.url === '/tests.js') {
      res.writeHead(200, { 'content-type': req.url === '/' ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.url === '/' ? PAGE : script);
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done(server));
  });
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
  const executablePath = findChromium();
  const server = await serve(script);
  let browser: Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    const page = await browser.newPage();
    let finish!: () => void;
    let abort!: (err: Error) => void;
    const done = new Promise<void>((ok, fail) => {
      finish = ok;
      abort = fail;
    });
    await page.exposeFunction('sgInfo', (info: PageInfo) => hooks.onInfo(info));
    await page.exposeFunction('sgFile', (result: FileResult) => hooks.onFile(result));
    await page.exposeFunction('sgDone', () => finish());
    page.on('console', (msg) => hooks.onConsole(`${msg.type() === 'log' ? '' : `${msg.type()}: `}${msg.text()}`));
    page.on('pageerror', (err) => abort(new Error(`uncaught in the page: ${err.message}`)));
    page.on('crash', () => abort(new Error('the page crashed')));
    timer = setTimeout(() => abort(new Error(`the page did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
    const { port } = server.address() as { port: number };
    await page.goto(`http://127.0.0.1:${port}/`);
    await done;
    return browser.version();
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => {});
    server.close();
  }
}
