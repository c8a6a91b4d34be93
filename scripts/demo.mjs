// npm run demo [-- --port 8080] [--host 127.0.0.1] [--models DIR] [--data DIR]
//
// Builds the demo page (examples/browser/main.ts, bundled for the browser by
// esbuild, kept in memory) and serves examples/browser/ on localhost (WebGPU
// needs a secure context; localhost is one). --models DIR serves a folder of
// model folders under /models/ (type /models/<name> as the model's URL in the
// page), --data DIR one of data files under /data/, for local use.
//
// Imported by test/browser/demo.test.ts: buildDemo() and serveDemo().

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules } from 'node:module';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

export const DEMO_DIR = fileURLToPath(new URL('../examples/browser/', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8', '.jsonl': 'application/jsonl; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml',
};

/**
 * Node built-ins reached from the page's graph are stubbed (each export throws "... is not
 * available in the browser") and named in `stubbed`: the engine reaches them only on Node's
 * code paths (dynamic imports behind loadDataset's paths); the page never calls them.
 */
const nodeStubs = (stubbed) => ({
  name: 'demo-node-stubs',
  setup(b) {
    const builtins = new Set(builtinModules);
    b.onResolve({ filter: /^[a-z_/:]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!args.path.startsWith('node:') && !builtins.has(name)) return undefined;
      (stubbed[`node:${name}`] ??= new Set()).add(args.importer.slice(resolve(DEMO_DIR, '../..').length + 1));
      return { path: `node:${name}`, namespace: 'node-stub' };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, async (args) => {
      const names = Object.keys(await import(args.path)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const stub = (n) => `() => { throw new Error(${JSON.stringify(`${args.path} ${n}() is not available in the browser`)}); }`;
      return { contents: `${names.map((n) => `export const ${n} = ${stub(n)};`).join('\n')}\nexport default { ${names.join(', ')} };\n`, loader: 'js' };
    });
  },
});

/**
 * Bundles the page: { 'main.js', 'main.css' } as text, and the Node built-ins that were stubbed
 * (module -> files importing it; empty once the engine's browser graph is free of them).
 */
export async function buildDemo({ minify = false } = {}) {
  const stubbed = {};
  const result = await build({
    entryPoints: [join(DEMO_DIR, 'main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    outdir: 'out',
    write: false,
    minify,
    sourcemap: 'inline',
    // csv-parse's Node build uses Buffer, which browsers lack; its browser build carries its own.
    alias: { 'csv-parse/sync': 'csv-parse/browser/esm/sync' },
    plugins: [nodeStubs(stubbed)],
    logLevel: 'silent',
  });
  const files = {};
  for (const f of result.outputFiles) files[f.path.split(/[\\/]/).at(-1)] = f.text;
  return { files, stubbed: Object.fromEntries(Object.entries(stubbed).map(([k, v]) => [k, [...v].sort()])) };
}

/** The file under `root` that `urlPath` names, or null (no escaping the folder). */
function fileUnder(root, urlPath) {
  const path = normalize(join(root, decodeURIComponent(urlPath)));
  if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  return existsSync(path) && statSync(path).isFile() ? path : null;
}

/**
 * Serves the built page, examples/browser/'s files, and `mounts` (URL prefix like '/models/' ->
 * folder) on host:port (port 0: a free one). Resolves with the server once it listens.
 */
export async function serveDemo({ port = 8080, host = '127.0.0.1', mounts = {}, built } = {}) {
  const page = built ?? (await buildDemo());
  const roots = Object.entries(mounts).map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, resolve(dir)]);
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (status, body, type) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET only\n', 'text/plain');
    const name = url === '/' ? 'index.html' : url.slice(1);
    if (page.files[name] !== undefined) return send(200, page.files[name], TYPES[extname(name)] ?? 'application/octet-stream');
    const mount = roots.find(([prefix]) => url.startsWith(prefix));
    const path = mount ? fileUnder(mount[1], url.slice(mount[0].length)) : fileUnder(DEMO_DIR, name);
    if (!path || (!mount && /\.ts$/.test(path))) return send(404, `not found: ${url}\n`, 'text/plain');
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'content-length': statSync(path).size, 'cache-control': 'no-store' });
    if (req.method === 'HEAD') return res.end();
    createReadStream(path).pipe(res);
  });
  await new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, done);
  });
  return server;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      models: { type: 'string' },
      data: { type: 'string' },
    },
  });
  const mounts = {};
  if (values.models) mounts['/models/'] = values.models;
  else if (existsSync('weights')) mounts['/models/'] = 'weights';
  if (values.data) mounts['/data/'] = values.data;
  const built = await buildDemo();
  for (const [mod, files] of Object.entries(built.stubbed)) {
    console.warn(`note: ${mod} is stubbed in the page (reached from ${files.join(', ')}; Node-only paths the page does not call)`);
  }
  const server = await serveDemo({ port: Number(values.port), host: values.host, mounts, built });
  const { port } = server.address();
  const local = `http://${values.host === '0.0.0.0' ? 'localhost' : values.host}:${port}/`;
  console.log(`shadergrad demo: ${local}  (${(Buffer.byteLength(built.files['main.js']) / 1e6).toFixed(1)} MB script)`);
  for (const [prefix, dir] of Object.entries(mounts)) console.log(`  ${prefix} -> ${resolve(dir)}${prefix === '/models/' ? `   (model URL in the page: ${prefix}<folder>)` : ''}`);
  console.log('  Chrome or Edge 113+ have WebGPU; Chromium on Linux needs --enable-unsafe-webgpu. Ctrl-C stops.');
}
