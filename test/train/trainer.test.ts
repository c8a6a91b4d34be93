// The Trainer on a tiny BERT and a synthetic data set: resuming repeats the
// uninterrupted run bit for bit, gradient accumulation equals the larger
// batch, a NaN loss stops with the step, rows and last good checkpoint (and
// no checkpoint is written from weights that do not give a finite loss), a
// bad resume state is refused naming file and field,
// evaluation streams the same numbers predict() gives, and the output folder
// holds what transformers' Trainer writes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice, assertClose } from '../helpers.js';
import { gpu } from '../../src/gpu/device.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { DataCollatorWithPadding } from '../../src/data/collator.js';
import { permutation } from '../../src/data/dataset.js';
import { Trainer, predictedLabels, type TrainerCallback } from '../../src/train/index.js';
import type { TrainingArgumentsInit } from '../../src/train/arguments.js';
import type { LogEntry } from '../../src/train/checkpoint-files.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { syntheticDataset, syntheticTokenizer, tempDir, tinyConfig } from './synthetic.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders

test.before(setupDevice);

const tokenizer = syntheticTokenizer();
const collator = new DataCollatorWithPadding(tokenizer);
const NUM_LABELS = 8;

function makeTrainer(args: Partial<TrainingArgumentsInit> & { outputDir: string }, options: { rows?: number; dropout?: number; callbacks?: TrainerCallback[] } = {}) {
  setInitSeed(3); // same initial weights for every run
  const model = new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS, options.dropout ?? 0.1));
  return new Trainer({
    model,
    args: { learningRate: 5e-3, warmupSteps: 2, loggingSteps: 1, saveStrategy: 'no', disableTqdm: true, ...args },
    trainDataset: syntheticDataset(options.rows ?? 40, 11, tokenizer),
    evalDataset: syntheticDataset(20, 12, tokenizer),
    dataCollator: collator,
    computeMetrics: 'accuracy',
    callbacks: options.callbacks,
    progressStream: { write: () => true }, // quiet
  });
}

const trainingLosses = (history: LogEntry[]) => history.filter((e) => 'loss' in e).map((e) => [e.step, e.loss]);
const stopAt = (step: number): TrainerCallback => ({
  onStepEnd: ({ state, control }) => {
    if (state.globalStep === step) control.shouldTrainingStop = true;
  },
});

test('resume: 2N steps straight equal N, stop, resume from the checkpoint, N — losses and weights bit for bit (dropout on, accumulation 2)', async () => {
  // 40 rows, batch 4 x accumulation 2: 5 steps per epoch, so the 12 steps cross two epoch boundaries and N = 6 stops mid-epoch.
  const args = { perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, maxSteps: 12, saveStrategy: 'steps' as const, saveSteps: 3 };
  const straight = makeTrainer({ ...args, outputDir: tempDir('straight') });
  await straight.train();

  const stoppedDir = tempDir('stopped');
  const stopped = makeTrainer({ ...args, outputDir: stoppedDir }, { callbacks: [stopAt(6)] });
  await stopped.train();
  assert.is(stopped.state.globalStep, 6);
  assert.ok(existsSync(join(stoppedDir, 'checkpoint-6')));

  const resumed = makeTrainer({ ...args, outputDir: stoppedDir });
  await resumed.train({ resumeFromCheckpoint: true }); // the newest: checkpoint-6
  assert.is(resumed.state.globalStep, 12);
  assert.equal(trainingLosses(resumed.state.logHistory), trainingLosses(straight.state.logHistory));
  const bytes = (dir: string, file: string) => readFileSync(join(dir, 'checkpoint-12', file));
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    assert.ok(bytes(straight.args.outputDir, file).equals(bytes(stoppedDir, file)), `${file} at step 12 differs between the straight and the resumed run`);
  }
});

