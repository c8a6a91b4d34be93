// BERT's models called as transformers and transformers.js users call them: snake_case inputs,
// rows of ids as nested arrays, labels as number[], int64 ids; from_pretrained / save_pretrained
// and the Auto classes; load options spelt as transformers spells them, a misspelt one refused.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tidy, keep, noGrad } from '../../src/index.js';
import { AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification } from '../../src/models/auto.js';
import { BertForMaskedLM, BertForSequenceClassification, BertModel, type BertOutput } from '../../src/models/bert/modeling.js';
import { setupDevice } from '../helpers.js';

const FIXTURE = 'test/fixtures/tiny-bert-legacy';
const ROWS = [[101, 7, 8, 9, 102], [101, 11, 102, 0, 0]];
const MASK = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];
const FLAT = { inputIds: Int32Array.from(ROWS.flat()), attentionMask: Int32Array.from(MASK.flat()), shape: [2, 5] as [number, number] };

test.before(setupDevice);

async function values(run: () => BertOutput): Promise<{ logits: number[]; loss?: number }> {
  const out = tidy(() => noGrad(() => { const o = run(); return { logits: keep(o.logits), loss: o.loss && keep(o.loss) }; }));
  const result = { logits: Array.from(await out.logits.toArray()), loss: out.loss && (await out.loss.item()) };
  out.logits.dispose();
  out.loss?.dispose();
  return result;
}

test('model.forward({ input_ids, attention_mask }) with rows of ids gives the logits and loss of the flat Int32Array batch', async () => {
  const model = (await BertForSequenceClassification.from_pretrained(FIXTURE, { log: null })).eval();
  const expected = await values(() => model.forward({ ...FLAT, labels: Int32Array.from([1, 3]) }));
  assert.equal(await values(() => model.forward({ input_ids: ROWS, attention_mask: MASK, labels: [1, 3] })), expected, 'nested number[][], labels number[]');
  assert.equal(await values(() => model.forward({ input_ids: FLAT.inputIds, attention_mask: FLAT.attentionMask, shape: [2, 5], labels: [1, 3] })), expected, 'snake_case keys with shape');
  const int64 = BigInt64Array.from(ROWS.flat(), (v) => BigInt(v));
  assert.equal(await values(() => model.forward({ inputIds: int64, attentionMask: FLAT.attentionMask, shape: [2, 5], labels: [1, 3] })), expected, 'BigInt64Array ids');
  model.dispose();
});

test('BertForMaskedLM takes labels as rows [B][T] (-100 where no loss), BertModel snake_case inputs', async () => {
  const mlm = (await BertForMaskedLM.fromPretrained(FIXTURE, { log: null })).eval();
  const labels = [[-100, 7, -100, -100, -100], [-100, -100, -100, -100, -100]];
  const expected = await values(() => mlm.forward({ ...FLAT, labels: Int32Array.from(labels.flat()) }));
  assert.equal(await values(() => mlm.forward({ input_ids: ROWS, attention_mask: MASK, labels })), expected);
  mlm.dispose();
  const bare = await BertModel.from_pretrained(FIXTURE, { log: null });
  const out = noGrad(() => bare.forward({ input_ids: ROWS, token_type_ids: [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]] }));
  assert.equal(out.lastHiddenState.shape, [2, 5, 32]);
  out.lastHiddenState.dispose();
  out.pooled?.dispose();
  bare.dispose();
});

test('bad inputs are refused by name: an unknown key, a fractional id, ragged rows, a flat array without shape, ids and labels twice', async () => {
  const model = (await BertForSequenceClassification.fromPretrained(FIXTURE, { log: null })).eval();
  const refuse = (inputs: unknown, pattern: RegExp) => assert.throws(() => model.forward(inputs as never), pattern);
  refuse({ input_ids: ROWS, position_ids: ROWS }, /unknown input 'position_ids'; the models take input_ids, attention_mask, token_type_ids, labels/);
  refuse({ input_ids: ROWS, inputs_embeds: [] }, /unknown input 'inputs_embeds'/);
  refuse({ input_ids: [[101, 7.5, 102]] }, /input_ids at \[0, 1\] is 7\.5, not a 32-bit integer/);
  refuse({ input_ids: [[101, 7, 102], [101, 102]] }, /input_ids row 1 has 2 values, row 0 has 3: rows must be padded/);
  refuse({ input_ids: [101, 7, 102] }, /input_ids is a flat array of 3 ids: pass shape \[B, T\]/);
  refuse({ input_ids: ROWS, shape: [5, 2] }, /shape \[5, 2\] but input_ids has 2 rows of 5/);
  refuse({ input_ids: ROWS, inputIds: ROWS }, /input 'inputIds' given twice, as 'input_ids' and 'inputIds'/);
  refuse({ input_ids: ROWS, labels: ['a', 'b'] }, /labels at 0 is "a", not a 32-bit integer/);
  refuse({ attention_mask: MASK }, /inputs have no input_ids/);
  model.dispose();
});

