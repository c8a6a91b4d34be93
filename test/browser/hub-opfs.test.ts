// The browser as a home for a model and a run, in Chromium on SwiftShader (hub-opfs-page.ts,
// which calls only the browser entry). One tab, one origin:
//
// 1. The Hub over HTTP: the stand-in Hub (test/support/hub-server.ts, which serves the page
//    too) holds a tiny BERT and its tokenizer under /org/tiny/resolve/<revision>/<file>, the
//    weights as an LFS file behind a redirect. The page loads them by Hub id as a
//    transformers.js user does; its logits equal Node's for the same text; after a reload the
//    second load sends no request for them (Cache Storage). A missing file (404) and an
//    unreachable Hub fail with messages naming the file and the URL.
// 2. Reload, then resume from OPFS: an uninterrupted run in memory is the reference (16 rows,
//    batches of 4, 2 epochs: 8 steps, checkpoints every 2). The same run on OPFS storage is
//    stopped inside the save of checkpoint-6 (its files written, its manifest not) and the tab
//    reloaded. The new page sees checkpoint-2 and -4 and the half folder under its temporary
//    name, takes checkpoint-4, and resumes: it continues at step 4, sweeps the half folder, and
//    ends with the reference's losses, logits and weights, bit for bit.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { setupDevice } from '../helpers.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { AutoTokenizer } from '../../src/data/tokenizer.js';
import { noGrad } from '../../src/autograd.js';
import { tidy } from '../../src/tensor.js';
import { SYNTHETIC_TOKENIZER_CONFIG, SYNTHETIC_VOCAB_TXT, syntheticRows, tempDir, tinyConfig } from '../train/synthetic.js';
import { folderSource } from '../../src/node/sources.js';
import { startHubServer, type HubServer } from '../support/hub-server.js';
import { CHROMIUM_ARGS, LOGIT_TOLERANCE, bundlePage, findChromium, pageHtml, ROOT } from './launch.js';
import type { TrainRequest, TrainResult } from './hub-opfs-page.js';

const REPO = 'org/tiny';
const COMMIT = '5555555555555555555555555555555555555555';
const TEXT = 'the fed raises rates and oil falls';
const FILES = ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json'];
const TIMEOUT_MS = 60_000;

let modelDir = '';
let hub: HubServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
/** Resolved with the path of the manifest when the page stops inside a save (sgSaving). */
let stoppedInSave: (path: string) => void = () => {};

