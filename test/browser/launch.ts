// What every page shadergrad runs in a real browser shares (the op tests,
// test/browser/runner.ts; the benchmarks in the page, bench/browser/): an
// esbuild bundle for the browser platform, a static server on 127.0.0.1
// (WebGPU needs a secure context; localhost is one), and Debian's
// chromium-headless-shell driven through playwright-core on SwiftShader.
//
// In a bundle: src/index.js (the Node entry) is src/browser.ts, so pages use
// what browser users import; Node built-ins are stubs whose every export throws
// "... is not available in the browser" (bundleStats says which were stubbed).

import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Page (SwiftShader) against Node (lavapipe) on the same weights: both float32, but different
 * adapters pick different matmul variants and reduction orders (and exp/tanh differ in the last
 * bits), so each op carries a relative error of a few float32 ulps (~1e-7) that one layer, the
 * pooler and the classifier grow to about 1e-6 of the logits' size. 1e-4 absolute plus 1e-4
 * relative is a hundred times that margin, and far below what any real difference (a wrong
 * weight, a dropped tensor, another tokenization) moves the logits by (>= 1e-2).
 */
export const LOGIT_TOLERANCE = { abs: 1e-4, rel: 1e-4 };

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

export function findChromium(): string {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : CHROMIUM_PATHS;
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium at ${candidates.join(' or ')}: install it with \`bash scripts/install-chromium.sh\` (Debian's chromium-headless-shell) or set CHROMIUM_PATH`);
  return found;
}

/** src/index.js -> src/browser.ts; Node built-ins -> stubs that throw when called. */
export const browserAliases: Plugin = {
  name: 'shadergrad-browser-aliases',
  setup(b) {
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

export interface PageBundle {
  script: string;
  /** Node built-ins the bundle imports (stubbed), each with the files that import it. */
  nodeImports: Record<string, string[]>;
  bytes: number;
}

/** Bundles `entry` (TypeScript source resolved from the repository root) as one ES module for the browser. */
export async function bundlePage(entry: string, sourcefile: string, plugins: Plugin[] = []): Promise<PageBundle> {
  const result = await build({
    stdin: { contents: entry, resolveDir: ROOT, sourcefile, loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    plugins: [...plugins, browserAliases],
    logLevel: 'silent',
  });
  const script = result.outputFiles[0].text;
  return { script, nodeImports: nodeImports(result.metafile), bytes: Buffer.byteLength(script) };
}

function nodeImports(meta: Metafile): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [file, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) {
      if (imp.path.startsWith('node-stub:')) (out[imp.path.slice('node-stub:'.length)] ??= []).push(file);
    }
  }
  return out;
}

/** A page: its HTML loads /page.js (the bundle) as a module, after `head` (e.g. an import map). */
export function pageHtml(title: string, head = ''): string {
  return `<!doctype html><meta charset="utf-8"><title>${title}</title>${head}<script type="module" src="/page.js"></script>`;
}

/** Serves `files` (URL path -> body; '/' is HTML, .js JavaScript) on 127.0.0.1 at a free port. */
export function serveFiles(files: Record<string, string>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const body = files[path];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = path === '/' || path.endsWith('.html') ? 'text/html' : path.endsWith('.js') ? 'text/javascript' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
    res.end(body);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done(server));
  });
}

/** The first frames of an error thrown in the page (they point into the bundle, but name the functions). */
function pageFrames(err: Error): string {
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 4);
  return frames.length ? `\n${frames.join('\n')}` : '';
}

export interface PageRun {
  /** Files to serve; '/' is the page. */
  files: Record<string, string>;
  /** Functions the page calls on window (besides sgDone, which ends a visit). */
  expose: Record<string, (...args: never[]) => unknown>;
  onConsole(text: string): void;
  /** Query strings, one navigation of the same page (same origin, same storage) each, in order. */
  visits?: string[];
  /** For each visit. */
  timeoutMs: number;
}

/**
 * Serves the files, opens them in Chromium on SwiftShader, and waits for the page
 * to call `sgDone()` once per visit. Resolves with the browser's version. Rejects on
 * a missing browser, an uncaught error or crash in the page, or a visit past `timeoutMs`.
 */
export async function runPage({ files, expose, onConsole, visits = [''], timeoutMs }: PageRun): Promise<string> {
  const executablePath = findChromium();
  const server = await serveFiles(files);
  let browser: Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    const page: Page = await browser.newPage();
    let finish = () => {};
    let abort: (err: Error) => void = () => {};
    for (const [name, fn] of Object.entries(expose)) await page.exposeFunction(name, fn);
    await page.exposeFunction('sgDone', () => finish());
    page.on('console', (msg) => onConsole(`${msg.type() === 'log' ? '' : `${msg.type()}: `}${msg.text()}`));
    page.on('pageerror', (err) => abort(new Error(`uncaught in the page: ${err.message}${pageFrames(err)}`)));
    page.on('crash', () => abort(new Error('the page crashed')));
    const { port } = server.address() as { port: number };
    for (const query of visits) {
      const done = new Promise<void>((ok, fail) => {
        finish = ok;
        abort = fail;
      });
      done.catch(() => {}); // awaited below; an abort during navigation must not go unhandled meanwhile
      timer = setTimeout(() => abort(new Error(`the page did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
      await page.goto(`http://127.0.0.1:${port}/${query ? `?${query}` : ''}`);
      await done;
      clearTimeout(timer);
    }
    return browser.version();
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => {});
    server.close();
  }
}