test('from_pretrained takes num_labels / id2label as transformers does and refuses a misspelt option; save_pretrained reloads', async () => {
  const model = await BertForSequenceClassification.from_pretrained(FIXTURE, { num_labels: 3, ignore_mismatched_sizes: true, log: null });
  assert.equal([model.numLabels, model.num_labels, model.config.num_labels], [3, 3, 3]);
  const labelled = await BertForSequenceClassification.from_pretrained(FIXTURE, { id2label: { 0: 'down', 1: 'up' }, ignore_mismatched_sizes: true, log: null });
  assert.equal(labelled.config.id2label, { 0: 'down', 1: 'up' });
  labelled.dispose();
  await BertForSequenceClassification.from_pretrained(FIXTURE, { num_lables: 3 } as never).then(
    () => assert.unreachable('a misspelt option should be refused'),
    (e: Error) => assert.match(e.message, /BertForSequenceClassification\.fromPretrained: unknown option 'num_lables'; known options: numLabels \(num_labels\)/),
  );
  const dir = await mkdtemp(join(tmpdir(), 'sg-habits-'));
  try {
    await model.save_pretrained(dir);
    const reloaded = await AutoModelForSequenceClassification.from_pretrained(dir, { log: null });
    assert.ok(reloaded instanceof BertForSequenceClassification);
    assert.is(reloaded.numLabels, 3);
    const [a, b] = [await values(() => model.eval().forward(FLAT)), await values(() => reloaded.eval().forward(FLAT))];
    assert.equal(b, a, 'the saved folder reloads the same model');
    reloaded.dispose();
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('AutoModel, AutoModelForSequenceClassification and AutoModelForMaskedLM load the BERT class of their task', async () => {
  const bare = await AutoModel.from_pretrained(FIXTURE, { log: null });
  assert.ok(bare instanceof BertModel);
  const cls = await AutoModelForSequenceClassification.fromPretrained(FIXTURE, { log: null });
  assert.ok(cls instanceof BertForSequenceClassification);
  const mlm = await AutoModelForMaskedLM.from_pretrained(FIXTURE, { log: null });
  assert.ok(mlm instanceof BertForMaskedLM);
  for (const m of [bare, cls, mlm]) m.dispose();
  await AutoModel.from_pretrained(FIXTURE, { torch_dtype: 'float16' } as never).then(
    () => assert.unreachable('an option not implemented should be refused'),
    (e: Error) => assert.match(e.message, /unknown option 'torch_dtype'/),
  );
});

test('a model is called as transformers\' model(**inputs) and a layer as torch\'s layer(x): the same as forward', async () => {
  const model = (await BertForSequenceClassification.fromPretrained(FIXTURE, { log: null })).eval();
  assert.is(typeof model, 'function');
  assert.ok(model instanceof BertForSequenceClassification);
  const called = await values(() => model({ input_ids: ROWS, attention_mask: MASK, labels: [1, 3] }));
  assert.equal(called, await values(() => model.forward({ ...FLAT, labels: Int32Array.from([1, 3]) })));
  // The module tree is the same: children, parameters by name, train()/eval().
  assert.equal(model.children().map(([name]) => name), ['bert', 'dropout', 'classifier']);
  assert.is(model.namedParameters().get('classifier.weight'), model.classifier.weight);
  const { logits } = await (async () => model(FLAT))(); // `await model(inputs)`, as transformers.js shows it
  assert.equal(logits.shape, [2, 5]);
  logits.dispose();
  const layer = model.classifier;
  const x = noGrad(() => model.bert.pooledOutput(FLAT));
  assert.equal(Array.from(await noGrad(() => layer(x)).toArray()), Array.from(await noGrad(() => layer.forward(x)).toArray()));
  x.dispose();
  model.dispose();
});

test('state_dict() names every weight as transformers\' does (tied decoder too); load_state_dict() into another model gives its outputs', async () => {
  const mlm = await BertForMaskedLM.from_pretrained(FIXTURE, { log: null });
  const state = mlm.state_dict();
  assert.is(state['cls.predictions.decoder.weight'], state['bert.embeddings.word_embeddings.weight']);
  assert.is(state['cls.predictions.decoder.bias'], state['cls.predictions.bias']);
  const classifier = (await BertForSequenceClassification.from_pretrained(FIXTURE, { log: null, num_labels: 5 })).eval();
  const other = new BertForSequenceClassification(classifier.config).eval();
  assert.equal(other.load_state_dict(classifier.state_dict()), { missing_keys: [], unexpected_keys: [] });
  assert.equal(await values(() => other(FLAT)), await values(() => classifier(FLAT)));
  const { missing_keys, unexpected_keys } = other.load_state_dict(state, { strict: false });
  assert.equal(missing_keys, ['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias']);
  assert.ok(unexpected_keys.includes('cls.predictions.decoder.weight'));
  assert.throws(() => other.load_state_dict(state), /Error\(s\) in loading state_dict for BertForSequenceClassification:\n\tMissing key\(s\) in state_dict: "bert\.pooler\.dense\.weight"/);
  // transformers' num_parameters(): tied weights once; exclude_embeddings drops the three embedding tables.
  const total = Object.values(mlm.state_dict()).reduce((n, t) => n + t.size, 0) - state['cls.predictions.decoder.weight'].size - state['cls.predictions.bias'].size;
  assert.is(mlm.num_parameters(), total);
  const { vocab_size: V, hidden_size: H, max_position_embeddings: P, type_vocab_size: T } = mlm.config;
  assert.is(mlm.num_parameters({ exclude_embeddings: true }), total - (V + P + T) * H);
  assert.throws(() => mlm.num_parameters({ trainable: true } as never), /num_parameters: unknown option 'trainable'/);
  for (const m of [mlm, classifier, other]) m.dispose();
});

test.run();
