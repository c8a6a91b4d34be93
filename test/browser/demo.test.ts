// The demo page (examples/browser/), end to end in a real browser: scripts/demo.mjs builds and
// serves it with a tiny model folder, Chromium on SwiftShader opens it, and playwright fills its
// form as a user would (model URL, data files, hyperparameters) and presses Train. The page
// fine-tunes for 64 steps of 32; its evaluation accuracy must end well above the majority class. Then
// it classifies a fixed text (printing the logits), fills a mask, and downloads the fine-tuned
// folder as a zip, which Node unzips and loads with fromPretrained: Node's logits for the same
// text must match the page's (LOGIT_TOLERANCE). Reloaded, the page finds the run's checkpoint in
// OPFS and Resume restores it: the same step, evaluations and logits. A screenshot of the page
// after training goes to docs/demo.png when SHADERGRAD_SCREENSHOT=1 (the README shows it), else
// to a temporary folder.
//
// Data: the topic data set's four telling topics (as test/train/e2e.test.ts: Fed | Central Banks,
// Dividend, Earnings, Energy | Oil), labels written as names, 1,024 training and 200 validation
// tweets, a vocabulary of the slice's words (sliceTokenizer); without ../shared, keyword rows of test/train/synthetic.ts
// and their small vocabulary, in the same CSV layout.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { unzipSync } from 'fflate';
import { setupDevice } from '../helpers.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForMaskedLM, BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { bertConfig } from '../../src/models/bert/config.js';
import { AutoTokenizer, BertTokenizer } from '../../src/data/tokenizer.js';
import { parseCsvTable } from '../../src/data/loaders.js';
import { Dataset, loadDataset, type Row } from '../../src/data/dataset.js';
import { noGrad } from '../../src/autograd.js';
import { tidy } from '../../src/tensor.js';
import { syntheticRows, syntheticTokenizer, SYNTHETIC_LABELS, tempDir } from '../train/synthetic.js';
import { CHROMIUM_ARGS, findChromium } from './runner.js';
import { LOGIT_TOLERANCE, ROOT } from './launch.js';
import { buildDemo, serveDemo } from '../../scripts/demo.mjs';
import '../../src/node/sources.js'; // fromPretrained, savePretrained and loadDataset on local paths

test.before(setupDevice);

const SHARED_DATA = resolve(ROOT, '../shared/data/twitter-financial-news-topic');
/** ../shared/data/twitter-financial-news-topic/README.md: the four topics of the slice, by label. */
const SLICE = new Map([[1, 'Fed | Central Banks'], [4, 'Dividend'], [5, 'Earnings'], [6, 'Energy | Oil']]);
const TRAIN_ROWS = 1024;
const EVAL_ROWS = 200;
const MAX_LENGTH = 32;
const VOCAB_WORDS = 2000;
const BATCH = 32;
const EPOCHS = 2;
const STEPS = EPOCHS * (TRAIN_ROWS / BATCH);
/** As test/train/e2e.test.ts: the final accuracy must beat the majority class by this much (the tweets give about +0.5). */
const MARGIN_OVER_MAJORITY = 0.2;
const FIXED_TEXT = 'The Fed raises interest rates and oil prices fall after strong earnings';
const TIMEOUT_MS = 7 * 60_000;

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const toCsv = (rows: { text: string; label: string }[]) => `text,label\n${rows.map((r) => `${csvField(r.text)},${csvField(r.label)}`).join('\n')}\n`;

/**
 * A WordPiece vocabulary of the slice's VOCAB_WORDS most frequent words (lower-cased), with single
 * characters and their ## pieces so rarer words still split: bert-base-cased's 28,996 rows would make
 * the embedding and its AdamW update most of each step on SwiftShader, and the tiny model learns the
 * four topics from these words alone.
 */
