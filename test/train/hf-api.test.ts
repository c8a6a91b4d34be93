// The Trainer as a transformers user calls it: a compute_metrics function of
// EvalPrediction, predict() returning logits, EarlyStoppingCallback, the
// tokenizer saved with the model and each checkpoint, the results files
// (train_results.json, all_results.json, trainer_state.json), the training
// curves picture linked from the model card, groupByLength, and one
// submission per evaluation batch.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import { gpu } from '../../src/gpu/device.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { AutoTokenizer } from '../../src/data/tokenizer.js';
import { DataCollatorWithPadding } from '../../src/data/collator.js';
import { lengthGroupedPermutation, rowLengths } from '../../src/data/sampler.js';
import { EarlyStoppingCallback, Trainer, predictedLabels, type EvalPrediction, type TrainerCallback, type TrainerOptions } from '../../src/train/index.js';
import { TrainingArguments, type TrainingArgumentsInit } from '../../src/train/arguments.js';
import { Dataset } from '../../src/data/dataset.js';
import { syntheticDataset, syntheticRows, syntheticTokenizer, tempDir, tinyConfig } from './synthetic.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders

test.before(setupDevice);

const tokenizer = syntheticTokenizer();
const NUM_LABELS = 8;

function makeTrainer(args: Partial<TrainingArgumentsInit> & { outputDir: string }, options: Partial<TrainerOptions> = {}) {
  setInitSeed(3);
  const model = new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS));
  return new Trainer({
    model,
    args: { learningRate: 5e-3, loggingSteps: 1, saveStrategy: 'no', disableTqdm: true, perDeviceTrainBatchSize: 8, ...args },
    trainDataset: syntheticDataset(40, 11, tokenizer),
    evalDataset: syntheticDataset(20, 12, tokenizer),
    tokenizer,
    progressStream: { write: () => true },
    ...options,
  });
}

const accuracy = ({ predictions, labelIds }: EvalPrediction) => {
  const preds = predictedLabels(predictions);
  return { accuracy: preds.filter((p, i) => p === labelIds[i]).length / labelIds.length };
};

test('computeMetrics: (evalPred) => ({ accuracy }) gets logits [N, numLabels] and labels; same result as the streaming metric', async () => {
  let seen: EvalPrediction | null = null;
  const fn = makeTrainer({ outputDir: tempDir('fn'), maxSteps: 2 }, { computeMetrics: (p) => ((seen = p), accuracy(p)) });
  const streaming = makeTrainer({ outputDir: tempDir('named'), maxSteps: 2 }, { computeMetrics: 'accuracy' });
  await fn.train();
  await streaming.train();
  const a = await fn.evaluate();
  const b = await streaming.evaluate();
  assert.equal(seen!.predictions.shape, [20, NUM_LABELS]);
  assert.is(seen!.labelIds.length, 20);
  // As transformers' EvalPrediction: label_ids, and Python's unpacking `logits, labels = eval_pred`.
  assert.is(seen!.label_ids, seen!.labelIds);
  const [logits, labels] = seen!;
  assert.is(logits, seen!.predictions);
  assert.is(labels, seen!.labelIds);
  assert.is(a.eval_accuracy, b.eval_accuracy);
  assert.is(a.eval_loss, b.eval_loss);
  assert.is(a.epoch, fn.state.epoch, 'epoch in the metrics, as transformers');
  const bad = makeTrainer({ outputDir: tempDir('bad-fn'), maxSteps: 1 }, { computeMetrics: () => ({ accuracy: '0.5' as unknown as number }) });
  try {
    await bad.evaluate();
    assert.unreachable('a metric that is not a number is refused');
  } catch (e) {
    assert.match((e as Error).message, 'computeMetrics returned accuracy: "0.5"; each metric must be a number');
  }
});

