// Checkpoint folders: config.json parsing and writing, loading the legacy-named fixture, sharded
// indexes, matching a model's parameters (prefix, tied weights, missing / unexpected / mismatched),
// and atomic saves that round-trip.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeName, WEIGHTS_INDEX_NAME, type WeightTensor } from '../../src/io/checkpoint.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/models/bert/checkpoint.js';
import { matchWeights as matchWith, describeMatch, stripPrefix, type MatchOptions } from '../../src/models/weights.js';
import { parseBertConfig, serializeBertConfig, bertConfig, numLabels, BERT_DEFAULTS, type BertConfig } from '../../src/models/bert/config.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { writeFileAtomic } from '../../src/io/files.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders

const FIXTURE_DIR = 'test/fixtures/tiny-bert-legacy';
/** BERT's prefix and BertForMaskedLM's tied decoder, as the model classes declare them. */
const BERT_MATCH: MatchOptions = { prefix: 'bert', tied: ['cls.predictions.decoder.weight', 'cls.predictions.decoder.bias'] };
const matchWeights = (expected: Map<string, number[]>, tensors: ReadonlyMap<string, WeightTensor>, options: Partial<MatchOptions> = {}) =>
  matchWith(expected, tensors, { ...BERT_MATCH, ...options });
const temporaryDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shadergrad-io-'));
  temporaryDirs.push(dir);
  return dir;
}

test.after(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

/** Parameter names and shapes of transformers' BERT classes (what src/models/bert.ts will expose). */
function bertParameters(c: BertConfig, head: 'base' | 'cls' | 'mlm'): Map<string, number[]> {
  const H = c.hidden_size;
  const p = head === 'base' ? '' : 'bert.';
  const params = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    params.set(`${name}.weight`, [out, inp]);
    params.set(`${name}.bias`, [out]);
  };
  const layerNorm = (name: string) => {
    params.set(`${name}.weight`, [H]);
    params.set(`${name}.bias`, [H]);
  };
  params.set(`${p}embeddings.word_embeddings.weight`, [c.vocab_size, H]);
  params.set(`${p}embeddings.position_embeddings.weight`, [c.max_position_embeddings, H]);
  params.set(`${p}embeddings.token_type_embeddings.weight`, [c.type_vocab_size, H]);
  layerNorm(`${p}embeddings.LayerNorm`);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const layer = `${p}encoder.layer.${l}`;
    for (const m of ['query', 'key', 'value']) linear(`${layer}.attention.self.${m}`, H, H);
    linear(`${layer}.attention.output.dense`, H, H);
    layerNorm(`${layer}.attention.output.LayerNorm`);
    linear(`${layer}.intermediate.dense`, c.intermediate_size, H);
    linear(`${layer}.output.dense`, H, c.intermediate_size);
    layerNorm(`${layer}.output.LayerNorm`);
  }
  if (head !== 'mlm') linear(`${p}pooler.dense`, H, H);
  if (head === 'cls') linear('classifier', numLabels(c), H);
  if (head === 'mlm') {
    linear('cls.predictions.transform.dense', H, H);
    layerNorm('cls.predictions.transform.LayerNorm');
    params.set('cls.predictions.bias', [c.vocab_size]);
    params.set('cls.predictions.decoder.weight', [c.vocab_size, H]); // tied to the word embeddings
  }
  return params;
}

// ---- config.json ------------------------------------------------------------------------------