test('gradient accumulation equals the larger batch: batch 4 x 2 steps like batch 8 (uneven last batch included)', async () => {
  // 36 rows: the last step of each epoch has 4 rows (one micro-batch), weighed by its row count.
  const big = makeTrainer({ outputDir: tempDir('big'), perDeviceTrainBatchSize: 8, maxSteps: 6 }, { rows: 36, dropout: 0 });
  const small = makeTrainer({ outputDir: tempDir('small'), perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, maxSteps: 6 }, { rows: 36, dropout: 0 });
  await big.train();
  await small.train();
  const a = trainingLosses(big.state.logHistory);
  const b = trainingLosses(small.state.logHistory);
  // Padding to a different width per micro-batch and summing two halves change the float rounding only.
  const ACCUMULATION_TOL = { atol: 1e-5, rtol: 1e-5 };
  assert.equal(a.map(([s]) => s), b.map(([s]) => s));
  assertClose(b.map(([, l]) => l), a.map(([, l]) => l), ACCUMULATION_TOL, 'losses with accumulation vs one batch');
  const wa = await big.model.namedParameters().get('classifier.weight')!.toArray();
  const wb = await small.model.namedParameters().get('classifier.weight')!.toArray();
  assertClose(wb, wa, { atol: 1e-5, rtol: 1e-4 }, 'classifier.weight after 6 steps');
});

test('a NaN loss stops training naming the step, the rows and the last good checkpoint', async () => {
  const outputDir = tempDir('nan');
  const poison: TrainerCallback = {
    onStepEnd: ({ state }) => {
      if (state.globalStep !== 5) return;
      const w = trainer.model.namedParameters().get('classifier.weight')!;
      gpu().upload(new Float32Array(w.size).fill(NaN), w.buffer, w.byteOffset);
    },
  };
  // Saves at steps 2 and 4; the weights go bad after step 5 (a step that does not save): step 6's loss is NaN.
  const trainer = makeTrainer({ outputDir, perDeviceTrainBatchSize: 4, maxSteps: 8, saveStrategy: 'steps', saveSteps: 2, loggingSteps: 100 }, { callbacks: [poison] });
  const rows = Array.from(permutation(40, 42).subarray(5 * 4, 6 * 4)); // step 6: the sixth batch of epoch 0 (data seed 42)
  try {
    await trainer.train();
    assert.unreachable('training should stop');
  } catch (e) {
    const message = (e as Error).message;
    assert.match(message, 'the loss is NaN at step 6');
    assert.match(message, `training set rows ${rows.join(', ')}`);
    assert.match(message, `Last good checkpoint: ${join(outputDir, 'checkpoint-4')} (good: its weights were checked to give a finite loss before it was written)`);
  }
});

test('a checkpoint is written only from weights that give a finite loss: bad weights at a save step stop training before the save', async () => {
  const outputDir = tempDir('nan-save');
  const poison: TrainerCallback = {
    onStepEnd: ({ state }) => {
      if (state.globalStep !== 4) return;
      const w = trainer.model.namedParameters().get('classifier.weight')!;
      gpu().upload(new Float32Array(w.size).fill(NaN), w.buffer, w.byteOffset);
    },
  };
  const trainer = makeTrainer({ outputDir, perDeviceTrainBatchSize: 4, maxSteps: 8, saveStrategy: 'steps', saveSteps: 2, loggingSteps: 100 }, { callbacks: [poison] });
  const rows = Array.from(permutation(40, 42).subarray(4 * 4, 5 * 4)); // step 5's batch, on which the weights of step 4 are tried
  try {
    await trainer.train();
    assert.unreachable('training should stop');
  } catch (e) {
    const message = (e as Error).message;
    assert.match(message, `the loss is NaN at step 5 (training set rows ${rows.join(', ')}) with the weights of step 4`);
    assert.match(message, `${join(outputDir, 'checkpoint-4')} was not written and training stopped`);
    assert.match(message, `Last good checkpoint: ${join(outputDir, 'checkpoint-2')} (good:`);
  }
  assert.equal(readdirSync(outputDir).filter((n) => n.startsWith('checkpoint-') || n.endsWith('.tmp')), ['checkpoint-2']);
});