/** `promise`, or an error naming `what` after TIMEOUT_MS (page.evaluate itself waits forever). */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => { timer = setTimeout(() => fail(new Error(`${what}: no answer from the page within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

type Sg = { sg: Record<string, (...args: unknown[]) => Promise<unknown>> };
/** Calls window.sg[name](...args) in the page. */
const call = <T>(name: string, ...args: unknown[]): Promise<T> =>
  within(page.evaluate(([n, a]) => (window as unknown as Sg).sg[n](...a), [name, args] as [string, unknown[]]) as Promise<T>, `sg.${name}`);

/** GETs of the model's files (resolve URLs and the LFS redirect's target) since `from`. */
const fileRequests = (from = 0) => hub.requests.slice(from).filter((r) => r.method === 'GET' && /\/resolve\/|\/cdn\//.test(r.url)).map((r) => r.url);

test.before(async () => {
  await setupDevice();
  modelDir = tempDir('hub-opfs-model');
  setInitSeed(5);
  await new BertForSequenceClassification(tinyConfig(SYNTHETIC_VOCAB_TXT.trim().split('\n').length, 2)).savePretrained(modelDir);
  writeFileSync(join(modelDir, 'vocab.txt'), SYNTHETIC_VOCAB_TXT);
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(SYNTHETIC_TOKENIZER_CONFIG));
  const files = Object.fromEntries(FILES.map((f) => [f, new Uint8Array(readFileSync(join(modelDir, f)))]));
  const { script } = await bundlePage(`import ${JSON.stringify(join(ROOT, 'test/browser/hub-opfs-page.ts'))};`, 'hub-opfs-page.ts');
  hub = await startHubServer([
    { id: REPO, type: 'model', commit: COMMIT, files, lfs: ['model.safetensors'] },
    { id: 'org/no-config', type: 'model', commit: COMMIT, files: { 'model.safetensors': files['model.safetensors'], 'vocab.txt': files['vocab.txt'] } },
  ], 1000, { '/': pageHtml('shadergrad hub and OPFS'), '/page.js': script });
  browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT_MS); // goto, reload
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.exposeFunction('sgSaving', (path: string) => stoppedInSave(path));
  await page.goto(`${hub.endpoint}/`);
});

test.after(async () => {
  await browser?.close().catch(() => {});
  await hub?.close();
});

test('a Hub id loads over HTTP in the page with Node\'s logits, from Cache Storage after a reload; a 404 and an unreachable Hub name the file and URL', async () => {
  // A folder source, not the path: another test file may have put the browser's resolver (URLs) first.
  const model = await BertForSequenceClassification.fromPretrained(folderSource(modelDir), { log: null });
  const tokenizer = await AutoTokenizer.fromPretrained(folderSource(modelDir));
  model.eval();
  const logits = noGrad(() => tidy(() => model.forward(tokenizer([TEXT], { padding: true })).logits));
  const inNode = Array.from(await logits.toArray());
  logits.dispose();

  const before = hub.requests.length;
  const inPage = await call<number[]>('logits', REPO, { endpoint: hub.endpoint }, TEXT);
  const first = fileRequests(before);
  for (const f of FILES) assert.ok(first.some((u) => u.endsWith(`/${f}`)), `the first load fetched ${f}: ${first.join(', ')}`);
  assert.ok(first.some((u) => u.includes('/cdn/')), 'and the weights behind the LFS redirect');
  const diff = Math.max(...inNode.map((v, i) => Math.abs(v - inPage[i])));
  assert.ok(inNode.every((v, i) => Math.abs(v - inPage[i]) <= LOGIT_TOLERANCE.abs + LOGIT_TOLERANCE.rel * Math.abs(v)),
    `Node ${JSON.stringify(inNode)} vs page ${JSON.stringify(inPage)}: largest difference ${diff}`);

  await page.reload();
  const again = hub.requests.length;
  assert.equal(await call<number[]>('logits', REPO, { endpoint: hub.endpoint }, TEXT), inPage, 'the same logits after the reload');
  assert.equal(await call<number[]>('logits', REPO, { endpoint: hub.endpoint, offline: true }, TEXT), inPage, 'and offline');
  assert.equal(fileRequests(again), [], 'no request after the reload: Cache Storage holds the files and the Hub\'s word on the absent ones');

  const missing = await call<string | null>('loadError', 'org/no-config', { endpoint: hub.endpoint });
  assert.match(missing ?? 'it loaded', `model org/no-config: config.json not found at ${hub.endpoint}/org/no-config/resolve/`);

  const closed = createServer();
  await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
  const port = (closed.address() as { port: number }).port;
  await new Promise((done) => closed.close(done));
  const unreachable = await call<string | null>('loadError', REPO, { endpoint: `http://127.0.0.1:${port}` });
  assert.match(unreachable ?? 'it loaded', `http://127.0.0.1:${port}/${REPO}/resolve/main/`);
  assert.match(unreachable!, 'cannot be reached');
  assert.equal(pageErrors, []);
  process.stdout.write(`  hub (page on ${await call<string>('adapter')}): ${first.length} requests on the first load (${first.map((u) => u.slice(u.lastIndexOf('/') + 1)).join(', ')}), none after the reload; logits Node vs page: max |diff| ${diff.toExponential(2)}\n` +
    `  404: ${missing}\n  unreachable: ${unreachable}\n`);
});

test('reloaded inside a checkpoint save, the tab resumes from the last complete checkpoint in OPFS and ends bit for bit as an uninterrupted run', async () => {
  const base: TrainRequest = { repo: REPO, hub: { endpoint: hub.endpoint }, rows: syntheticRows(16, 1, 2), storage: 'memory', resume: false, text: TEXT };
  const started = Date.now();
  const untrained = await call<number[]>('logits', REPO, base.hub, TEXT);
  const reference = await call<TrainResult>('train', base);
  const referenceSeconds = (Date.now() - started) / 1000;
  assert.is(reference.globalStep, 8);
  assert.not.equal(reference.logits, untrained, 'the run trained');
  assert.equal(reference.losses.map(([step]) => step), [1, 2, 3, 4, 5, 6, 7, 8]);

  const inSave = new Promise<string>((done) => (stoppedInSave = done));
  const interrupted = call<TrainResult>('train', { ...base, storage: 'opfs', hangInSaveOf: 6 }).then(
    () => 'finished', (e: Error) => `gone with the reload (${e.message.split('\n')[0]})`);
  const manifest = await within(inSave, 'the save of checkpoint-6');
  await page.reload();
  assert.match(await interrupted, 'gone with the reload');

  const left = await call<{ entries: string[]; latest: string | null }>('opfsRun');
  const half = left.entries.filter((e) => e.startsWith('.checkpoint-6.'));
  assert.is(half.length, 1, `the half checkpoint-6 under its temporary name: ${left.entries.join(', ')}`);
  assert.ok(manifest.includes(`/${half[0]}/`), `${manifest} is in ${half[0]}`);
  assert.equal(left.entries.filter((e) => e.startsWith('checkpoint-')), ['checkpoint-2', 'checkpoint-4']);
  assert.is(left.latest, 'run/checkpoint-4');

  const resumed = await call<TrainResult>('train', { ...base, storage: 'opfs', resume: true });
  assert.is(resumed.startStep, 4, 'resumed at checkpoint-4\'s step');
  assert.is(resumed.globalStep, 8);
  assert.equal(resumed.losses, reference.losses, 'every step\'s loss, those before the reload from the checkpoint\'s history');
  assert.equal(resumed.logits, reference.logits, 'the logits, bit for bit');
  assert.is(resumed.weights, reference.weights, 'model.safetensors, bit for bit');

  const after = await call<{ entries: string[]; latest: string | null }>('opfsRun');
  assert.equal(after.entries.filter((e) => e.endsWith('.tmp')), [], `the half folder is swept: ${after.entries.join(', ')}`);
  assert.is(after.latest, 'run/checkpoint-8');
  assert.equal(pageErrors, []);
  process.stdout.write(`  resume: reloaded inside ${manifest}; resumed at step ${resumed.startStep}, final loss ${resumed.losses.at(-1)![1]} ` +
    `(reference ${reference.losses.at(-1)![1]}), logits ${JSON.stringify(resumed.logits)}; ` +
    `the reference run ${referenceSeconds.toFixed(0)} s, ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`);
});

test.run();
