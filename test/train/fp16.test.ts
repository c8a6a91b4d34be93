// The Trainer with fp16 (TrainingArguments.fp16: autocast + GradScaler, as transformers' fp16=True)
// on a tiny BERT and the synthetic data set: the loss curve follows the float32 run's; an
// overflowed step is skipped (trainingStep: weights, AdamW's moments and step counts untouched,
// the scale backed off) and logged with the new loss scale, and training goes on; resuming an
// fp16 run from a checkpoint repeats the uninterrupted run bit for bit, the loss scale included
// (scaler.json); an adapter without shader-f16 is refused before training starts.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification, type BertInputs, type BertOutput } from '../../src/models/bert/modeling.js';
import { DataCollatorWithPadding } from '../../src/data/collator.js';
import { Trainer, type TrainerCallback } from '../../src/train/index.js';
import type { LogEntry } from '../../src/train/checkpoint-files.js';
import { record } from '../../src/autograd.js';
import { full, tidy, type Tensor } from '../../src/tensor.js';
import { noGrad } from '../../src/autograd.js';
import { autocast } from '../../src/ops/cast.js';
import { copy } from '../../src/ops/elementwise.js';
import { AdamW, GradScaler, getScheduler } from '../../src/optim/index.js';
import { TrainingArguments, type TrainingArgumentsInit } from '../../src/train/arguments.js';
import { microBatches, trainingStep } from '../../src/train/step.js';
import { permutation } from '../../src/data/dataset.js';
import { syntheticDataset, syntheticTokenizer, tempDir, tinyConfig } from './synthetic.js';
import '../../src/node/sources.js';

test.before(setupDevice);

const tokenizer = syntheticTokenizer();
const collator = new DataCollatorWithPadding(tokenizer);

/**
 * The tiny BERT whose loss, at optimizer step `infAt`, passes an inf gradient back (a custom op:
 * identity forward, backward inf): the way torch's GradScaler tests fill a gradient with inf.
 */
class InfGradientAt extends BertForSequenceClassification {
  private step = -1;
  constructor(readonly infAt: number) {
    super(tinyConfig(tokenizer.vocabSize, 8, 0.1));
  }

  override setDropoutSeed(seed: number, step: number): void {
    this.step = step + 1; // the optimizer step about to run
    super.setDropoutSeed(seed, step);
  }

  override forward(inputs: BertInputs): BertOutput {
    const out = super.forward(inputs);
    if (!out.loss || !this.training || this.step !== this.infAt) return out;
    const loss = out.loss;
    return { ...out, loss: record(copy(loss), 'infGradient', [loss], (dOut: Tensor) => [full(dOut.shape, Infinity)]) };
  }
}

function makeTrainer(args: Partial<TrainingArgumentsInit> & { outputDir: string }, options: { infAt?: number; callbacks?: TrainerCallback[]; lines?: string[] } = {}) {
  setInitSeed(3);
  const model = options.infAt ? new InfGradientAt(options.infAt) : new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, 8, 0.1));
  return new Trainer({
    model,
    args: { learningRate: 5e-3, warmupSteps: 2, loggingSteps: 1, saveStrategy: 'no', disableTqdm: true, perDeviceTrainBatchSize: 8, ...args },
    trainDataset: syntheticDataset(64, 11, tokenizer),
    dataCollator: collator,
    callbacks: options.callbacks,
    progressStream: { write: (s: string) => (options.lines?.push(s), true) },
  });
}