test('learning rate 1e10, a save every step: no checkpoint of blown-up weights is written', async () => {
  const outputDir = tempDir('huge-lr');
  const trainer = makeTrainer({ outputDir, learningRate: 1e10, warmupSteps: 0, perDeviceTrainBatchSize: 4, maxSteps: 4, saveStrategy: 'steps', saveSteps: 1 });
  try {
    await trainer.train();
    assert.unreachable('training should stop');
  } catch (e) {
    assert.match((e as Error).message, /the loss is (NaN|Infinity) at step 2 \(training set rows [\d, ]+\) with the weights of step 1; .*checkpoint-1 was not written and training stopped\. Last good checkpoint: none/);
  }
  assert.equal(readdirSync(outputDir).filter((n) => n.startsWith('checkpoint-')), []);
});

test('evaluate() streams the loss and accuracy that predict() gives from all logits; the training mode is restored', async () => {
  const trainer = makeTrainer({ outputDir: tempDir('eval'), maxSteps: 3 });
  await trainer.train();
  const metrics = await trainer.evaluate();
  const out = await trainer.predict(trainer.evalDataset!);
  // As transformers: predictions are the logits [rows, numLabels]; predictedLabels gives their argmax.
  assert.equal(out.predictions.shape, [20, NUM_LABELS]);
  assert.is(out.predictions.length, 20 * NUM_LABELS);
  let correct = 0;
  predictedLabels(out.predictions).forEach((p, i) => (correct += p === out.labelIds![i] ? 1 : 0));
  assert.is(metrics.eval_accuracy, correct / 20);
  assert.is(metrics.eval_accuracy, out.metrics.test_accuracy);
  assertClose([metrics.eval_loss], [out.metrics.test_loss], { atol: 0, rtol: 1e-12 }, 'eval_loss vs test_loss'); // the same batches, summed in the same order
  assert.ok(trainer.model.training, 'model back in training mode');
  for (const key of ['eval_runtime', 'eval_samples_per_second', 'eval_steps_per_second']) assert.type(metrics[key], 'number');
});