function sliceTokenizer(texts: string[]): BertTokenizer {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of t.toLowerCase().split(/[^a-z0-9]+/)) if (w.length > 1) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, VOCAB_WORDS).map(([w]) => w);
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
  const punctuation = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...punctuation, ...chars, ...chars.map((c) => `##${c}`), ...words.filter((w) => !chars.includes(w))];
  return BertTokenizer.fromFiles({ vocabTxt: `${vocab.join('\n')}\n`, tokenizerConfig: { do_lower_case: true, model_max_length: 64 }, name: 'topic-slice' });
}

/** The model folder (tiny BERT with a masked-LM head, as `npm run tiny-model` writes one) and the two CSV files. */
async function material(root: string): Promise<{ modelDir: string; trainCsv: string; validCsv: string; source: string }> {
  const modelDir = join(root, 'models', 'tiny-bert');
  mkdirSync(modelDir, { recursive: true });
  let tokenizer: BertTokenizer;
  let train: { text: string; label: string }[];
  let valid: { text: string; label: string }[];
  let source: string;
  if (existsSync(SHARED_DATA)) {
    const slice = (file: string, n: number) => {
      const table = parseCsvTable(readFileSync(join(SHARED_DATA, file), 'utf8'), file);
      const kept = new Dataset<Row>(table.rows.filter((r) => SLICE.has(Number(r.label)))).shuffle({ seed: 1 });
      return Array.from({ length: Math.min(n, kept.length) }, (_, i) => kept.get(i)).map((r) => ({ text: r.text as string, label: SLICE.get(Number(r.label))! }));
    };
    train = slice('topic_train.csv', TRAIN_ROWS);
    valid = slice('topic_valid.csv', EVAL_ROWS);
    tokenizer = sliceTokenizer(train.map((r) => r.text));
    source = `${SHARED_DATA} (4 topics)`;
  } else {
    tokenizer = syntheticTokenizer();
    const named = (rows: { text: string; label: number }[]) => rows.map((r) => ({ text: r.text, label: SYNTHETIC_LABELS[r.label] }));
    train = named(syntheticRows(TRAIN_ROWS, 1, 4));
    valid = named(syntheticRows(EVAL_ROWS, 2, 4));
    source = 'synthetic keyword rows (no ../shared)';
  }
  setInitSeed(7);
  const model = new BertForMaskedLM(bertConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64,
    max_position_embeddings: 64,
    // BERT's 0.02 suits 768 wide layers; at width 32 learning would take thousands of steps (as test/train/e2e.test.ts).
    initializer_range: 0.1,
  }));
  await model.savePretrained(modelDir);
  await tokenizer.savePretrained(modelDir);
  const trainCsv = join(root, 'topics_train.csv');
  const validCsv = join(root, 'topics_valid.csv');
  writeFileSync(trainCsv, toCsv(train));
  writeFileSync(validCsv, toCsv(valid));
  return { modelDir, trainCsv, validCsv, source };
}

/** Node's logits for `text`, as the page computes them (examples/browser/main.ts, logitsOf). */
async function nodeLogits(dir: string, text: string, maxLength: number): Promise<number[]> {
  const model = await BertForSequenceClassification.fromPretrained(dir, { log: null });
  const tokenizer = await AutoTokenizer.fromPretrained(dir);
  model.eval();
  const batch = tokenizer([text], { padding: true, truncation: true, maxLength });
  const logits = noGrad(() => tidy(() => model.forward(batch).logits));
  const values = Array.from(await logits.toArray());
  logits.dispose();
  return values;
}

interface PageDemo {
  phase: string;
  step: number;
  maxSteps: number;
  evals: { step: number; accuracy: number; loss: number }[];
  majority: number | null;
  logits: { text: string; maxLength: number; values: number[] } | null;
  error: string | null;
  adapter: { description: string; name: string } | null;
}