const losses = (history: LogEntry[]) => history.filter((e) => 'loss' in e).map((e) => e.loss);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('200 steps in fp16 follow the float32 loss curve (dropout on, same seeds and data order)', async () => {
  const f32 = makeTrainer({ outputDir: tempDir('f32'), maxSteps: 200 });
  const f16 = makeTrainer({ outputDir: tempDir('f16'), maxSteps: 200, fp16: true });
  await f32.train();
  await f16.train();
  const [a, b] = [losses(f32.state.logHistory), losses(f16.state.logHistory)];
  assert.is(a.length, 200);
  assert.is(b.length, 200);
  // Early on, the runs differ only by the half rounding of the products' operands (relative
  // u = 2^-11 each, products of K <= 32 terms): the losses (about 2) agree to 1e-3, far inside
  // the 5e-2 a single different batch or dropout mask moves them. Later the rounding
  // differences, fed back through 200 updates, move the two runs apart step by step (as two
  // float32 runs with reordered sums drift), so the curves are compared as means over windows of
  // 20 steps, within 0.05 (measured on lavapipe: at most 2e-5 per step over the first 20 steps,
  // 0.018 between window means), while both fall from about 2.07 to under 1.5.
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-3, `step ${i + 1}: f32 ${a[i]}, f16 ${b[i]}`);
  for (let i = 0; i < 200; i += 20) {
    const [wa, wb] = [mean(a.slice(i, i + 20)), mean(b.slice(i, i + 20))];
    assert.ok(Math.abs(wa - wb) <= 0.05, `steps ${i + 1}-${i + 20}: f32 mean ${wa}, f16 mean ${wb}`);
  }
  for (const l of [a, b]) assert.ok(mean(l.slice(180)) < mean(l.slice(0, 20)) - 0.4, `the loss falls: ${mean(l.slice(0, 20))} -> ${mean(l.slice(180))}`);
  // Every log line of the fp16 run carries the loss scale; no step overflowed here, and fewer
  // than growthInterval (2000) steps ran, so it stays at 2^16.
  assert.ok(f16.state.logHistory.filter((e) => 'loss' in e).every((e) => e.loss_scale === 65536));
  assert.not.ok(f32.state.logHistory.some((e) => 'loss_scale' in e));
});

test('an inf gradient skips that step (logged with the new scale); resuming the fp16 run repeats it bit for bit, scale and all', async () => {
  // Step 2's gradients overflow: skipped, scale 2^16 -> 2^15. Checkpoints every 3 steps; the
  // stopped run stops at 5 and resumes from checkpoint-3, whose scaler.json holds 2^15.
  const args = { maxSteps: 8, fp16: true, saveStrategy: 'steps' as const, saveSteps: 3 };
  const lines: string[] = [];
  const straight = makeTrainer({ ...args, outputDir: tempDir('fp16-straight') }, { infAt: 2, lines });
  await straight.train();
  const history = straight.state.logHistory;
  const skipped = history.filter((e) => 'step_skipped' in e);
  assert.equal(skipped, [{ step_skipped: 1, loss_scale: 32768, epoch: 2 / 8, step: 2 }]);
  assert.match(lines.join(''), 'Step 2: the gradients hold inf or NaN (fp16 overflow); optimizer step skipped, loss scale 65536 -> 32768');
  assert.equal(history.filter((e) => 'loss' in e).map((e) => [e.step, e.loss_scale]), [[1, 65536], ...[2, 3, 4, 5, 6, 7, 8].map((s) => [s, 32768])]);
  assert.not.ok('grad_norm' in history.find((e) => e.step === 2 && 'loss' in e)!, 'no gradient norm for the skipped step');
  const scaler = JSON.parse(readFileSync(join(straight.args.outputDir, 'checkpoint-3', 'scaler.json'), 'utf8'));
  assert.equal(scaler, { scale: 32768, growth_factor: 2, backoff_factor: 0.5, growth_interval: 2000, _growth_tracker: 1 });

  const stoppedDir = tempDir('fp16-stopped');
  const stop: TrainerCallback = { onStepEnd: ({ state, control }) => void (state.globalStep === 5 && (control.shouldTrainingStop = true)) };
  await makeTrainer({ ...args, outputDir: stoppedDir }, { infAt: 2, callbacks: [stop] }).train();
  assert.ok(existsSync(join(stoppedDir, 'checkpoint-3')));
  const resumed = makeTrainer({ ...args, outputDir: stoppedDir }, { infAt: 2 });
  await resumed.train({ resumeFromCheckpoint: join(stoppedDir, 'checkpoint-3') });
  const training = (h: LogEntry[]) => h.filter((e) => 'loss' in e || 'step_skipped' in e).map(({ step, loss, loss_scale, step_skipped }) => ({ step, loss, loss_scale, step_skipped }));
  assert.equal(training(resumed.state.logHistory), training(history));
  const bytes = (dir: string, file: string) => readFileSync(join(dir, 'checkpoint-8', file));
  for (const file of ['model.safetensors', 'optimizer.safetensors', 'scaler.json']) {
    assert.ok(bytes(straight.args.outputDir, file).equals(bytes(stoppedDir, file)), `${file} at step 8 differs between the straight and the resumed run`);
  }
});

