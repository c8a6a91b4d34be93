// Parity with the independent PyTorch float64 reference (../shared/reference/bert_reference.py):
// the tiny legacy-named checkpoint in test/fixtures/tiny-bert-legacy and its golden files hold
// the inputs, logits, loss, the gradient of every parameter by Hugging Face name, and the losses
// and final parameters of 3 AdamW steps (lr 1e-3 decayed linearly, weight decay 0.01 except
// biases and LayerNorm weights). Dropout is off (eval mode), as in the goldens.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu, tidy, keep, noGrad, tensor, type Tensor } from '../../src/index.js';
import { readSafetensors, toFloat64, toInt32 } from '../../src/io/safetensors.js';
import { BertModel, BertForSequenceClassification, BertForMaskedLM, type BertInputs, type BertOutput } from '../../src/models/bert/modeling.js';
import { AdamW, hfParameterGroups, getScheduler, applySchedule } from '../../src/optim/index.js';
import { setupDevice, assertClose, type Tolerance } from '../helpers.js';

const FIXTURE = 'test/fixtures/tiny-bert-legacy';
// Logits and loss: float32 through 2 layers of matmuls (K ≤ 64), LayerNorm and softmax, vs float64.
const LOGITS_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };
// Gradients go through the same graph backwards: a little more rounding than the forward.
const GRAD_TOL: Tolerance = { atol: 1e-6, rtol: 1e-4 };
// After 3 AdamW steps of lr ≤ 1e-3: each step moves an element by lr·m̂/(√v̂ + eps), where a small
// gradient's rounding error changes the ratio noticeably (seen: 1.3e-5 on a word-embedding row);
// 1e-5 absolute is 1% of lr.
const FINAL_TOL: Tolerance = { atol: 1e-5, rtol: 1e-4 };
// attention.self.key.bias has a gradient that is exactly zero in exact arithmetic (softmax ignores
// a shift q·b_k shared by all keys): the reference's is ~1e-17, ours ~1e-9, both rounding noise, and
// Adam normalises noise into steps of ±lr. Such parameters can only be checked against Adam's bound
// |Δ| ≤ lr per step: within Σ lr_t = 2e-3 of the reference's final values.
const ZERO_GRAD = 1e-12;
const ZERO_GRAD_FINAL_TOL: Tolerance = { atol: 2e-3, rtol: 0 };
const STEP_LOSS_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };

test.before(setupDevice);

interface Goldens {
  inputs: BertInputs;
  floats(name: string): Float64Array;
  names(prefix: string): string[];
}

async function goldens(task: 'cls' | 'mlm'): Promise<Goldens> {
  const path = join(FIXTURE, `goldens-${task}.safetensors`);
  const file = readSafetensors(await readFile(path), path);
  const get = (name: string) => {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`${path}: no tensor ${name}`);
    return t;
  };
  const ids = get('inputs.input_ids');
  return {
    inputs: {
      inputIds: toInt32(ids, 'inputs.input_ids'),
      attentionMask: toInt32(get('inputs.attention_mask'), 'inputs.attention_mask'),
      tokenTypeIds: toInt32(get('inputs.token_type_ids'), 'inputs.token_type_ids'),
      labels: toInt32(get('inputs.labels'), 'inputs.labels'),
      shape: [ids.shape[0], ids.shape[1]],
    },
    floats: (name) => toFloat64(get(name), name),
    names: (prefix) => [...file.tensors.keys()].filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)),
  };
}

type Model = BertForSequenceClassification | BertForMaskedLM;

/** forward + backward in one tidy(); logits and loss survive. */
function forwardBackward(model: Model, inputs: BertInputs): BertOutput {
  return tidy(() => {
    const out = model.forward(inputs);
    out.loss!.backward();
    keep(out.logits);
    keep(out.loss!);
    return out;
  });
}

/** The same batch as i32 tensors (ids on the GPU only: the model never sees them on the CPU). */
function asTensors(inputs: BertInputs): BertInputs {
  const [B, T] = inputs.shape!;
  const t = (x: BertInputs['inputIds'] | undefined, shape: number[]) => tensor(x as Int32Array, shape, { dtype: 'i32' });
  return {
    inputIds: t(inputs.inputIds, [B, T]),
    attentionMask: t(inputs.attentionMask, [B, T]),
    tokenTypeIds: t(inputs.tokenTypeIds, [B, T]),
    labels: t(inputs.labels, [(inputs.labels as Int32Array).length]),
  };
}