test('the demo page fine-tunes a tiny BERT above the majority class, and the downloaded folder gives Node the same logits', async () => {
  const started = Date.now();
  const root = tempDir('demo');
  const { trainCsv, validCsv, source } = await material(root);
  const built = await buildDemo();
  const server = await serveDemo({ port: 0, mounts: { '/models/': join(root, 'models') }, built });
  const { port } = server.address() as AddressInfo;
  let browser: Browser | undefined;
  const pageErrors: string[] = [];
  try {
    browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`); else if (process.env.SHADERGRAD_DEMO_CONSOLE) process.stdout.write(`    [page] ${msg.text()}\n`); });
    await page.goto(`http://127.0.0.1:${port}/`);
    const demo = () => page.evaluate(() => (window as unknown as { demo: PageDemo }).demo);
    /** Waits for the page to reach one of `phases`; on a timeout, says where it is. */
    const waitPhase = async (phases: string[], timeout: number) => {
      try {
        await page.waitForFunction((p) => p.includes((window as unknown as { demo?: PageDemo }).demo?.phase ?? ''), phases, { timeout });
      } catch (e) {
        const state = await demo().catch(() => null);
        throw new Error(`the page did not reach ${phases.join(' or ')} within ${timeout / 1000} s: phase ${state?.phase}, step ${state?.step}, ` +
          `error ${state?.error}; page errors: ${pageErrors.join(' | ') || 'none'}; status: ${await page.textContent('#train-status').catch(() => '?')}`, { cause: e });
      }
    };
    await waitPhase(['ready', 'no-webgpu'], 60_000);
    const ready = await demo();
    assert.is(ready.phase, 'ready', `the page has WebGPU (${await page.textContent('#adapter')})`);
    assert.match(await page.textContent('#adapter') ?? '', /SwiftShader/i, 'the page names its adapter');

    // Bad input first: a training file with a broken label gets loadDataset's message, naming the file and row.
    const badCsv = join(root, 'bad_train.csv');
    writeFileSync(badCsv, 'text,label\nfirst tweet,Dividend\nsecond tweet,\n');
    await page.fill('#model-name', '/models/tiny-bert');
    await page.setInputFiles('#train-file', badCsv);
    await page.click('#train');
    await waitPhase(['error'], 60_000);
    const nodeError = await loadDataset(badCsv).then(() => 'it loaded', (e: Error) => e.message);
    assert.match(nodeError, `${badCsv}: data row 2 (line 3): label "" is not an integer`);
    assert.is(await page.textContent('#error'), nodeError.replace(`${root}/`, ''), 'the page gives Node\'s message, naming the picked file');

    pageErrors.length = 0; // the page logs the error it showed

    await page.setInputFiles('#train-file', trainCsv);
    await page.setInputFiles('#valid-file', validCsv);
    await page.fill('#epochs', String(EPOCHS));
    await page.fill('#batch-size', String(BATCH));
    await page.fill('#learning-rate', '1e-2');
    await page.fill('#max-length', String(MAX_LENGTH));
    await page.fill('#eval-steps', '32');
    await page.fill('#save-steps', '32');
    const trainStarted = Date.now();
    await page.click('#train');
    await waitPhase(['trained', 'stopped', 'error'], TIMEOUT_MS);
    const trainSeconds = (Date.now() - trainStarted) / 1000;
    const after = await demo();
    assert.is(after.error, null, `no error in the page: ${after.error}`);
    assert.is(after.phase, 'trained');
    assert.is(after.step, STEPS);
    const accuracy = after.evals.at(-1)!.accuracy;
    const majority = after.majority!;
    assert.ok(accuracy >= majority + MARGIN_OVER_MAJORITY, `evaluation accuracy ${accuracy} vs majority class ${majority} (data: ${source})`);
    assert.ok(after.evals.length >= 2, `an evaluation every 32 steps: ${JSON.stringify(after.evals)}`);

    await page.fill('#text', FIXED_TEXT);
    await page.click('#classify');
    await page.waitForFunction((t) => (window as unknown as { demo: PageDemo }).demo.logits?.text === t, FIXED_TEXT, { timeout: 60_000 });
    const printed = JSON.parse((await page.getAttribute('#logits', 'data-logits'))!) as number[];
    assert.equal(printed, (await demo()).logits!.values, 'the logits printed are the page\'s');
    assert.is(printed.length, 4);
    assert.ok((await page.locator('#classify-out tr').count()) === 4, 'every class with its score');

    await page.click('#fill');
    await page.waitForFunction(() => document.querySelectorAll('#fill-out tr').length === 5 || (window as unknown as { demo: PageDemo }).demo.error, null, { timeout: 60_000 });
    assert.is((await demo()).error, null, 'fill-mask runs');

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#download')]);
    const zipPath = join(root, 'download.zip');
    await download.saveAs(zipPath);
    await page.waitForFunction(() => document.getElementById('download-status')!.textContent!.includes('MB'), null, { timeout: 10_000 });
    const shot = process.env.SHADERGRAD_SCREENSHOT === '1' ? join(ROOT, 'docs/demo.png') : join(root, 'demo.png');
    mkdirSync(resolve(shot, '..'), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });

    // Reloaded, the tab finds the run's newest checkpoint in OPFS; the same files picked again, Resume
    // brings the trained model back whole: the same step, evaluations and logits, bit for bit.
    const reloaded = Date.now();
    await page.reload();
    await waitPhase(['ready'], 60_000);
    // Resume turns on once the page has looked for a checkpoint (after 'ready').
    await page.waitForSelector('#resume:enabled', { timeout: 30_000 }).catch(() => {});
    assert.match(await page.textContent('#train-status') ?? '', `A checkpoint of an earlier run is kept in this browser (shadergrad-demo/run/checkpoint-${STEPS})`);
    await page.setInputFiles('#train-file', trainCsv);
    await page.setInputFiles('#valid-file', validCsv);
    await page.click('#resume');
    await waitPhase(['trained', 'stopped', 'error'], 120_000);
    const resumed = await demo();
    assert.is(resumed.error, null, `no error resuming: ${resumed.error}`);
    assert.is(resumed.step, STEPS);
    assert.equal(resumed.evals, after.evals, 'the evaluations, from the checkpoint\'s history');
    await page.fill('#text', FIXED_TEXT);
    await page.click('#classify');
    await page.waitForFunction((t) => (window as unknown as { demo: PageDemo }).demo.logits?.text === t, FIXED_TEXT, { timeout: 60_000 });
    assert.equal((await demo()).logits!.values, printed, 'the logits after the reload, bit for bit');
    const resumeSeconds = (Date.now() - reloaded) / 1000;

    const files = unzipSync(readFileSync(zipPath));
    for (const name of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'README.md']) assert.ok(files[name], `${name} in the zip (${Object.keys(files).join(', ')})`);
    const folder = join(root, 'downloaded');
    mkdirSync(folder);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(folder, name), bytes);
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    assert.equal(Object.values(config.id2label).sort(), [...new Set(readFileSync(validCsv, 'utf8').trim().split('\n').slice(1).map((l) => l.slice(l.lastIndexOf(',') + 1).replace(/^"|"$/g, '')))].sort());
    const inNode = await nodeLogits(folder, FIXED_TEXT, MAX_LENGTH);
    const worst = Math.max(...inNode.map((v, i) => Math.abs(v - printed[i]) - LOGIT_TOLERANCE.rel * Math.abs(v)));
    const diff = Math.max(...inNode.map((v, i) => Math.abs(v - printed[i])));
    assert.ok(worst <= LOGIT_TOLERANCE.abs, `Node ${JSON.stringify(inNode)} vs page ${JSON.stringify(printed)}: largest difference ${diff}`);
    assert.equal(pageErrors, [], 'no uncaught error or console error in the page');
    process.stdout.write(`  demo: ${STEPS} steps in ${trainSeconds.toFixed(0)} s on ${after.adapter?.description || after.adapter?.name}; ` +
      `accuracy ${accuracy.toFixed(3)} vs majority ${majority.toFixed(3)} (${source}); logits Node vs page: max |diff| ${diff.toExponential(2)}; ` +
      `reload and resume ${resumeSeconds.toFixed(0)} s; ${((Date.now() - started) / 1000).toFixed(0)} s in all; screenshot ${shot}\n`);
  } finally {
    await browser?.close().catch(() => {});
    server.close();
  }
});

test.run();