test('predict(): { predictions: logits, labelIds, metrics } with test_ keys; one submission per evaluation batch', async () => {
  const trainer = makeTrainer({ outputDir: tempDir('predict'), maxSteps: 1, perDeviceEvalBatchSize: 8 }, { computeMetrics: accuracy });
  const queue = gpu().device.queue;
  const submit = queue.submit.bind(queue);
  let submissions = 0;
  queue.submit = (buffers) => {
    submissions++;
    submit(buffers);
  };
  let out;
  try {
    out = await trainer.predict(trainer.evalDataset!);
  } finally {
    queue.submit = submit;
  }
  assert.is(submissions, 3, '20 rows in batches of 8: 3 submissions');
  assert.ok(out.predictions instanceof Float32Array);
  assert.equal(out.predictions.shape, [20, NUM_LABELS]);
  assert.equal(Array.from(out.labelIds!), Array.from({ length: 20 }, (_, i) => trainer.evalDataset!.get(i).label));
  assert.is(out.label_ids, out.labelIds, "transformers' name of the labels");
  assert.equal(Object.keys(out.metrics), ['test_loss', 'test_accuracy', 'test_runtime', 'test_samples_per_second', 'test_steps_per_second']);
  try {
    await trainer.predict(trainer.evalDataset!, { metric_key_prefix: 'x', ignoreKeys: [] } as never);
    assert.unreachable('unknown option');
  } catch (e) {
    assert.match((e as Error).message, "Trainer.predict: unknown option 'ignoreKeys'; known options: metricKeyPrefix (metric_key_prefix)");
  }
});

test('EarlyStoppingCallback: stops after earlyStoppingPatience evaluations without improvement; checks loadBestModelAtEnd; snake_case; counter in trainer_state.json', async () => {
  const outputDir = tempDir('early');
  const args = {
    outputDir, maxSteps: 20, evalStrategy: 'steps' as const, evalSteps: 2, saveStrategy: 'steps' as const, saveSteps: 2,
    loadBestModelAtEnd: true, metricForBestModel: 'loss',
  };
  // A threshold no change can pass: every evaluation after the first counts as no improvement.
  const trainer = makeTrainer(args, { callbacks: [new EarlyStoppingCallback({ early_stopping_patience: 2, early_stopping_threshold: 1e9 })] });
  await trainer.train();
  assert.is(trainer.state.globalStep, 6, 'evaluations at steps 2 (best), 4 and 6 (no improvement): stop at 6');
  const saved = JSON.parse(readFileSync(join(outputDir, 'checkpoint-6', 'trainer_state.json'), 'utf8'));
  assert.equal(saved.stateful_callbacks.EarlyStoppingCallback.attributes, { early_stopping_patience_counter: 2 });
  // The best model is tracked without the threshold (as transformers): any of the three.
  assert.match(trainer.state.bestModelCheckpoint!, /checkpoint-(2|4|6)$/);

  const noBest = makeTrainer({ outputDir: tempDir('early-no-best'), maxSteps: 2, evalStrategy: 'steps', evalSteps: 1 }, { callbacks: [new EarlyStoppingCallback()] });
  try {
    await noBest.train();
    assert.unreachable('needs loadBestModelAtEnd');
  } catch (e) {
    assert.match((e as Error).message, 'EarlyStoppingCallback requires loadBestModelAtEnd: true');
  }
  assert.throws(() => new EarlyStoppingCallback({ patience: 3 } as never), /EarlyStoppingCallback: unknown option 'patience'; known options: earlyStoppingPatience \(early_stopping_patience\), earlyStoppingThreshold/);
  assert.throws(() => new EarlyStoppingCallback({ earlyStoppingPatience: 0 }), /earlyStoppingPatience must be an integer >= 1/);
});