async function checkParity(task: 'cls' | 'mlm', load: () => Promise<Model>, tensors = false): Promise<void> {
  const g = await goldens(task);
  if (tensors) g.inputs = asTensors(g.inputs);
  const model = (await load()).eval();
  const params = model.namedParameters();
  // Every parameter has a golden gradient and every golden gradient a parameter: the names are Hugging Face's.
  assert.equal([...params.keys()].sort(), g.names('grad.').sort(), `${task}: parameter names`);

  const { logits, loss } = forwardBackward(model, g.inputs);
  assertClose(await logits.toArray(), g.floats('out.logits'), LOGITS_TOL, `${task} logits`);
  assertClose([await loss!.item()], g.floats('out.loss'), LOGITS_TOL, `${task} loss`);
  logits.dispose();
  loss!.dispose();
  for (const [name, p] of params) {
    assert.ok(p.grad, `${task}: no gradient for ${name}`);
    assertClose(await p.grad!.toArray(), g.floats(`grad.${name}`), GRAD_TOL, `${task} grad.${name}`);
  }
  model.zeroGrad();

  // 3 AdamW steps on the same batch; step t uses lr·(1 − (t − 1)/3).
  const optimizer = new AdamW(hfParameterGroups(model, 0.01), { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8 });
  const schedule = getScheduler('linear', { numTrainingSteps: 3 });
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    applySchedule(optimizer, schedule, step);
    const out = forwardBackward(model, g.inputs);
    optimizer.step();
    optimizer.zeroGrad();
    losses.push(await out.loss!.item());
    out.logits.dispose();
    out.loss!.dispose();
  }
  assertClose(losses, g.floats('steps.loss'), STEP_LOSS_TOL, `${task} step losses`);
  for (const [name, p] of params) {
    const zeroGrad = g.floats(`grad.${name}`).every((x) => Math.abs(x) < ZERO_GRAD);
    assertClose(await p.toArray(), g.floats(`final.${name}`), zeroGrad ? ZERO_GRAD_FINAL_TOL : FINAL_TOL, `${task} final.${name}`);
  }
  optimizer.dispose();
  model.dispose();
  if (tensors) for (const x of Object.values(g.inputs)) (x as Tensor).dispose();
}

test('BertForSequenceClassification matches the PyTorch reference: logits, loss, every gradient, 3 AdamW steps', async () => {
  await checkParity('cls', () => BertForSequenceClassification.fromPretrained(FIXTURE, { log: null }));
});

test('BertForSequenceClassification with i32 tensor inputs (ids, mask, token types, labels) matches the PyTorch reference', async () => {
  await checkParity('cls', () => BertForSequenceClassification.fromPretrained(FIXTURE, { log: null }), true);
});

test('BertForMaskedLM matches the PyTorch reference: logits, loss, every gradient (tied decoder), 3 AdamW steps', async () => {
  await checkParity('mlm', () => BertForMaskedLM.fromPretrained(FIXTURE, { log: null }));
});

async function logitsOf(model: Model, inputs: BertInputs): Promise<Float32Array> {
  const logits = tidy(() => noGrad(() => keep(model.forward(inputs).logits)));
  const values = await logits.toArray();
  logits.dispose();
  return values;
}