test('output folder: checkpoints as transformers lays them out, rotation, JSON-lines log, model card; epoch evaluation and best model', async () => {
  const outputDir = tempDir('layout');
  const trainer = makeTrainer({
    outputDir, perDeviceTrainBatchSize: 8, numTrainEpochs: 3, loggingSteps: 2, evalStrategy: 'epoch', saveStrategy: 'epoch',
    saveTotalLimit: 1, loadBestModelAtEnd: true, metricForBestModel: 'accuracy',
  });
  await trainer.train();
  const state = trainer.state;
  assert.is(state.globalStep, 15);
  const best = state.bestModelCheckpoint!;
  assert.ok(best && /checkpoint-(5|10|15)$/.test(best), `best checkpoint ${best}`);
  const kept = readdirSync(outputDir).filter((n) => n.startsWith('checkpoint-')).sort();
  assert.equal(kept, [...new Set([best.split('/').at(-1)!, 'checkpoint-15'])].sort(), 'rotation keeps the newest and the best');
  const files = readdirSync(join(outputDir, 'checkpoint-15')).sort();
  assert.equal(files, ['checkpoint_manifest.json', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'rng_state.json', 'scheduler.json', 'trainer_state.json', 'training_args.json']);
  const saved = JSON.parse(readFileSync(join(outputDir, 'checkpoint-15', 'trainer_state.json'), 'utf8'));
  assert.is(saved.global_step, 15);
  assert.is(saved.best_model_checkpoint, best);
  assert.equal(Object.keys(saved.log_history.find((e: LogEntry) => 'loss' in e)), ['loss', 'grad_norm', 'learning_rate', 'epoch', 'step']);
  assert.is(saved.log_history.filter((e: LogEntry) => 'eval_loss' in e).length, 3);
  const rng = JSON.parse(readFileSync(join(outputDir, 'checkpoint-15', 'rng_state.json'), 'utf8'));
  assert.equal(rng, { seed: 42, dataSeed: 42, epoch: 3, stepInEpoch: 0, globalStep: 15 });
  const log = readFileSync(join(outputDir, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(log.length, state.logHistory.length, 'every log_history entry is a line of trainer_log.jsonl');
  assert.ok(log.every((l) => typeof l.time === 'string' && typeof l.step === 'number'));
  assert.ok(!readdirSync(outputDir).some((n) => n.endsWith('.tmp')), 'no temporary folders left');
  const card = readFileSync(join(outputDir, 'README.md'), 'utf8');
  assert.ok(card.includes('| Training Loss | Epoch | Step | Validation Loss | Accuracy |'), card);
  assert.ok(card.includes('| 7 | Personnel |'), 'label names from the data set');
  // loadBestModelAtEnd: the model now holds the best checkpoint's weights.
  const bestWeights = readFileSync(join(best, 'model.safetensors'));
  await trainer.save(join(outputDir, 'final'));
  assert.ok(readFileSync(join(outputDir, 'final', 'model.safetensors')).equals(bestWeights), 'final model = best checkpoint');
  assert.ok(existsSync(join(outputDir, 'final', 'README.md')));
});

test('one submission per optimizer step; the loss is read back without a second one', async () => {
  const trainer = makeTrainer({ outputDir: tempDir('submits'), perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, maxSteps: 5, loggingSteps: 100 });
  const queue = gpu().device.queue;
  const submit = queue.submit.bind(queue);
  let submissions = 0;
  queue.submit = (buffers) => {
    submissions++;
    submit(buffers);
  };
  try {
    await trainer.train();
  } finally {
    queue.submit = submit;
  }
  // 5 steps, plus the read-back of the gradient norm for the one log line at the end.
  assert.is(submissions, 5 + 1);
});

test('GPU memory in use stays flat: after step 19 as after step 3', async () => {
  const inUse = new Map<number, number>();
  const probe: TrainerCallback = { onStepEnd: ({ state }) => void inUse.set(state.globalStep, gpu().pool.snapshot().bytesInUse) };
  const trainer = makeTrainer({ outputDir: tempDir('memory'), perDeviceTrainBatchSize: 4, maxSteps: 20, loggingSteps: 100 }, { callbacks: [probe] });
  await trainer.train();
  // Step 20, the last, also holds its gradient norm for the final log line.
  for (let step = 4; step < 20; step++) assert.is(inUse.get(step), inUse.get(3), `bytes in use: step 3 ${inUse.get(3)}, step ${step} ${inUse.get(step)}`);
});

test('resume state is checked before anything is loaded: each bad field is an error naming the file and the field', async () => {
  const outputDir = tempDir('bad-resume');
  const args = { perDeviceTrainBatchSize: 8, maxSteps: 6, saveStrategy: 'steps' as const, saveSteps: 3, loggingSteps: 100 };
  await makeTrainer({ ...args, outputDir }, { callbacks: [stopAt(3)] }).train();
  const good = join(outputDir, 'checkpoint-3');
  // A complete checkpoint (manifest updated) whose one file is changed.
  const corrupt = (file: string, change: (text: string) => string | Uint8Array) => {
    const dir = join(tempDir('bad-resume-copy'), 'checkpoint-3');
    cpSync(good, dir, { recursive: true });
    writeFileSync(join(dir, file), change(readFileSync(join(dir, file), 'utf8')));
    const manifest = JSON.parse(readFileSync(join(dir, 'checkpoint_manifest.json'), 'utf8'));
    manifest.files[file] = statSync(join(dir, file)).size;
    writeFileSync(join(dir, 'checkpoint_manifest.json'), JSON.stringify(manifest));
    return dir;
  };
  const edit = (file: string, fields: Record<string, unknown>) => corrupt(file, (text) => JSON.stringify({ ...JSON.parse(text), ...fields }));
  const optimizer = readSafetensors(readFileSync(join(good, 'optimizer.safetensors')), 'optimizer');
  const reshaped = new Map([...optimizer.tensors].map(([name, t]) => [name, { shape: name === 'exp_avg.classifier.bias' ? [2, 4] : t.shape, data: t.data! }]));
  const cases: [string, RegExp][] = [
    [edit('rng_state.json', { stepInEpoch: -3 }), /rng_state\.json: stepInEpoch is -3; expected an integer from 0 to 4 \(this run has 5 steps per epoch\)/],
    [edit('rng_state.json', { epoch: '0' }), /rng_state\.json: epoch is "0"; expected an integer from 0 to 1/],
    [edit('rng_state.json', { globalStep: 1000 }), /rng_state\.json: globalStep is 1000; expected an integer from 0 to 6/],
    [edit('trainer_state.json', { epoch: 5 }), /trainer_state\.json: epoch is 5; step 3 at 5 steps per epoch is epoch 0\.6/],
    [edit('scheduler.json', { last_step: 2 }), /scheduler\.json: last_step is 2; expected 3/],
    [corrupt('optimizer.safetensors', () => writeSafetensors(reshaped)), /optimizer\.safetensors: exp_avg\.classifier\.bias has shape \[2, 4\], the model's is \[8\]/],
    [corrupt('rng_state.json', () => '{"seed": 4'), /rng_state\.json is not valid JSON/],
  ];
  for (const [dir, message] of cases) {
    try {
      await makeTrainer({ ...args, outputDir: tempDir('bad-resume-out') }).train({ resumeFromCheckpoint: dir });
      assert.unreachable(`resuming from ${dir} should fail with ${message}`);
    } catch (e) {
      assert.match((e as Error).message, message);
      assert.ok((e as Error).message.includes(dir), `${(e as Error).message} names ${dir}`);
    }
  }
  // A half checkpoint: its manifest does not match its files.
  const half = join(tempDir('bad-resume-half'), 'checkpoint-3');
  cpSync(good, half, { recursive: true });
  rmSync(join(half, 'model.safetensors'));
  try {
    await makeTrainer({ ...args, outputDir: tempDir('bad-resume-out') }).train({ resumeFromCheckpoint: half });
    assert.unreachable('a half checkpoint should be refused');
  } catch (e) {
    assert.is((e as Error).message, `Trainer: cannot resume from ${half}: it is incomplete: model.safetensors is missing`);
  }
  try {
    await makeTrainer({ ...args, outputDir: join(half, '..') }).train({ resumeFromCheckpoint: true });
    assert.unreachable('latest never picks a half checkpoint');
  } catch (e) {
    assert.match((e as Error).message, `holds no checkpoint-<step> folder that is complete (${half}: model.safetensors is missing)`);
  }
});

test('errors: no collator or tokenizer, evaluation without evalDataset, resume without checkpoints', async () => {
  setInitSeed(3);
  const model = new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS));
  assert.throws(() => new Trainer({ model, args: { outputDir: 'x' } }), /pass dataCollator, or tokenizer/);
  assert.throws(() => new Trainer({ model, args: { outputDir: 'x', evalStrategy: 'epoch' }, tokenizer }), /evalStrategy is 'epoch' but no evalDataset/);
  const empty = tempDir('empty');
  const trainer = new Trainer({ model, args: { outputDir: empty }, tokenizer, trainDataset: syntheticDataset(8, 1, tokenizer) });
  try {
    await trainer.train({ resumeFromCheckpoint: true });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, `${empty} holds no checkpoint-<step> folder`);
  }
});

test.run();