test('output folder as transformers examples leave it: model + tokenizer, checkpoints with the tokenizer, results files, trainer_state.json, curves linked from the card', async () => {
  const outputDir = tempDir('results');
  const trainer = makeTrainer({ outputDir, maxSteps: 4, saveStrategy: 'steps', saveSteps: 4, evalStrategy: 'steps', evalSteps: 2 }, { computeMetrics: 'accuracy' });
  const out = await trainer.train();
  assert.equal(Object.keys(out.metrics), ['train_runtime', 'train_samples_per_second', 'train_steps_per_second', 'total_flos', 'train_loss', 'epoch']);
  const read = (name: string) => JSON.parse(readFileSync(join(outputDir, name), 'utf8'));
  const train = read('train_results.json');
  assert.equal(Object.keys(train), ['epoch', 'total_flos', 'train_loss', 'train_runtime', 'train_samples', 'train_samples_per_second', 'train_steps_per_second']);
  assert.is(train.train_samples, 40);
  assert.is(read('trainer_state.json').global_step, 4);
  const metrics = await trainer.evaluate();
  await trainer.saveMetrics('eval', metrics);
  const lines: string[] = [];
  const logged = makeTrainer({ outputDir: tempDir('log-metrics') }, { progressStream: { write: (s: string) => lines.push(s) } });
  logged.logMetrics('eval', { eval_loss: 1.234567, eval_runtime: 3725.5 });
  assert.ok(lines.join('').includes('***** eval metrics *****\n  eval_loss    =     1.2346\n  eval_runtime = 1:02:05.50'), lines.join(''));
  assert.equal(Object.keys(read('all_results.json')).filter((k) => k.startsWith('eval_')).sort(), Object.keys(metrics).filter((k) => k.startsWith('eval_')).sort());
  assert.is(read('eval_results.json').eval_accuracy, metrics.eval_accuracy);

  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json']) {
    assert.ok(existsSync(join(outputDir, 'checkpoint-4', file)), `checkpoint-4 holds ${file}`);
  }
  await trainer.save();
  const loaded = await AutoTokenizer.fromPretrained(outputDir);
  assert.equal(loaded.encodeOne('dividend payout today').inputIds, tokenizer.encodeOne('dividend payout today').inputIds);
  // transformers' spelling, as a script ported from Python calls it: trainer.save_model(dir).
  const ported = join(outputDir, 'saved-as-python');
  await trainer.save_model(ported);
  assert.equal(readFileSync(join(ported, 'config.json'), 'utf8'), readFileSync(join(outputDir, 'config.json'), 'utf8'));
  assert.ok(existsSync(join(ported, 'model.safetensors')) && existsSync(join(ported, 'tokenizer.json')));

  const svg = readFileSync(join(outputDir, 'training_curves.svg'), 'utf8');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  for (const name of ['loss', 'learning_rate', 'eval_loss', 'eval_accuracy']) assert.ok(svg.includes(`>${name}</text>`), `curves draw ${name}`);
  assert.is((svg.match(/<polyline /g) ?? []).length, 4);
  assert.ok(!readdirSync(outputDir).some((n) => n.endsWith('.tmp')), 'written atomically: no temporaries left');
  const card = readFileSync(join(outputDir, 'README.md'), 'utf8');
  assert.ok(card.includes('![Training loss, learning rate and evaluation metrics by step](training_curves.svg)'), card);
  assert.ok(card.includes('library_name: shadergrad\npipeline_tag: text-classification\n'), card);
  assert.ok(card.includes('- generated_from_trainer\n- text-classification\n'), card);
});

test('model card: base_model only for a Hub id; a local folder is named in the text', async () => {
  const local = makeTrainer({ outputDir: tempDir('card-local') }, { modelCard: { baseModel: tempDir('my-base-model') } });
  const card = local.modelCard();
  assert.not.match(card, /^base_model:/m);
  assert.match(card, /This model is a fine-tuned version of a local model \(`shadergrad-my-base-model-\w+`\)/);
  const hub = makeTrainer({ outputDir: tempDir('card-hub') }, { modelCard: { baseModel: 'google-bert/bert-base-cased' } });
  assert.match(hub.modelCard(), /^base_model: google-bert\/bert-base-cased$/m);
});