test('an overflowed fp16 training step is skipped: weights, AdamW moments and step counts untouched, scale backed off; the next step updates', async () => {
  setInitSeed(3);
  const model = new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, 8, 0));
  const train = syntheticDataset(8, 11, tokenizer);
  const args = new TrainingArguments({ outputDir: 'unused', perDeviceTrainBatchSize: 4, fp16: true, learningRate: 1e-2 });
  const params = model.namedParameters();
  const optimizer = new AdamW([...params.values()], { lr: args.learningRate });
  const schedule = getScheduler('constant', { numTrainingSteps: 10, numWarmupSteps: 0 });
  const collator = new DataCollatorWithPadding(tokenizer);
  const micro = microBatches((rows) => collator.collate(rows), args, train, permutation(train.length, 1), 0);
  const snapshot = async () => Promise.all([...params.values()].map((p) => p.toArray()));
  const before = await snapshot();
  const momentsBefore = await optimizer.stateDict();
  // 2^60 times the loss: the scaled gradients pass half range (65504) in the backward casts.
  const scaler = new GradScaler({ initScale: 2 ** 60 });
  const overflow = await trainingStep(model, args, 0, micro, optimizer, schedule, params, true, scaler);
  assert.ok(Number.isFinite(await overflow.loss), 'the loss itself is finite');
  assert.is(overflow.skipped, true);
  assert.is(overflow.gradNorm, null, 'no clipping on a skipped step');
  assert.is(scaler.getScale(), 2 ** 59);
  assert.is(optimizer.stepCount, 0);
  assert.equal(await snapshot(), before, 'weights untouched');
  assert.equal(await optimizer.stateDict(), momentsBefore, 'moments and step counts untouched');
  assert.ok([...params.values()].every((p) => p.grad === null), 'gradients cleared');

  scaler.loadStateDict({ ...scaler.stateDict(), scale: 2 ** 16 });
  const good = await trainingStep(model, args, 1, micro, optimizer, schedule, params, true, scaler);
  assert.is(good.skipped, false);
  assert.ok(Number.isFinite(await good.gradNorm!.item()) && (await good.gradNorm!.item()) > 0);
  assert.is(optimizer.stepCount, 1);
  assert.is(scaler.growthTracker, 1);
  const after = await snapshot();
  assert.ok(after.some((p, i) => p.some((v, j) => v !== before[i][j])), 'the finite step updated the weights');
  good.gradNorm!.dispose();
  optimizer.dispose();
  scaler.dispose();
});

test('an fp16 run evaluates and predicts under autocast too, as transformers\' does: the float16-product forward\'s logits and loss', async () => {
  const evalRows = syntheticDataset(16, 12, tokenizer);
  const trainer = makeTrainer({ outputDir: tempDir('f16-eval'), maxSteps: 1, fp16: true, perDeviceEvalBatchSize: 16 });
  const { predictions, metrics } = await trainer.predict(evalRows);
  const model = trainer.model as BertForSequenceClassification;
  const batch = collator.collate(Array.from({ length: 16 }, (_, i) => evalRows.get(i)));
  model.eval();
  const forwardOf = async (half: boolean) => {
    const { logits, loss } = noGrad(() => tidy(() => {
      const forward = () => model.forward({ ...batch, shape: batch.shape });
      const out = half ? autocast(forward) : forward();
      return { logits: out.logits, loss: out.loss! };
    }));
    const values = { logits: await logits.toArray(), loss: await loss.item() };
    logits.dispose();
    loss.dispose();
    return values;
  };
  const [half, float] = [await forwardOf(true), await forwardOf(false)];
  assert.equal(Array.from(predictions), Array.from(half.logits), 'the predictions are the autocast forward\'s logits, bit for bit');
  assert.not.equal(Array.from(half.logits), Array.from(float.logits), 'which the float16 products change');
  assert.ok(Math.abs(metrics.test_loss - half.loss) <= 1e-6 * half.loss, `test_loss ${metrics.test_loss}, the autocast forward's ${half.loss}`);
});

test('fp16 on an adapter without shader-f16: a clear error naming the adapter and the feature, before training starts', () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/no-shader-f16.ts'], { encoding: 'utf8', timeout: 120_000 });
  assert.is(child.status, 0, child.stderr);
  const feature = "float16 needs the WebGPU feature 'shader-f16', which the device on adapter '";
  assert.match(child.stdout, `autocast: autocast: ${feature}`);
  assert.match(child.stdout, `train: TrainingArguments.fp16: ${feature}`);
  assert.match(child.stdout, "' lacks (its features: ");
  assert.match(child.stdout, 'Train in float32 (drop fp16 / --fp16)');
  assert.match(child.stdout, 'output folder after: no log, no checkpoint');
});

test.run();
