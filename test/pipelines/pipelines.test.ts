// pipeline() as a transformers.js user calls it, on tiny BERT folders written
// here (random weights, the synthetic vocabulary): results are checked for
// transformers.js' shapes and against the model's own logits.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init, hasDevice, gpu } from '../../src/gpu/device.js';
import { noGrad } from '../../src/autograd.js';
import { tidy } from '../../src/tensor.js';
import { setInitSeed } from '../../src/nn/module.js';
import { bertConfig, type BertConfig } from '../../src/models/bert/config.js';
import { saveCheckpoint } from '../../src/models/bert/checkpoint.js';
import { BertForMaskedLM, BertForSequenceClassification, BertModel } from '../../src/models/bert/modeling.js';
import { AutoTokenizer } from '../../src/data/tokenizer.js';
import { pipeline } from '../../src/pipelines/index.js';
import { softmax } from '../../src/ops/softmax.js';
import { autocast } from '../../src/ops/cast.js';
import { syntheticTokenizer, tempDir } from '../train/synthetic.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders

const LABELS = { 0: 'negative', 1: 'neutral', 2: 'positive' };
const TOL = 1e-5; // probabilities read back vs. a CPU softmax of the same logits

/** A tiny BERT config (H 16, 1 layer) with three named labels, no dropout. */
function config(): BertConfig {
  return bertConfig({
    vocab_size: syntheticTokenizer().vocabSize, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
    max_position_embeddings: 64, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
    id2label: LABELS, label2id: { negative: 0, neutral: 1, positive: 2 },
  });
}

/** Tiny classification and masked-LM folders, written once (the device opened first). */
let folders: Promise<{ classifierDir: string; mlmDir: string }> | undefined;
function tinyFolders(): Promise<{ classifierDir: string; mlmDir: string }> {
  folders ??= (async () => {
    await init();
    setInitSeed(11);
    const classifierDir = tempDir('pipeline-classifier');
    await new BertForSequenceClassification(config()).savePretrained(classifierDir);
    await syntheticTokenizer().savePretrained(classifierDir);
    const mlmDir = tempDir('pipeline-mlm');
    await new BertForMaskedLM(config()).savePretrained(mlmDir);
    await syntheticTokenizer().savePretrained(mlmDir);
    return { classifierDir, mlmDir };
  })();
  return folders;
}