test('groupByLength: each epoch in lengthGroupedPermutation order (dataSeed + epoch); resume is still bit for bit', async () => {
  const batches: number[][] = [];
  const collator = new DataCollatorWithPadding(tokenizer);
  const recording = (rows: readonly Parameters<typeof collator.collate>[0][number][]) => {
    batches.push(rows.map((r) => (r.inputIds as Int32Array).length));
    return collator.collate(rows);
  };
  const args = { perDeviceTrainBatchSize: 4, maxSteps: 12, groupByLength: true, saveStrategy: 'steps' as const, saveSteps: 3, loggingSteps: 1 };
  const straight = makeTrainer({ ...args, outputDir: tempDir('grouped') }, { dataCollator: recording });
  await straight.train();
  const lengths = rowLengths(straight.trainDataset!);
  const expected = [...lengthGroupedPermutation(lengths, 4, 42), ...lengthGroupedPermutation(lengths, 4, 43)].map((i) => lengths[i]);
  // The training batches (each saved checkpoint also tries the next batch first: drop those repeats).
  const trained = batches.filter((_, i) => ![3, 7, 11, 15].includes(i)).slice(0, 12).flat();
  assert.equal(trained, expected.slice(0, 48));

  const stopAt = (step: number): TrainerCallback => ({ onStepEnd: ({ state, control }) => void (state.globalStep === step && (control.shouldTrainingStop = true)) });
  const dir = tempDir('grouped-resume');
  await makeTrainer({ ...args, outputDir: dir }, { callbacks: [stopAt(6)] }).train();
  const resumed = makeTrainer({ ...args, outputDir: dir });
  await resumed.train({ resume_from_checkpoint: true });
  const losses = (t: Trainer) => t.state.logHistory.filter((e) => 'loss' in e).map((e) => [e.step, e.loss]);
  assert.equal(losses(resumed), losses(straight));
});

test('Trainer options: unknown keys throw naming the known ones; snake_case accepted', () => {
  setInitSeed(3);
  const model = new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS));
  assert.throws(() => new Trainer({ model, args: { outputDir: 'x' }, tokenizer, evalDatset: null } as never), /Trainer: unknown option 'evalDatset'; known options: model, args, trainDataset \(train_dataset\)/);
  const t = new Trainer({ model, args: { outputDir: 'x' }, processing_class: tokenizer, compute_metrics: accuracy });
  assert.is(t.tokenizer, tokenizer);
  assert.throws(() => new Trainer({ model, args: { outputDir: 'x' }, tokenizer, computeMetrics: 42 as never }), /computeMetrics must be a function of \{ predictions, labelIds \}/);
});

test('the datasets tutorial\'s data trains as tokenizeDataset\'s: map(tokenizer, batched), rename_column(label, labels), DataCollatorWithPadding({ tokenizer }); report_to none, logging_strategy epoch, training_loss', async () => {
  const args = { output_dir: tempDir('tutorial'), num_train_epochs: 2, per_device_train_batch_size: 8, learning_rate: 5e-3, save_strategy: 'no' as const, disable_tqdm: true };
  const run = async (trainDataset: Dataset, extra: object, collator?: DataCollatorWithPadding) => {
    setInitSeed(3);
    const trainer = new Trainer({
      model: new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS)),
      args: new TrainingArguments({ ...args, ...extra }), trainDataset, tokenizer, dataCollator: collator, progressStream: { write: () => true },
    });
    return { out: await trainer.train(), logged: trainer.state.logHistory.filter((e) => 'loss' in e).map((e) => e.step) };
  };
  const raw = Dataset.from_list(syntheticRows(24, 5, NUM_LABELS));
  const tutorial = raw
    .map((batch) => tokenizer(batch.text, { truncation: true, return_tensor: false }), { batched: true })
    .rename_column('label', 'labels')
    .remove_columns(['text']);
  const theirs = await run(tutorial, { report_to: 'none', logging_strategy: 'epoch' }, new DataCollatorWithPadding({ tokenizer }));
  const ours = await run(syntheticDataset(24, 5, tokenizer, NUM_LABELS), { logging_steps: 1 });
  assert.is(theirs.out.global_step, 6);
  assert.ok(Number.isFinite(theirs.out.training_loss));
  assert.is(theirs.out.training_loss, ours.out.trainingLoss, 'the same rows, labels and ids: the same losses');
  assert.equal(theirs.logged, [3, 6], 'logging_strategy epoch: one loss line per epoch');
  assert.equal(ours.logged, [1, 2, 3, 4, 5, 6]);
  assert.throws(() => new TrainingArguments({ output_dir: 'o', report_to: 'wandb' }), /reportTo: expected 'none' or 'all': no experiment tracker is built in \(wandb is not\)/);
  assert.throws(() => new TrainingArguments({ output_dir: 'o', push_to_hub: true }), /pushToHub: expected false: uploading to the Hub is not built/);
  assert.throws(() => new TrainingArguments({ output_dir: 'o', logging_strategy: 'epochs' as never }), /loggingStrategy: expected one of 'no', 'steps', 'epoch'/);
});

test.run();