test('config: the fixture parses; missing fields take BertConfig defaults', () => {
  const config = parseBertConfig(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8'));
  assert.is(config.hidden_size, 32);
  assert.is(config.num_attention_heads, 4);
  assert.is(numLabels(config), 5);
  assert.is(config.label2id.LABEL_3, 3);
  assert.is(config.classifier_dropout, null);
  assert.equal(config.architectures, ['BertForSequenceClassification']);
  assert.equal(config.extra, {});
  const defaults = parseBertConfig('{}');
  const { extra, ...rest } = defaults;
  assert.equal(rest, { ...BERT_DEFAULTS });
  assert.equal(extra, {});
  assert.is(numLabels(bertConfig({ num_labels: 3 })), 3);
  assert.equal(bertConfig({ num_labels: 3 }).id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
});

test('config: invalid fields are refused with the file and field named', () => {
  const bad = (fields: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => parseBertConfig(JSON.stringify(fields), 'weights/x/config.json'), (e: Error) => e.message.startsWith('weights/x/config.json: ') && pattern.test(e.message));
  bad({ hidden_size: 30, num_attention_heads: 4 }, /hidden_size \(30\) is not a multiple of num_attention_heads \(4\)/);
  bad({ hidden_size: 0 }, /hidden_size must be a positive integer, got 0/);
  bad({ num_hidden_layers: 2.5 }, /num_hidden_layers must be a positive integer, got 2.5/);
  bad({ vocab_size: null }, /vocab_size must be a positive integer, got null/);
  bad({ hidden_dropout_prob: 1 }, /hidden_dropout_prob must be a number in \[0, 1\), got 1/);
  bad({ layer_norm_eps: 0 }, /layer_norm_eps must be a finite positive number, got 0/);
  bad({ hidden_act: 'gelu_new' }, /hidden_act "gelu_new" is not supported/);
  bad({ position_embedding_type: 'relative_key' }, /position_embedding_type "relative_key" is not supported/);
  bad({ model_type: 'roberta' }, /model_type is "roberta"; only "bert"/);
  bad({ pad_token_id: 40000 }, /pad_token_id must be null or an integer in \[0, vocab_size 30522\)/);
  bad({ classifier_dropout: -0.1 }, /classifier_dropout must be null or a number in \[0, 1\)/);
  bad({ id2label: { 0: 'a', 2: 'b' } }, /id2label key "2" is not a class index in 0..1/);
  bad({ id2label: { 0: 'a', 1: 'a' } }, /id2label gives the label "a" to classes 0 and 1/);
  bad({ id2label: { 0: 'a', 1: 'b' }, label2id: { a: 1, b: 0 } }, /label2id\["a"\] is 1 but id2label says 0/);
  bad({ id2label: { 0: 'a' }, num_labels: 2 }, /num_labels is 2 but id2label has 1 entries/);
  bad({ problem_type: 'ranking' }, /problem_type "ranking" is not one of/);
  bad({ architectures: 'Bert' }, /architectures must be a list of class names/);
  assert.throws(() => parseBertConfig('{"hidden_size": ', 'c.json'), /^c\.json: not valid JSON/);
});

test('config: serialised as transformers writes it (sorted, default labels omitted, non-ASCII escaped) and read back equal', () => {
  const fixture = parseBertConfig(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8'));
  const text = serializeBertConfig(fixture);
  assert.ok(text.endsWith('}\n'));
  const keys = Object.keys(JSON.parse(text));
  assert.equal(keys, [...keys].sort());
  assert.ok(text.includes('\n  "hidden_size": 32,\n'), 'two-space indent, Python separators');
  assert.ok(text.includes('"classifier_dropout": null'), 'BertConfig fields always written');
  assert.equal(parseBertConfig(text), fixture);

  // Two default labels, no architectures, no problem_type: omitted as to_diff_dict does.
  const plain = JSON.parse(serializeBertConfig(bertConfig()));
  for (const key of ['id2label', 'label2id', 'architectures', 'problem_type', 'torch_dtype']) assert.not.ok(key in plain, key);
  assert.is(plain.model_type, 'bert');

  // Eleven labels: id2label keys sorted as strings, as Python's sort_keys does ("10" before "2").
  const labels = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i, i === 1 ? 'café' : `L${i}`]));
  const many = bertConfig({ id2label: labels, problem_type: 'single_label_classification' });
  const manyText = serializeBertConfig(many);
  assert.ok(manyText.indexOf('"10": "L10"') < manyText.indexOf('"2": "L2"'));
  assert.ok(manyText.includes('"1": "caf\\u00e9"'));
  assert.equal(parseBertConfig(manyText), many);

  // Unknown keys survive the round trip; _name_or_path is dropped as transformers does.
  const extra = parseBertConfig({ gradient_checkpointing: false, output_past: true, _name_or_path: 'x' });
  assert.equal(extra.extra, { gradient_checkpointing: false, output_past: true, _name_or_path: 'x' });
  const written = JSON.parse(serializeBertConfig(extra));
  assert.is(written.gradient_checkpointing, false);
  assert.not.ok('_name_or_path' in written);
});

