// TrainingArguments: transformers' defaults, the older evaluationStrategy name,
// and validation errors that name the field.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainingArguments } from '../../src/train/arguments.js';

test('defaults are transformers\'', () => {
  const a = new TrainingArguments({ outputDir: 'out' });
  assert.is(a.numTrainEpochs, 3);
  assert.is(a.maxSteps, -1);
  assert.is(a.perDeviceTrainBatchSize, 8);
  assert.is(a.perDeviceEvalBatchSize, 8);
  assert.is(a.learningRate, 5e-5);
  assert.is(a.weightDecay, 0);
  assert.is(a.adamBeta1, 0.9);
  assert.is(a.adamBeta2, 0.999);
  assert.is(a.adamEpsilon, 1e-8);
  assert.is(a.warmupSteps, 0);
  assert.is(a.warmupRatio, 0);
  assert.is(a.lrSchedulerType, 'linear');
  assert.is(a.maxGradNorm, 1);
  assert.is(a.gradientAccumulationSteps, 1);
  assert.is(a.evalStrategy, 'no');
  assert.is(a.loggingSteps, 500);
  assert.is(a.evalSteps, 500); // eval_steps defaults to logging_steps
  assert.is(a.saveStrategy, 'steps');
  assert.is(a.saveSteps, 500);
  assert.is(a.saveTotalLimit, null);
  assert.is(a.loadBestModelAtEnd, false);
  assert.is(a.metricForBestModel, null);
  assert.is(a.seed, 42);
  assert.is(a.dataSeed, 42);
  assert.is(a.groupByLength, false);
});

test('evaluationStrategy is accepted as the older name; a disagreement is an error', () => {
  assert.is(new TrainingArguments({ outputDir: 'o', evaluationStrategy: 'epoch' }).evalStrategy, 'epoch');
  assert.is(new TrainingArguments({ outputDir: 'o', evalStrategy: 'steps', evaluationStrategy: 'steps' }).evalStrategy, 'steps');
  assert.throws(() => new TrainingArguments({ outputDir: 'o', evalStrategy: 'steps', evaluationStrategy: 'epoch' }), /evalStrategy 'steps' and its older name evaluationStrategy 'epoch'/);
});

test('best-model defaults: loss with greaterIsBetter false; other metrics greater is better', () => {
  const a = new TrainingArguments({ outputDir: 'o', evalStrategy: 'epoch', saveStrategy: 'epoch', loadBestModelAtEnd: true });
  assert.is(a.metricForBestModel, 'loss');
  assert.is(a.greaterIsBetter, false);
  const b = new TrainingArguments({ outputDir: 'o', metricForBestModel: 'accuracy' });
  assert.is(b.greaterIsBetter, true);
});

test('bad values name the field', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ outputDir: '' }, /TrainingArguments\.outputDir/],
    [{ outputDir: 'o', learningRate: -1 }, /TrainingArguments\.learningRate: expected a number in \[0, Infinity\], got -1/],
    [{ outputDir: 'o', perDeviceTrainBatchSize: 0 }, /perDeviceTrainBatchSize: expected an integer >= 1, got 0/],
    [{ outputDir: 'o', gradientAccumulationSteps: 1.5 }, /gradientAccumulationSteps/],
    [{ outputDir: 'o', adamBeta2: 1 }, /adamBeta2/],
    [{ outputDir: 'o', adamEpsilon: 0 }, /adamEpsilon/],
    [{ outputDir: 'o', warmupRatio: 2 }, /warmupRatio/],
    [{ outputDir: 'o', lrSchedulerType: 'exponential' }, /lrSchedulerType: expected one of 'linear', 'cosine'/],
    [{ outputDir: 'o', evalStrategy: 'sometimes' }, /evalStrategy: expected one of 'no', 'steps', 'epoch'/],
    [{ outputDir: 'o', maxSteps: 0 }, /maxSteps/],
    [{ outputDir: 'o', saveTotalLimit: 0 }, /saveTotalLimit/],
    [{ outputDir: 'o', seed: -3 }, /seed/],
    [{ outputDir: 'o', loadBestModelAtEnd: true }, /evalStrategy.*loadBestModelAtEnd/],
    [{ outputDir: 'o', loadBestModelAtEnd: true, evalStrategy: 'epoch', saveStrategy: 'steps' }, /saveStrategy.*the same as evalStrategy/],
    [{ outputDir: 'o', loadBestModelAtEnd: true, evalStrategy: 'steps', evalSteps: 30, saveSteps: 50 }, /saveSteps.*a multiple of evalSteps \(30\)/],
    [{ outputDir: 'o', learning_rate: 1e-3, learningRate: 1e-3 }, /field 'learningRate' given twice, as 'learning_rate' and 'learningRate'/],
    [{ outputDir: 'o', report_too: 'none' }, /unknown field 'report_too'; known fields: outputDir \(output_dir\), evaluationStrategy \(evaluation_strategy\)/],
    [{ outputDir: 'o', report_to: ['none', 'tensorboard'] }, /TrainingArguments\.reportTo: expected 'none' or 'all': no experiment tracker is built in \(tensorboard is not\)/],
    [{ outputDir: 'o', dataloader_num_workers: -1 }, /TrainingArguments\.dataloaderNumWorkers: expected an integer >= 0, got -1/],
    [{ outputDir: 'o', do_train: 'yes' }, /TrainingArguments\.doTrain: expected true or false, got "yes"/],
    [{ outputDir: 'o', groupByLength: 'yes' }, /TrainingArguments\.groupByLength: expected true or false, got "yes"/],
    [{ output_dir: 'o', group_by_length: 'yes' }, /TrainingArguments\.groupByLength: expected true or false, got "yes"/],
    [{ outputDir: 'o', fp16: 1 }, /TrainingArguments\.fp16: expected true or false, got 1/],
    [{ outputDir: 'o', bf16: true }, /TrainingArguments\.bf16: expected false: bfloat16 is not available \(WGSL has no bfloat16 type\); use fp16 for mixed precision, got true/],
  ];
  for (const [init, message] of cases) {
    assert.throws(() => new TrainingArguments(init as never), message, JSON.stringify(init));
  }
});