/** Softmax over the last axis of the model's logits for `texts`, computed here on the CPU. */
async function referenceProbs(model: BertForSequenceClassification | BertForMaskedLM, texts: string[]): Promise<{ probs: number[][]; width: number }> {
  const tokenizer = syntheticTokenizer();
  const batch = tokenizer(texts, { padding: true });
  const logits = noGrad(() => tidy(() => model.forward(batch).logits));
  const values = await logits.toArray();
  logits.dispose();
  const width = logits.shape.at(-1)!;
  const probs: number[][] = [];
  for (let r = 0; r < values.length / width; r++) {
    const row = Array.from(values.subarray(r * width, (r + 1) * width));
    const max = Math.max(...row);
    const exp = row.map((v) => Math.exp(v - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    probs.push(exp.map((v) => v / sum));
  }
  return { probs, width };
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await promise.then(
    () => assert.unreachable(`should reject with ${pattern}`),
    (e: Error) => assert.match(e.message, pattern),
  );
}

test('await pipeline(task, folder) opens the WebGPU device itself (no init() by the caller)', async () => {
  const opened = hasDevice(); // false when this file runs alone
  // A folder written without a device: config.json, one tensor (the rest is initialised on load), the tokenizer.
  const dir = tempDir('pipeline-cpu-written');
  await saveCheckpoint(dir, config(), new Map([['classifier.bias', { shape: [3], data: new Float32Array([0, 0, 5]) }]]));
  await syntheticTokenizer().savePretrained(dir);
  const classifier = await pipeline('sentiment-analysis', dir);
  assert.ok(hasDevice(), `device open after pipeline() (was open before: ${opened})`);
  const [result] = await classifier('the market today');
  assert.equal(Object.keys(result), ['label', 'score']);
  assert.ok(Object.values(LABELS).includes(result.label), result.label);
});

test("text-classification: one text -> [{ label, score }]; top_k k -> k labels; top_k null -> all; array -> flat for top_k 1, a list per text otherwise", async () => {
  const { classifierDir } = await tinyFolders();
  const classifier = await pipeline('text-classification', classifierDir);
  const texts = ['oil price report', 'the fed says rates after week'];
  const { probs } = await referenceProbs(classifier.pipeline.model, [texts[0]]);
  const best = probs[0].indexOf(Math.max(...probs[0]));

  const one = await classifier(texts[0]);
  assert.is(one.length, 1);
  assert.is(one[0].label, LABELS[best as 0 | 1 | 2]);
  assert.ok(Math.abs(one[0].score - probs[0][best]) < TOL, `score ${one[0].score} vs ${probs[0][best]}`);

  const top2 = await classifier(texts[0], { top_k: 2 });
  assert.is(top2.length, 2);
  assert.equal(top2[0], one[0]);
  assert.ok(top2[0].score >= top2[1].score);
  const all = await classifier(texts[0], { top_k: null });
  assert.equal(all.map((r) => r.label).sort(), ['negative', 'neutral', 'positive']);
  assert.ok(Math.abs(all.reduce((s, r) => s + r.score, 0) - 1) < 1e-5);
  assert.equal(await classifier(texts[0], { topK: 2 }), top2);

  const before = gpu().counts();
  const flat = await classifier(texts);
  const counted = gpu().countsSince(before);
  assert.equal([counted.uploads, counted.submissions], [1, 1], 'two texts in one batch: one upload, one submission');
  assert.equal(flat, [one[0], (await classifier(texts[1]))[0]]);
  const nested = await classifier(texts, { top_k: 2 });
  assert.is(nested.length, 2);
  assert.equal(nested[0], top2);
  assert.is(nested[1].length, 2);
});

test("pipeline(task, { model: folder, tokenizer }) as transformers' keyword form; the callable carries task, model, tokenizer and dispose() as transformers.js'", async () => {
  const { classifierDir, mlmDir } = await tinyFolders();
  const byName = await pipeline('text-classification', { model: classifierDir, batch_size: 4 });
  const byPath = await pipeline('text-classification', classifierDir);
  assert.equal(await byName('oil price report', { top_k: null }), await byPath('oil price report', { top_k: null }));
  assert.is(byName.task, 'text-classification');
  assert.is(byName.model, byName.pipeline.model);
  assert.is(byName.tokenizer, byName.pipeline.tokenizer);
  const withTokenizer = await pipeline('fill-mask', { model: mlmDir, tokenizer: byName.tokenizer });
  assert.is(withTokenizer.tokenizer, byName.tokenizer);
  await rejects(pipeline('fill-mask', { model: mlmDir, tokenizer: 42 } as never) as unknown as Promise<unknown>, /tokenizer must be a folder, a Hub id or a BertTokenizer, got 42/);
  await rejects(pipeline('fill-mask', { model: mlmDir, quantized: true } as never) as unknown as Promise<unknown>, /unknown option 'quantized'/);
  await byName.dispose();
  assert.ok(byName.model.classifier.weight.disposed, 'dispose() frees the model');
  await byPath.dispose();
  await withTokenizer.dispose();
});

test('text-classification: unknown options and bad top_k throw naming them', async () => {
  const { classifierDir } = await tinyFolders();
  const classifier = await pipeline('text-classification', classifierDir);
  await rejects(classifier('the market', { topk: 2 } as never), /text-classification: unknown option 'topk'; known options: topK \(top_k\)/);
  await rejects(classifier('the market', { top_k: 0 }), /topK must be a positive integer or null, got 0/);
  await rejects(classifier(42 as never), /expected a string or an array of strings, got 42/);
  await rejects(pipeline('text-classification', classifierDir, { device: 'wasm' } as never), /device "wasm" is not available/);
  await rejects(pipeline('text-classification', classifierDir, { quantized: true } as never), /unknown option 'quantized'; known options: batchSize \(batch_size\), maxLength \(max_length\), dtype, device, revision, cacheDir \(cache_dir\), localFilesOnly \(local_files_only\)/);
});

test("dtype as transformers.js takes it: 'fp16' runs the forward under autocast (the autocast forward's probabilities, bit for bit), 'fp32' is the default, quantized dtypes are refused", async () => {
  const { classifierDir, mlmDir } = await tinyFolders();
  const texts = ['oil price report', 'the fed says rates after week'];
  const fp32 = await pipeline('text-classification', classifierDir, { dtype: 'fp32' });
  assert.equal(await fp32(texts, { top_k: null }), await (await pipeline('text-classification', classifierDir))(texts, { top_k: null }));
  await rejects(pipeline('text-classification', classifierDir, { dtype: 'q8' } as never), /dtype "q8" is not available \(accepted: fp32, fp16; quantized dtypes are not implemented\)/);
  if (!gpu().features.has('shader-f16')) {
    await rejects(pipeline('text-classification', classifierDir, { dtype: 'fp16' }), /dtype 'fp16'.*shader-f16/);
    return;
  }
  const fp16 = await pipeline('text-classification', classifierDir, { device: 'webgpu', dtype: 'fp16' });
  const model = fp16.pipeline.model;
  const batch = syntheticTokenizer()(texts, { padding: true });
  const probs = noGrad(() => tidy(() => softmax(autocast(() => model.forward(batch)).logits)));
  const expected = await probs.toArray();
  probs.dispose();
  const got = await fp16(texts, { top_k: null });
  got.forEach((perText, row) => perText.forEach(({ label, score }) => {
    const c = Number(Object.entries(LABELS).find(([, l]) => l === label)![0]);
    assert.is(score, expected[row * 3 + c], `text ${row}, ${label}: the autocast forward's probability`);
  }));
  const halfScores = got.flat().map((r) => r.score);
  const fullScores = (await fp32(texts, { top_k: null })).flat().map((r) => r.score);
  assert.ok(halfScores.some((v, i) => v !== fullScores[i]), 'the float16 products change the probabilities');
  const filler = await pipeline('fill-mask', mlmDir, { dtype: 'fp16' });
  assert.is((await filler('the [MASK] price')).length, 5);
});

test('pipeline(task, { model, tokenizer }) wraps loaded parts (awaitable too) and checks them', async () => {
  const { classifierDir } = await tinyFolders();
  const model = await BertForSequenceClassification.fromPretrained(classifierDir);
  const tokenizer = await AutoTokenizer.fromPretrained(classifierDir);
  const loaded = await pipeline('text-classification', classifierDir);
  const wrapped = await pipeline('text-classification', { model, tokenizer, batch_size: 1 });
  const texts = ['oil price report', 'the fed says rates after week', 'gold'];
  assert.equal(await wrapped(texts, { top_k: 3 }), await loaded(texts, { top_k: 3 }));
  assert.throws(() => pipeline('text-classification', { tokenizer } as never), /model must be a BertForSequenceClassification, got undefined/);
  assert.throws(() => pipeline('text-classification', { model, tokenizer, top_k: 2 } as never), /unknown option 'top_k'/);
});

test('unknown task -> error listing the tasks; a folder that does not load -> error at pipeline() naming it', async () => {
  const { classifierDir } = await tinyFolders();
  await rejects(pipeline('summarization' as never, classifierDir), /unknown pipeline task "summarization"; tasks: text-classification, sentiment-analysis, fill-mask/);
  assert.throws(() => pipeline('summarization' as never, {} as never), /unknown pipeline task/);
  const empty = tempDir('pipeline-empty');
  await rejects(pipeline('text-classification', empty), new RegExp(`cannot load "${empty}".*config\\.json`));
  const noTokenizer = tempDir('pipeline-no-tokenizer');
  await new BertForSequenceClassification(config()).savePretrained(noTokenizer);
  await rejects(pipeline('text-classification', noTokenizer), new RegExp(`cannot load "${noTokenizer}".*neither tokenizer\\.json nor vocab\\.txt`));
  const badConfig = join(tempDir('pipeline-bad-config'), 'model');
  mkdirSync(badConfig);
  writeFileSync(join(badConfig, 'config.json'), '{ "hidden_size": ');
  await rejects(pipeline('fill-mask', badConfig), new RegExp(`pipeline\\('fill-mask'\\): cannot load "${badConfig}"`));
});

test('fill-mask: [{ score, token, token_str, sequence }], top_k honoured (default 5), an array -> one list per text', async () => {
  const { mlmDir } = await tinyFolders();
  const unmasker = await pipeline('fill-mask', mlmDir);
  const tokenizer = unmasker.pipeline.tokenizer;
  const text = 'the market [MASK] today';
  const out = await unmasker(text);
  assert.is(out.length, 5);
  assert.equal(Object.keys(out[0]), ['score', 'token', 'token_str', 'sequence']);
  // The model's own probabilities at the mask (position 3 after [CLS]).
  const { probs, width } = await referenceProbs(unmasker.pipeline.model, [text]);
  const atMask = probs[3];
  assert.is(width, tokenizer.vocabSize);
  const expected = [...atMask.keys()].sort((a, b) => atMask[b] - atMask[a]).slice(0, 5);
  assert.equal(out.map((r) => r.token), expected);
  for (const r of out) {
    assert.ok(Math.abs(r.score - atMask[r.token]) < TOL, `score of ${r.token_str}`);
    assert.is(r.token_str, tokenizer.decode([r.token]));
    assert.is(r.sequence, tokenizer.decode(tokenizer(text.replace('[MASK]', r.token_str)).inputIds, { skip_special_tokens: true }));
  }
  assert.equal(await unmasker(text, { top_k: 2 }), out.slice(0, 2));
  const second = 'oil [MASK] report';
  const both = await unmasker([text, second]);
  assert.is(both.length, 2);
  assert.equal(both[0], out);
  assert.equal(both[1], await unmasker(second));
});

test('fill-mask: no mask or several masks in a text throw naming it; .pipeline.run gives one list per mask', async () => {
  const { mlmDir } = await tinyFolders();
  const unmasker = await pipeline('fill-mask', mlmDir);
  await rejects(unmasker(['the [MASK]', 'no mask here']), /fill-mask: no \[MASK\] token in text 1: "no mask here"/);
  await rejects(unmasker('[MASK] market [MASK]'), /text 0 has 2 masks; use \.pipeline\.run/);
  const before = gpu().counts();
  const [perMask] = await unmasker.pipeline.run(['[MASK] market [MASK]'], { top_k: 3 });
  const counted = gpu().countsSince(before);
  assert.equal([counted.uploads, counted.submissions], [1, 1], 'one batch: one upload, one submission for both masks');
  assert.is(perMask.length, 2);
  assert.equal(perMask.map((list) => list.length), [3, 3]);
  await rejects(unmasker('the [MASK]', { top_k: null } as never), /topK must be a positive integer, got null/);
});

test("feature-extraction as transformers.js': [B, T, H] hidden states, pooling 'mean' over the unpadded tokens or 'cls', normalize; bad options named", async () => {
  const { mlmDir } = await tinyFolders();
  const extractor = await pipeline('feature-extraction', mlmDir, { batch_size: 1 }); // one text per forward, padded to the longest of all
  const texts = ['the market today', 'gold'];
  const bare = (await BertModel.fromPretrained(mlmDir, { log: null })).eval();
  const batch = syntheticTokenizer()(texts, { padding: true });
  const [B, T] = batch.shape;
  const hidden = noGrad(() => tidy(() => bare.forward(batch).lastHiddenState));
  const states = await hidden.toArray();
  hidden.dispose();
  const H = 16;
  const all = await extractor(texts);
  assert.equal([all.type, all.dims], ['float32', [B, T, H]]);
  assertCloseTo(all.data, states, 'every hidden state');
  const mean = await extractor(texts, { pooling: 'mean' });
  assert.equal(mean.dims, [B, H]);
  for (let b = 0; b < B; b++) {
    const tokens = [...Array(T).keys()].filter((t) => batch.attentionMask![b * T + t] === 1);
    const expected = Array.from({ length: H }, (_, h) => tokens.reduce((acc, t) => acc + states[(b * T + t) * H + h], 0) / tokens.length);
    assertCloseTo(mean.data.subarray(b * H, (b + 1) * H), expected, `mean of text ${b}'s ${tokens.length} tokens`);
  }
  const cls = await extractor('gold', { pooling: 'cls', normalize: true });
  const first = Array.from(states.subarray(1 * T * H, 1 * T * H + H));
  const norm = Math.hypot(...first);
  assertCloseTo(cls.data, first.map((v) => v / norm), 'the first token, normalized');
  assert.equal((cls.tolist() as number[][])[0].length, H);
  assert.equal((all.tolist() as number[][][]).map((rows) => rows.length), [T, T]);
  await rejects(extractor('gold', { pooling: 'max' as never }), /feature-extraction: pooling "max" is not one of 'none', 'mean', 'cls'/);
  await rejects(extractor('gold', { normalise: true } as never), /feature-extraction: unknown option 'normalise'; known options: pooling, normalize/);
  assert.throws(() => pipeline('feature-extraction', { model: new BertForSequenceClassification(config()), tokenizer: syntheticTokenizer() } as never), /model must be a BertModel/);
  bare.dispose();
});

function assertCloseTo(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-5 + 1e-5 * Math.abs(expected[i]), `${what}: element ${i}: ${actual[i]} vs ${expected[i]}`);
}

test.run();