test('BERT inputs: tensors give the Int32Array logits bit for bit; no tokenTypeIds = all zeros; a bad id or label is named with its position or row, nothing uploaded', async () => {
  const { inputs } = await goldens('cls');
  const model = (await BertForSequenceClassification.fromPretrained(FIXTURE, { log: null })).eval();
  const tensors = asTensors(inputs);
  assert.equal(Array.from(await logitsOf(model, tensors)), Array.from(await logitsOf(model, inputs)), 'tensor inputs');
  const [B, T] = inputs.shape!;
  const zeros = { ...inputs, tokenTypeIds: new Int32Array(B * T) };
  assertClose(await logitsOf(model, { ...inputs, tokenTypeIds: undefined }), await logitsOf(model, zeros), { atol: 1e-6, rtol: 1e-6 }, 'tokenTypeIds omitted'); // rounded in another order
  const bad = Int32Array.from(inputs.inputIds as Int32Array);
  bad[T + 2] = model.config.vocab_size;
  const error = await logitsOf(model, { ...inputs, inputIds: bad }).then(() => null, (e: Error) => e);
  assert.match(String(error), new RegExp(`BERT: inputIds: id ${bad[T + 2]} at position \\[1, 2\\] is outside the vocabulary`));
  const C = model.numLabels;
  const labels = Int32Array.from({ length: B }, (_, i) => (i === 1 ? C : 0));
  const before = gpu().counts();
  assert.throws(() => noGrad(() => tidy(() => model.forward({ ...inputs, labels }))), new RegExp(`label ${C} in row 1 is outside \\[0, ${C}\\)`));
  assert.is(gpu().countsSince(before).uploads, 0, 'nothing uploaded for a refused batch');
  for (const x of Object.values(tensors)) (x as Tensor).dispose();
  model.dispose();
});

test('savePretrained -> fromPretrained gives the same logits (classifier and masked LM)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shadergrad-bert-'));
  try {
    for (const task of ['cls', 'mlm'] as const) {
      const { inputs } = await goldens(task);
      const Model = task === 'cls' ? BertForSequenceClassification : BertForMaskedLM;
      const original = (await Model.fromPretrained(FIXTURE, { log: null })).eval();
      const before = await logitsOf(original, inputs); // with labels: the classifier's problem_type is set, as in transformers
      await original.savePretrained(join(dir, task));
      const config = JSON.parse(await readFile(join(dir, task, 'config.json'), 'utf8'));
      assert.equal(config.architectures, [original.architecture]);
      if (task === 'cls') assert.is(config.problem_type, 'single_label_classification');
      const reloaded = (await Model.fromPretrained(join(dir, task), { log: null })).eval();
      assert.equal(Array.from(await logitsOf(reloaded, inputs)), Array.from(before), `${task}: logits after a round trip`);
      original.dispose();
      reloaded.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fromPretrained: a missing classifier is initialised and reported; a label count that does not fit is an error naming both shapes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shadergrad-bert-'));
  try {
    const mlm = await BertForMaskedLM.fromPretrained(FIXTURE, { log: null });
    await mlm.savePretrained(dir);
    mlm.dispose();
    const lines: string[] = [];
    const cls = await BertForSequenceClassification.fromPretrained(dir, { numLabels: 3, log: (l) => lines.push(l) });
    assert.is(cls.numLabels, 3);
    assert.ok(lines.some((l) => /newly initialized: .*classifier\.bias.*classifier\.weight/.test(l)), lines.join('\n'));
    cls.dispose();
    const bareLines: string[] = [];
    (await BertModel.fromPretrained(FIXTURE, { log: (l) => bareLines.push(l) })).dispose();
    assert.equal(bareLines, [`All the weights of BertModel were initialized from the model checkpoint at ${FIXTURE}.`]);
    const error = await BertForSequenceClassification.fromPretrained(FIXTURE, { numLabels: 3, log: null }).then(() => null, (e: Error) => e);
    assert.ok(error && /classifier\.weight.*\[5, 32\].*\[3, 32\]/.test(error.message), String(error));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('BertForSequenceClassification: train mode applies dropout reproducibly from (seed, step)', async () => {
  const { inputs } = await goldens('cls');
  const model = (await BertForSequenceClassification.fromPretrained(FIXTURE, { log: null })).train();
  const run = async (seed: number, step: number) => {
    model.setDropoutSeed(seed, step);
    return Array.from(await logitsOf(model, inputs));
  };
  const a = await run(1, 5);
  assert.equal(await run(1, 5), a, 'same seed and step: same logits');
  assert.not.equal(await run(1, 6), a, 'another step: other masks');
  model.eval();
  assert.not.equal(Array.from(await logitsOf(model, inputs)), a, 'eval: no dropout');
  model.dispose();
});

test.run();
