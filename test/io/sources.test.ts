// Where model files come from: the browser's fetch source (Hub resolve URLs, any folder URL,
// Cache Storage) with a stubbed fetch and caches, picked files (File[] as <input webkitdirectory>
// gives them), and that a model loaded through each equals the one loaded from its folder.
// Also ignoreMismatchedSizes, as transformers' ignore_mismatched_sizes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import '../../src/node/sources.js';
import { hubWebSource, urlSource, CACHE_NAME } from '../../src/io/hub/web.js';
import { pickedFilesSource } from '../../src/io/sources.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { noGrad, tidy } from '../../src/index.js';

const FIXTURE_DIR = 'test/fixtures/tiny-bert-legacy';
const COMMIT = 'a'.repeat(40);

/** A fetch serving the fixture under /org/tiny/resolve/<rev>/ and /models/tiny/, counting requests. */
function stubWeb(): { requests: string[]; restore(): void } {
  const requests: string[] = [];
  const saved = { fetch: globalThis.fetch, caches: (globalThis as { caches?: unknown }).caches };
  const store = new Map<string, Map<string, Response>>();
  (globalThis as { caches?: unknown }).caches = {
    open: async (name: string) => {
      const bucket = store.get(name) ?? new Map<string, Response>();
      store.set(name, bucket);
      return { match: async (url: string) => bucket.get(url)?.clone(), put: async (url: string, r: Response) => void bucket.set(url, r) };
    },
  };
  globalThis.fetch = (async (input: string | URL) => {
    const url = new URL(String(input));
    requests.push(url.pathname);
    const file = /^\/(?:org\/tiny\/resolve\/[^/]+|models\/tiny)\/(.+)$/.exec(url.pathname)?.[1];
    if (url.pathname.startsWith('/org/missing/')) return new Response('', { status: 401, headers: { 'x-error-code': 'RepoNotFound' } });
    if (!file || !readdirSync(FIXTURE_DIR).includes(file)) return new Response('', { status: 404, headers: { 'x-error-code': 'EntryNotFound' } });
    return new Response(readFileSync(join(FIXTURE_DIR, file)), { headers: { 'x-repo-commit': COMMIT } });
  }) as typeof fetch;
  return {
    requests,
    restore: () => {
      globalThis.fetch = saved.fetch;
      (globalThis as { caches?: unknown }).caches = saved.caches;
    },
  };
}

async function logits(model: BertForSequenceClassification): Promise<number[]> {
  const inputIds = Int32Array.from([2, 7, 9, 3, 2, 5, 4, 3]);
  return Array.from(await tidy(() => noGrad(() => model.forward({ inputIds, shape: [2, 4] }).logits)).toArray());
}

test.before(setupDevice);

test('a local folder goes to the Node loader even when the browser entry was imported after it (its fetch source is the fallback)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'shadergrad-import-order-'));
  try {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/import-order.ts', folder], { encoding: 'utf8', timeout: 60_000 });
    assert.is(child.status, 0, child.stderr);
    assert.is(child.stdout.trim(), folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('a Hub id through resolve URLs: commit pinned after the first file, Cache Storage serves a second load whole; a 404 names file and URL', async () => {
  const web = stubWeb();
  try {
    const reference = await logits(await BertForSequenceClassification.fromPretrained(FIXTURE_DIR, { log: null }));
    const source = hubWebSource('org/tiny', { endpoint: 'https://hub.test' });
    const model = await BertForSequenceClassification.fromPretrained(source, { log: null });
    assert.equal(await logits(model), reference);
    assert.equal(web.requests.slice(0, 2), ['/org/tiny/resolve/main/config.json', `/org/tiny/resolve/${COMMIT}/model.safetensors`]);
    const before = web.requests.length;
    await BertForSequenceClassification.fromPretrained(hubWebSource('org/tiny', { endpoint: 'https://hub.test' }), { log: null });
    assert.is(web.requests.length, before, 'a second load reads every file from Cache Storage (the commit pinned from the cached config.json)');

    const missing = hubWebSource('org/tiny', { endpoint: 'https://hub.test', revision: 'v2', cacheName: null });
    assert.is(await missing.read('vocab.txt'), null);
    await BertForSequenceClassification.fromPretrained(hubWebSource('org/missing', { endpoint: 'https://hub.test' }), { log: null }).then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /model org\/missing, file config\.json: repository not found or not accessible .*https:\/\/hub\.test\/org\/missing\/resolve\/main\/config\.json/),
    );
    const empty = urlSource('https://hub.test/models/none', { cacheName: CACHE_NAME });
    await BertForSequenceClassification.fromPretrained(empty, { log: null }).then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /https:\/\/hub\.test\/models\/none: config\.json not found at https:\/\/hub\.test\/models\/none\/config\.json/),
    );
  } finally {
    web.restore();
  }
});

test('any folder URL, and picked files (webkitRelativePath), load the same model as the folder', async () => {
  const web = stubWeb();
  try {
    const reference = await logits(await BertForSequenceClassification.fromPretrained(FIXTURE_DIR, { log: null }));
    assert.equal(await logits(await BertForSequenceClassification.fromPretrained('https://hub.test/models/tiny', { log: null })), reference);
    const files = readdirSync(FIXTURE_DIR).map((f) => {
      const file = new File([readFileSync(join(FIXTURE_DIR, f))], f);
      Object.defineProperty(file, 'webkitRelativePath', { value: `tiny/${f}` });
      return file;
    });
    assert.is(pickedFilesSource(files).description, 'picked folder tiny');
    assert.equal(await logits(await BertForSequenceClassification.fromPretrained(files, { log: null })), reference);
  } finally {
    web.restore();
  }
});

test('ignoreMismatchedSizes: a classifier of another size is initialised anew and reported; without it, an error that names the option', async () => {
  const lines: string[] = [];
  const model = await BertForSequenceClassification.fromPretrained(FIXTURE_DIR, { numLabels: 3, ignoreMismatchedSizes: true, log: (l) => lines.push(l) });
  assert.is(model.numLabels, 3);
  assert.ok(lines.some((l) => /shapes did not match: classifier\.weight: found shape \[5, 32\] in the checkpoint and \[3, 32\]/.test(l)), lines.join('\n'));
  await BertForSequenceClassification.fromPretrained(FIXTURE_DIR, { numLabels: 3, log: null }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /size mismatch for classifier\.weight.*Pass ignoreMismatchedSizes: true/),
  );
});

test.run();