// ---- names and matching -------------------------------------------------------------------------

test('normalizeName renames legacy LayerNorm gamma/beta only; stripPrefix removes bert.', () => {
  assert.is(normalizeName('bert.encoder.layer.0.output.LayerNorm.gamma'), 'bert.encoder.layer.0.output.LayerNorm.weight');
  assert.is(normalizeName('cls.predictions.transform.LayerNorm.beta'), 'cls.predictions.transform.LayerNorm.bias');
  assert.is(normalizeName('bert.embeddings.word_embeddings.weight'), 'bert.embeddings.word_embeddings.weight');
  assert.is(normalizeName('gamma_scale'), 'gamma_scale');
  assert.is(stripPrefix('bert.pooler.dense.bias', 'bert'), 'pooler.dense.bias');
  assert.is(stripPrefix('classifier.bias', 'bert'), 'classifier.bias');
  assert.is(stripPrefix('bertx.a', 'bert'), 'bertx.a');
});

test('the tiny legacy fixture loads: names normalised, I64 position_ids skipped, values intact', async () => {
  const checkpoint = await loadCheckpoint(FIXTURE_DIR);
  assert.equal(checkpoint.skipped, ['bert.embeddings.position_ids']);
  assert.equal(checkpoint.files, ['model.safetensors']);
  assert.is(checkpoint.tensors.size, 48);
  assert.not.ok([...checkpoint.tensors.keys()].some((n) => n.endsWith('.gamma') || n.endsWith('.beta')));
  const raw = readSafetensors(readFileSync(join(FIXTURE_DIR, 'model.safetensors')), 'fixture').tensors;
  assert.equal(Array.from(checkpoint.tensors.get('bert.embeddings.LayerNorm.weight')!.data), Array.from(raw.get('bert.embeddings.LayerNorm.gamma')!.data!));
  assert.equal(checkpoint.tensors.get('bert.embeddings.word_embeddings.weight')!.shape, [1000, 32]);
});

test('matching the fixture with BertForSequenceClassification: all assigned, unused heads reported', async () => {
  const { config, tensors } = await loadCheckpoint(FIXTURE_DIR);
  const expected = bertParameters(config, 'cls');
  const match = matchWeights(expected, tensors);
  assert.is(match.assign.size, expected.size);
  assert.equal(match.missing, []);
  assert.equal(match.mismatched, []);
  assert.equal(match.unexpected, [
    'cls.predictions.bias', 'cls.predictions.transform.LayerNorm.bias', 'cls.predictions.transform.LayerNorm.weight',
    'cls.predictions.transform.dense.bias', 'cls.predictions.transform.dense.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight',
  ]);
  assert.is(match.assign.get('classifier.weight'), tensors.get('classifier.weight'));
  const lines = describeMatch(match, 'BertForSequenceClassification', FIXTURE_DIR);
  assert.equal(lines, [
    `Some weights of the model checkpoint at ${FIXTURE_DIR} were not used when initializing BertForSequenceClassification: ['${match.unexpected.join("', '")}']`,
    `All the weights of BertForSequenceClassification were initialized from the model checkpoint at ${FIXTURE_DIR}.`,
  ]);
});

