import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, tidy, keep, zeros, sum, mul } from '../../src/index.js';
import { Module, Linear, LayerNorm, Embedding, Dropout, DropoutRng, setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification, BertForMaskedLM } from '../../src/models/bert/modeling.js';
import { bertConfig } from '../../src/models/bert/config.js';
import type { Tensor } from '../../src/tensor.js';
import { setupDevice, randomArray, toF32, assertClose } from '../helpers.js';

// Linear's forward is the linear() op's (tested in test/ops/matmul.test.ts); this only checks the wiring.
const LINEAR_TOL = { atol: 1e-5, rtol: 1e-5 };

test.before(setupDevice);

class Block extends Module {
  self: Linear;
  LayerNorm: LayerNorm;
  constructor() {
    super();
    this.self = new Linear(3, 2);
    this.LayerNorm = new LayerNorm(2);
  }
}

class Tree extends Module {
  embed: Embedding;
  layer: Block[];
  dropout: Dropout;
  tied: Tensor;
  alias: Block;
  constructor() {
    super();
    this.embed = new Embedding(5, 2);
    this.layer = [new Block(), new Block()];
    this.dropout = new Dropout(0.1, new DropoutRng());
    this.alias = this.layer[0]; // the same module under a second name: its parameters keep their first names
    this.tied = this.embed.weight; // a plain reference: not a parameter of Tree
  }
}

test('namedParameters: names from the property paths, arrays as .i, a tensor reached twice once', () => {
  const tree = new Tree();
  assert.equal([...tree.namedParameters().keys()], [
    'embed.weight',
    'layer.0.self.weight', 'layer.0.self.bias', 'layer.0.LayerNorm.weight', 'layer.0.LayerNorm.bias',
    'layer.1.self.weight', 'layer.1.self.bias', 'layer.1.LayerNorm.weight', 'layer.1.LayerNorm.bias',
  ]);
  assert.ok(tree.parameters().every((p) => p.requiresGrad));
  tree.dispose();
});

test('train()/eval() reach every descendant; zeroGrad() drops the gradients', () => {
  const tree = new Tree();
  tree.eval();
  assert.ok(!tree.training && !tree.dropout.training && !tree.layer[1].self.training);
  tree.train();
  assert.ok(tree.training && tree.dropout.training && tree.layer[1].LayerNorm.training);
  const w = tree.layer[0].self.weight;
  w.grad = keep(zeros(w.shape));
  tree.zeroGrad();
  assert.is(w.grad, null);
  tree.dispose();
});

test('initialisation as Hugging Face: Linear/Embedding normal(0, std), biases 0, LayerNorm 1 and 0, reproducible from the seed', async () => {
  setInitSeed(7);
  const a = new Linear(64, 64, { std: 0.02 });
  setInitSeed(7);
  const b = new Linear(64, 64, { std: 0.02 });
  const w = await a.weight.toArray();
  assert.equal(Array.from(await b.weight.toArray()), Array.from(w));
  const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
  assert.ok((await a.bias.toArray()).every((x) => x === 0));
  const ln = new LayerNorm(5);
  assert.equal(Array.from(await ln.weight.toArray()), [1, 1, 1, 1, 1]);
  assert.equal(Array.from(await ln.bias.toArray()), [0, 0, 0, 0, 0]);
  for (const m of [a, b, ln]) m.dispose();
});

test('Linear: y = x·Wᵀ + b with its own parameters', async () => {
  const lin = new Linear(4, 3);
  const x = randomArray(2 * 4, 1);
  const w = await lin.weight.toArray();
  const y = tidy(() => keep(lin.forward(tensor(toF32(x), [2, 4]))));
  const expected = Array.from({ length: 6 }, (_, i) => {
    const [r, c] = [Math.floor(i / 3), i % 3];
    let s = 0;
    for (let k = 0; k < 4; k++) s += toF32(x)[r * 4 + k] * w[c * 4 + k];
    return s;
  });
  assertClose(await y.toArray(), expected, LINEAR_TOL, 'Linear forward');
  y.dispose();
  lin.dispose();
});