test('intervals below 1 are ratios of the total steps; warmupSteps wins over warmupRatio', () => {
  const a = new TrainingArguments({ outputDir: 'o', loggingSteps: 0.1, warmupRatio: 0.25 });
  assert.is(TrainingArguments.resolveInterval(a.loggingSteps, 95), 10);
  assert.is(a.warmupStepsFor(10), 3);
  assert.is(new TrainingArguments({ outputDir: 'o', warmupSteps: 4, warmupRatio: 0.5 }).warmupStepsFor(100), 4);
});

test('fp16: off by default, on when asked, under transformers\' names in toJSON (bf16 always false)', () => {
  assert.is(new TrainingArguments({ outputDir: 'o' }).fp16, false);
  const json = new TrainingArguments({ outputDir: 'o', fp16: true }).toJSON();
  assert.is(json.fp16, true);
  assert.is(json.bf16, false);
});

test('fields under transformers\' snake_case names, as Python\'s TrainingArguments(output_dir=..., ...) takes them; toJSON gives them back', () => {
  const init = { output_dir: 'o', num_train_epochs: 2, per_device_train_batch_size: 4, learning_rate: 1e-4, weight_decay: 0.01, warmup_ratio: 0.1, lr_scheduler_type: 'cosine', eval_strategy: 'epoch', save_strategy: 'epoch', load_best_model_at_end: true, metric_for_best_model: 'accuracy', group_by_length: true, fp16: true, seed: 7 } as const;
  const args = new TrainingArguments(init);
  assert.equal([args.outputDir, args.numTrainEpochs, args.perDeviceTrainBatchSize, args.learningRate, args.weightDecay, args.warmupRatio, args.lrSchedulerType, args.evalStrategy, args.loadBestModelAtEnd, args.metricForBestModel, args.groupByLength, args.fp16, args.seed],
    ['o', 2, 4, 1e-4, 0.01, 0.1, 'cosine', 'epoch', true, 'accuracy', true, true, 7]);
  const json = args.toJSON();
  for (const [key, value] of Object.entries(init)) assert.equal(json[key], value, key);
  assert.is(new TrainingArguments({ output_dir: 'o', evaluation_strategy: 'steps', eval_steps: 5 }).evalStrategy, 'steps');
});

test('toJSON uses transformers\' snake_case names', () => {
  const json = new TrainingArguments({ outputDir: 'o', gradientAccumulationSteps: 4, groupByLength: true }).toJSON();
  assert.is(json.group_by_length, true);
  assert.is(json.output_dir, 'o');
  assert.is(json.gradient_accumulation_steps, 4);
  assert.is(json.per_device_train_batch_size, 8);
  assert.is(json.lr_scheduler_type, 'linear');
});

test.run();