test('a different number of labels: the shape mismatch names both shapes; describeMatch reports re-initialisation', async () => {
  const { tensors } = await loadCheckpoint(FIXTURE_DIR);
  const fixtureJson = JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8'));
  const config = parseBertConfig({ ...fixtureJson, id2label: undefined, label2id: undefined, num_labels: 2 });
  const match = matchWeights(bertParameters(config, 'cls'), tensors);
  assert.equal(match.mismatched, [{ name: 'classifier.weight', expected: [2, 32], got: [5, 32] }, { name: 'classifier.bias', expected: [2], got: [5] }]);
  assert.not.ok(match.assign.has('classifier.weight'));
  const lines = describeMatch(match, 'BertForSequenceClassification', 'ckpt');
  assert.ok(lines.some((l) => l.includes('because the shapes did not match: classifier.weight: found shape [5, 32] in the checkpoint and [2, 32] in the model instantiated')));
  assert.equal(matchWeights(bertParameters(parseBertConfig(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')), 'cls'), tensors).mismatched, []);
});

test('prefix handling: BertModel strips bert. from a head checkpoint; a head model adds it to a bare one', async () => {
  const { config, tensors } = await loadCheckpoint(FIXTURE_DIR);
  const base = bertParameters(config, 'base');
  const fromHeads = matchWeights(base, tensors);
  assert.is(fromHeads.assign.size, base.size);
  assert.equal(fromHeads.missing, []);
  assert.ok(fromHeads.unexpected.includes('classifier.weight') && fromHeads.unexpected.includes('cls.predictions.bias'));
  assert.is(fromHeads.assign.get('pooler.dense.weight'), tensors.get('bert.pooler.dense.weight'));

  // A bare BertModel checkpoint (no prefix, no heads) into BertForSequenceClassification.
  const bare = new Map([...tensors].filter(([n]) => n.startsWith('bert.')).map(([n, t]) => [stripPrefix(n, 'bert'), t]));
  const cls = bertParameters(config, 'cls');
  const intoHead = matchWeights(cls, bare);
  assert.equal(intoHead.missing, ['classifier.bias', 'classifier.weight']);
  assert.equal(intoHead.unexpected, []);
  assert.is(intoHead.assign.get('bert.pooler.dense.weight'), bare.get('pooler.dense.weight'));
  assert.equal(describeMatch(intoHead, 'BertForSequenceClassification', 'bert-base-cased'), [
    "Some weights of BertForSequenceClassification were not initialized from the model checkpoint at bert-base-cased and are newly initialized: ['classifier.bias', 'classifier.weight']",
  ]);
});

test('tied decoder weights: neither missing nor unexpected; ignoreUnexpected drops a pooler the model lacks', async () => {
  const { config, tensors } = await loadCheckpoint(FIXTURE_DIR);
  const withDecoder = new Map(tensors);
  withDecoder.set('cls.predictions.decoder.weight', tensors.get('bert.embeddings.word_embeddings.weight')!);
  const match = matchWeights(bertParameters(config, 'mlm'), withDecoder, { ignoreUnexpected: [/^bert\.pooler\./] });
  assert.equal(match.missing, []);
  assert.equal(match.unexpected, ['classifier.bias', 'classifier.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight']);
  assert.not.ok(match.assign.has('cls.predictions.decoder.weight'));
  assert.ok(match.assign.has('cls.predictions.bias'));
});

// ---- saving and sharded loading -----------------------------------------------------------------

test('save -> load round trip: same config and values, byte-identical rewrite, tied decoder omitted, no temp files', async () => {
  const { config, tensors } = await loadCheckpoint(FIXTURE_DIR);
  const dir = join(tempDir(), 'nested', 'out');
  const toSave = new Map<string, WeightTensor>(tensors);
  toSave.set('cls.predictions.decoder.weight', tensors.get('bert.embeddings.word_embeddings.weight')!);
  await saveCheckpoint(dir, config, toSave);
  assert.equal(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);

  const file = readSafetensors(readFileSync(join(dir, 'model.safetensors')), 'saved');
  assert.equal(file.metadata, { format: 'pt' });
  assert.not.ok(file.tensors.has('cls.predictions.decoder.weight'));

  const loaded = await loadCheckpoint(dir);
  assert.equal(loaded.config, { ...config, torch_dtype: 'float32' });
  assert.equal([...loaded.tensors.keys()].sort(), [...tensors.keys()].sort());
  for (const [name, t] of tensors) {
    assert.equal(loaded.tensors.get(name)!.shape, t.shape, name);
    assert.equal(Array.from(loaded.tensors.get(name)!.data), Array.from(t.data), name);
  }
  const first = readFileSync(join(dir, 'model.safetensors'));
  await saveCheckpoint(dir, loaded.config, loaded.tensors);
  assert.ok(first.equals(readFileSync(join(dir, 'model.safetensors'))), 'rewriting what was read gives the same bytes');
  assert.is(readFileSync(join(dir, 'config.json'), 'utf8'), serializeBertConfig(loaded.config));
  assert.equal(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
});

test('writeFileAtomic replaces a file whole and leaves nothing behind on failure', async () => {
  const dir = tempDir();
  const path = join(dir, 'f.bin');
  writeFileSync(path, 'old contents');
  await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.equal(Array.from(readFileSync(path)), [1, 2, 3]);
  assert.equal(readdirSync(dir), ['f.bin']);
  const missingDir = join(dir, 'no-such-dir', 'g.bin');
  try {
    await writeFileAtomic(missingDir, 'x');
    assert.unreachable('writing into a missing directory must fail');
  } catch (e) {
    assert.match((e as Error).message, /writing .*no-such-dir\/g\.bin failed/);
  }
  mkdirSync(join(dir, 'target-is-dir'));
  await writeFileAtomic(join(dir, 'target-is-dir'), 'x').then(
    () => assert.unreachable('renaming over a directory must fail'),
    (e: Error) => assert.match(e.message, /target-is-dir failed/),
  );
  assert.equal(readdirSync(dir).sort(), ['f.bin', 'target-is-dir'], 'the temporary file was removed');
});

/** Writes the fixture as two shards plus an index; returns the folder. */
async function writeSharded(edit?: (weightMap: Record<string, string>) => void): Promise<string> {
  const dir = tempDir();
  const { config, tensors } = await loadCheckpoint(FIXTURE_DIR);
  writeFileSync(join(dir, 'config.json'), serializeBertConfig(config));
  const names = [...tensors.keys()].sort();
  const shards = [names.slice(0, 20), names.slice(20)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shardNames, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeFileSync(join(dir, file), writeSafetensors(shardNames.map((n) => [n, tensors.get(n)!] as const), { format: 'pt' }));
    for (const n of shardNames) weightMap[n] = file;
  });
  edit?.(weightMap);
  writeFileSync(join(dir, WEIGHTS_INDEX_NAME), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
  return dir;
}

test('sharded checkpoints load through model.safetensors.index.json; inconsistent indexes are refused', async () => {
  const reference = await loadCheckpoint(FIXTURE_DIR);
  const sharded = await loadCheckpoint(await writeSharded());
  assert.equal(sharded.files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  assert.is(sharded.tensors.size, reference.tensors.size);
  for (const [name, t] of reference.tensors) assert.equal(Array.from(sharded.tensors.get(name)!.data), Array.from(t.data), name);

  const first = 'bert.embeddings.LayerNorm.bias';
  await loadCheckpoint(await writeSharded((m) => (m[first] = 'model-00002-of-00002.safetensors'))).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /model-00001-of-00002\.safetensors: holds tensor 'bert\.embeddings\.LayerNorm\.bias', which .*index\.json maps to model-00002-of-00002\.safetensors/),
  );
  await loadCheckpoint(await writeSharded((m) => (m['extra.weight'] = 'model-00001-of-00002.safetensors'))).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /index\.json: maps tensor 'extra\.weight' to model-00001-of-00002\.safetensors, which does not hold it/),
  );
  await loadCheckpoint(await writeSharded((m) => (m[first] = 'model-00003-of-00003.safetensors'))).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /index\.json: names shard .*model-00003-of-00003\.safetensors, which does not exist/),
  );
  await loadCheckpoint(await writeSharded((m) => (m[first] = '../escape.safetensors'))).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /weight_map\['bert\.embeddings\.LayerNorm\.bias'\] is "\.\.\/escape\.safetensors", not a shard file in the folder/),
  );
});

test('folders without weights or config, and legacy gamma next to weight, give clear errors', async () => {
  const empty = tempDir();
  await loadCheckpoint(empty).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /config\.json not found at .*config\.json/));
  writeFileSync(join(empty, 'config.json'), '{}');
  writeFileSync(join(empty, 'pytorch_model.bin'), 'pickle');
  await loadCheckpoint(empty).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /no model\.safetensors or model\.safetensors\.index\.json \(looked for \S+model\.safetensors and \S+model\.safetensors\.index\.json; only safetensors is read: convert pytorch_model\.bin/),
  );
  const both = tempDir();
  writeFileSync(join(both, 'config.json'), '{}');
  const one = { shape: [1], data: new Float32Array([1]) };
  writeFileSync(join(both, 'model.safetensors'), writeSafetensors(new Map([['a.LayerNorm.gamma', one], ['a.LayerNorm.weight', one]])));
  await loadCheckpoint(both).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /model\.safetensors: tensors 'a\.LayerNorm\.gamma' and 'a\.LayerNorm\.weight' are both 'a\.LayerNorm\.weight'/),
  );
});

test.run();
