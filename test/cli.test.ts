// The command line, run as a user runs it: a tiny model folder and a CSV data
// set written here (nothing from ../shared or the Hub), trained to the end,
// evaluated, saved with its tokenizer, card and results files, and asked for a
// prediction; its flags parsed as HfArgumentParser reads transformers' names.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setupDevice } from './helpers.js';
import { startHubServer } from './support/hub-server.js';
import { tempDir } from './train/synthetic.js';
import { runCli, storeMatmulChoice, tinyModelAndData, type CliResult } from './faults/cli.js';
import { parseTrainOptions } from '../src/cli/options.js';
import { TrainingArguments } from '../src/train/arguments.js';

test.before(async () => {
  await setupDevice();
  storeMatmulChoice();
});

/** Every stdout line is one JSON value; returns them. */
function jsonLines(run: CliResult): Record<string, unknown>[] {
  const lines = run.stdout.trim().split('\n');
  return lines.map((line) => {
    assert.not.match(line, /\x1b/, 'no ANSI colours on stdout');
    return JSON.parse(line) as Record<string, unknown>;
  });
}

test('--help: grouped (model, data, training, output), every TrainingArguments field, named as invoked', async () => {
  const help = await runCli(['--help']);
  assert.is(help.status, 0, help.stderr);
  const headings = ['Model:', 'Data:', 'Training (TrainingArguments', 'Output:'].map((h) => help.stdout.indexOf(`\n${h}`));
  assert.ok(headings.every((at, i) => at > 0 && (i === 0 || at > headings[i - 1])), `groups in order: ${headings}`);
  assert.match(help.stdout, 'usage: npx tsx src/train.ts [flags]');
  const fields = Object.keys(new TrainingArguments({ outputDir: '.' }).toJSON());
  for (const field of fields) assert.match(help.stdout, `--${field.replace(/_/g, '-')}`, `--help has a flag for TrainingArguments.${field}`);
  for (const flag of ['--text-column', '--text-pair-column', '--label-column', '--label-names', '--max-length', '--train-samples, --max-train-samples',
    '--eval-samples, --max-eval-samples', '--num-train-epochs, --epochs', '--learning-rate, --lr', '--batch-size', '--resume-from-checkpoint, --resume']) {
    assert.match(help.stdout, flag);
  }
  // As an installed package's bin: node_modules/.bin/shadergrad-train, run through npx.
  const bin = join(tempDir('cli-bin'), 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(resolve('src/train.ts'), join(bin, 'shadergrad-train'));
  const viaBin = await runCli(['--help'], {}, join(bin, 'shadergrad-train'));
  assert.is(viaBin.status, 0, viaBin.stderr);
  assert.match(viaBin.stdout, 'usage: npx shadergrad-train [flags]');
});

test('an unknown flag, a bad value or --bf16: exit 2, a clear message and a usage hint naming the program', async () => {
  for (const [args, message] of [
    [['--bogus'], "Unknown option '--bogus'"],
    [['--epochs', 'two'], "--epochs must be a number, got 'two'"],
    [['--warmup_ratio', '2'], '--warmup_ratio: expected a number in [0, 1], got 2'],
    [['--load-best-model-at-end', '--eval-strategy', 'no'], "--eval-strategy: expected 'steps' or 'epoch' with --load-best-model-at-end"],
    [['--bf16'], '--bf16: expected false: bfloat16 is not available (WGSL has no bfloat16 type); use fp16 for mixed precision, got true'],
    [['--seed'], '--seed needs a value'],
  ] as const) {
    const run = await runCli([...args]);
    assert.is(run.status, 2, args.join(' '));
    assert.match(run.stderr, message);
    assert.match(run.stderr, 'usage: npx tsx src/train.ts [--model ID|DIR]');
  }
});

test('--fp16 turns on mixed precision (TrainingArguments.fp16), as HfArgumentParser reads booleans; off by default', () => {
  assert.is(parseTrainOptions(['--fp16']).args.fp16, true);
  assert.is(parseTrainOptions(['--fp16', 'false']).args.fp16, false);
  assert.is(parseTrainOptions(['--no-fp16']).args.fp16, false);
  assert.is(parseTrainOptions([]).args.fp16, undefined);
  assert.is(new TrainingArguments(parseTrainOptions([]).args).fp16, false);
  assert.is(parseTrainOptions(['--bf16', 'false']).args.bf16, false);
});

test('flags: snake_case and kebab-case alike, the short names as aliases, booleans as HfArgumentParser reads them', () => {
  const parse = (...argv: string[]) => parseTrainOptions(argv);
  for (const spelling of ['--num_train_epochs', '--num-train-epochs', '--epochs']) assert.is(parse(spelling, '2.5').args.numTrainEpochs, 2.5);
  for (const spelling of ['--learning_rate', '--learning-rate', '--lr']) assert.is(parse(`${spelling}=1e-3`).args.learningRate, 1e-3);
  for (const spelling of ['--max_train_samples', '--max-train-samples', '--train-samples', '--train_samples']) assert.is(parse(spelling, '7').trainSamples, 7);
  for (const spelling of ['--max_eval_samples', '--eval-samples']) assert.is(parse(spelling, '3').evalSamples, 3);
  for (const spelling of ['--resume_from_checkpoint', '--resume']) assert.is(parse(spelling, 'latest').resume, true);
  const both = parse('--batch-size', '4', '--per_device_eval_batch_size', '16');
  assert.equal([both.args.perDeviceTrainBatchSize, both.args.perDeviceEvalBatchSize], [4, 16], 'the specific flag wins over --batch-size');
  assert.is(parse('--load_best_model_at_end').args.loadBestModelAtEnd, true);
  assert.is(parse('--group-by-length', 'False').args.groupByLength, false);
  assert.is(parse('--no-group_by_length').args.groupByLength, false);
  assert.is(parse('--disable_tqdm=true').args.disableTqdm, true);
  assert.equal(parse('--label-names', 'neg, pos').labelNames, ['neg', 'pos']);
  const defaults = parse();
  assert.is(defaults.args.loggingSteps, undefined, 'left to the job (transformers\' 500, or 20 logs in a shorter run)');
  assert.is(defaults.args.evalSteps, 500, "eval_steps follows logging_steps' default, not the job's choice");
  assert.is(parse('--logging-steps', '3').args.evalSteps, 3, 'and a given --logging-steps, as in transformers');
  assert.is(defaults.args.saveSteps, undefined, "TrainingArguments' 500, no longer hard-coded");
  assert.equal([defaults.args.evalStrategy, defaults.args.saveStrategy], ['epoch', 'epoch'], 'as the Python original');
});

test('offline with local folders: JSON lines on stdout, model + tokenizer + card + results files, a prediction', async () => {
  const { modelDir, dataDir } = await tinyModelAndData();
  const outputDir = tempDir('cli-out');
  const run = await runCli(['--model', modelDir, '--dataset', dataDir, '--max_train_samples', '16', '--eval-samples', '4', '--num_train_epochs', '2',
    '--per-device-train-batch-size', '8', '--lr', '1e-3', '--output-dir', outputDir, '--predict', 'the ceo was appointed today']);
  assert.is(run.status, 0, run.stderr);
  const lines = jsonLines(run);
  const losses = lines.filter((l) => 'loss' in l);
  assert.equal(losses.map((l) => l.step), [1, 2, 3, 4], 'a short run logs every step by default');
  assert.match(run.stderr, 'logging the training loss every 1 step(s)');
  assert.equal(lines.filter((l) => 'eval_accuracy' in l).map((l) => l.step), [2, 4], 'evaluated each epoch');
  const { results } = lines.at(-2) as { results: Record<string, number> };
  assert.type(results.eval_accuracy, 'number');
  assert.is(results.train_samples, 16);
  const { text, prediction } = lines.at(-1) as { text: string; prediction: { label: string; score: number }[] };
  assert.is(text, 'the ceo was appointed today');
  assert.match(prediction[0].label, /^LABEL_\d$/);
  assert.ok(prediction[0].score > 0 && prediction[0].score <= 1);
  for (const file of ['config.json', 'model.safetensors', 'README.md', 'vocab.txt', 'tokenizer_config.json', 'trainer_log.jsonl',
    'all_results.json', 'train_results.json', 'eval_results.json', 'trainer_state.json']) {
    assert.ok(existsSync(join(outputDir, file)), `${file} in the output folder`);
  }
  const all = JSON.parse(readFileSync(join(outputDir, 'all_results.json'), 'utf8'));
  assert.is(all.eval_accuracy, results.eval_accuracy);
  assert.is(JSON.parse(readFileSync(join(outputDir, 'trainer_state.json'), 'utf8')).global_step, 4);
  assert.equal(readdirSync(outputDir).filter((f) => f.startsWith('checkpoint-')).sort(), ['checkpoint-2', 'checkpoint-4']);
});

test('string labels: --label-names gives their ids; without it, sorted distinct names; config.json id2label from them', async () => {
  const { modelDir } = await tinyModelAndData();
  const dataDir = tempDir('cli-named');
  const rows = (n: number) => Array.from({ length: n }, (_, i) => `${['the ceo resigned', 'shares rose', 'a new product'][i % 3]},${['up', 'down', 'flat'][i % 3]}`);
  writeFileSync(join(dataDir, 'named_train.csv'), `text,sentiment\n${rows(12).join('\n')}\n`);
  writeFileSync(join(dataDir, 'named_valid.csv'), `text,sentiment\n${rows(3).join('\n')}\n`);
  for (const [names, expected] of [[['--label-names', 'up,down,flat'], ['up', 'down', 'flat']], [[], ['down', 'flat', 'up']]] as const) {
    const outputDir = tempDir('cli-named-out');
    const run = await runCli(['--model', modelDir, '--dataset', dataDir, '--label-column', 'sentiment', ...names, '--max-steps', '2',
      '--logging-steps', '2', '--save-strategy', 'no', '--eval-strategy', 'no', '--output-dir', outputDir]);
    assert.is(run.status, 0, run.stderr);
    assert.equal(jsonLines(run).filter((l) => 'loss' in l).map((l) => l.step), [2], '--logging-steps as given');
    const config = JSON.parse(readFileSync(join(outputDir, 'config.json'), 'utf8'));
    assert.equal(config.id2label, Object.fromEntries(expected.map((n, i) => [String(i), n])));
    assert.equal(config.label2id, Object.fromEntries(expected.map((n, i) => [n, i])));
    assert.ok((expected as readonly string[]).includes((jsonLines(run).at(-1) as { prediction: { label: string }[] }).prediction[0].label));
  }
});

test('Hub ids for the model and the data set (a local stand-in for the Hub), then the same run offline from the cache', async () => {
  const { modelDir, dataDir } = await tinyModelAndData();
  const files = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
  const hub = await startHubServer([
    { id: 'test-org/tiny-bert', type: 'model', commit: 'a'.repeat(40), files: files(modelDir), lfs: ['model.safetensors'] },
    { id: 'test-org/topics', type: 'dataset', commit: 'b'.repeat(40), files: files(dataDir) },
  ]);
  const env = { HF_ENDPOINT: hub.endpoint, HF_HOME: tempDir('cli-hf-home') };
  const args = ['--model', 'test-org/tiny-bert', '--dataset', 'test-org/topics', '--train-samples', '8', '--eval-samples', '4',
    '--epochs', '1', '--save-strategy', 'no', '--output-dir', tempDir('cli-hub-out')];
  try {
    const online = await runCli(args, env);
    assert.is(online.status, 0, online.stderr);
    assert.ok(jsonLines(online).some((l) => 'eval_accuracy' in l));
    assert.ok(hub.requests.some((r) => r.url.startsWith('/api/datasets/test-org/topics/tree/')), 'the data set was listed through the Hub API');
  } finally {
    await hub.close();
  }
  const offline = await runCli(args, { ...env, HF_HUB_OFFLINE: '1' });
  assert.is(offline.status, 0, offline.stderr);
  assert.ok(jsonLines(offline).some((l) => 'eval_accuracy' in l));
});

test('the Hub out of reach: the error points to the offline route (npm run tiny-model, --model <folder>)', async () => {
  const env = { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HOME: tempDir('cli-no-hub') };
  for (const args of [['--model', 'test-org/unreachable'], ['--model', (await tinyModelAndData()).modelDir, '--dataset', 'test-org/unreachable']]) {
    const run = await runCli([...args, '--output-dir', tempDir('cli-no-hub-out')], env);
    assert.is(run.status, 1, run.stderr);
    assert.match(run.stderr, 'test-org/unreachable');
    assert.match(run.stderr, 'Without the Hub, train from local folders: `npm run tiny-model` writes weights/tiny-bert-cased');
    assert.match(run.stderr, '--model weights/tiny-bert-cased --dataset <folder>');
  }
});

test.run();