test('Embedding: rows by id; positions holding paddingIdx add nothing to the gradient', async () => {
  const emb = new Embedding(4, 2, { paddingIdx: 0 });
  const hostIds = Int32Array.of(0, 1, 0, 3);
  tidy(() => sum(mul(emb.forward(tensor(hostIds, [2, 2])), tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]))).backward());
  const w = await emb.weight.toArray();
  const out = tidy(() => keep(emb.forward(tensor(hostIds, [2, 2]))));
  assert.equal(Array.from(await out.toArray()), [w[0], w[1], w[2], w[3], w[0], w[1], w[6], w[7]]);
  assert.equal(Array.from(await emb.weight.grad!.toArray()), [0, 0, 3, 4, 0, 0, 7, 8]);
  out.dispose();
  emb.dispose();
});

test('Dropout: identity in eval and at p = 0; in training a fresh stream per call, repeated after rng.reset(seed, step)', async () => {
  const rng = new DropoutRng();
  const drop = new Dropout(0.5, rng);
  const x = keep(tensor(new Float32Array(4096).fill(1), [4096]));
  drop.eval();
  assert.is(drop.forward(x), x);
  assert.is(new Dropout(0, rng).forward(x), x);
  drop.train();
  const masks = async () => {
    rng.reset(3, 10);
    const first = tidy(() => keep(drop.forward(x)));
    const second = tidy(() => keep(drop.forward(x)));
    const out = [Array.from(await first.toArray()), Array.from(await second.toArray())];
    first.dispose();
    second.dispose();
    return out;
  };
  const [a, b] = await masks();
  assert.ok(a.every((v) => v === 0 || v === 2), 'kept elements are scaled by 1/(1 - p)');
  const kept = a.filter((v) => v !== 0).length / a.length;
  assert.ok(Math.abs(kept - 0.5) < 0.05, `kept fraction ${kept}`);
  assert.not.equal(a, b, 'two calls in one step use different streams');
  assert.equal(await masks(), [a, b], 'reset(seed, step) repeats the streams');
  x.dispose();
});

test('DropoutRng: streams unique per (step, call), moving into the next step range past 4096 calls', () => {
  const rng = new DropoutRng();
  rng.reset(1, 2);
  assert.is(rng.nextStream(), 2 * 4096);
  assert.is(rng.nextStream(), 2 * 4096 + 1);
  for (let i = 2; i < 4096; i++) rng.nextStream();
  assert.is(rng.nextStream(), 3 * 4096);
});

test('BERT parameter names are Hugging Face\'s; the masked LM has no pooler and its decoder is the word embeddings', () => {
  const config = bertConfig({ vocab_size: 50, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 16, num_labels: 3 });
  const cls = new BertForSequenceClassification(config);
  const names = [...cls.namedParameters().keys()];
  for (const n of ['bert.embeddings.word_embeddings.weight', 'bert.embeddings.LayerNorm.weight', 'bert.encoder.layer.1.attention.self.query.weight',
    'bert.encoder.layer.0.attention.output.LayerNorm.bias', 'bert.encoder.layer.1.intermediate.dense.weight', 'bert.encoder.layer.1.output.dense.bias',
    'bert.pooler.dense.weight', 'classifier.weight', 'classifier.bias']) {
    assert.ok(names.includes(n), n);
  }
  assert.is(names.length, 5 + 2 * 16 + 2 + 2);
  assert.equal(cls.classifier.weight.shape, [3, 8]);
  const mlm = new BertForMaskedLM(config);
  const mlmNames = [...mlm.namedParameters().keys()];
  assert.ok(!mlmNames.some((n) => n.startsWith('bert.pooler') || n.includes('decoder')));
  assert.ok(mlmNames.includes('cls.predictions.bias') && mlmNames.includes('cls.predictions.transform.LayerNorm.weight'));
  cls.dispose();
  mlm.dispose();
});

test.run();
