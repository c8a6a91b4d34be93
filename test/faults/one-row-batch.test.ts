// A batch of exactly one row, trained through the command line: 9 samples in batches
// of 8 (the last batch has one row) and --batch-size 1. One row once made the
// embeddings' add(words [1, T, H], positions [T, H]) return a [1, T, H] gradient
// for [T, H] and stopped training. A tiny model folder and a CSV written here.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import { BertForMaskedLM } from '../../src/models/bert/modeling.js';
import { setInitSeed } from '../../src/nn/module.js';
import { SYNTHETIC_TOKENIZER_CONFIG, SYNTHETIC_VOCAB_TXT, syntheticRows, tempDir, tinyConfig } from '../train/synthetic.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders

/** The command line's kernel-tuning file goes to a temporary cache, not the user's. */
const CACHE_ENV = { XDG_CACHE_HOME: tempDir('one-row-cache') };

function train(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/train.ts', ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...CACHE_ENV } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A tiny model folder (random weights, the synthetic vocabulary) and a CSV data set with train/valid splits. */
async function tinyModelAndData(): Promise<{ modelDir: string; dataDir: string }> {
  const modelDir = tempDir('one-row-model');
  setInitSeed(3);
  await new BertForMaskedLM(tinyConfig(SYNTHETIC_VOCAB_TXT.trim().split('\n').length, 2)).savePretrained(modelDir);
  writeFileSync(join(modelDir, 'vocab.txt'), SYNTHETIC_VOCAB_TXT);
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(SYNTHETIC_TOKENIZER_CONFIG));
  const dataDir = tempDir('one-row-data');
  const csv = (rows: { text: string; label: number }[]) => `text,label\n${rows.map((r) => `${r.text},${r.label}`).join('\n')}\n`;
  writeFileSync(join(dataDir, 'topic_train.csv'), csv(syntheticRows(16, 1)));
  writeFileSync(join(dataDir, 'topic_valid.csv'), csv(syntheticRows(4, 2)));
  return { modelDir, dataDir };
}

/**
 * Stores the default matmul variant as the tuned choice in that cache: otherwise each run would
 * first time every variant (tens of seconds on lavapipe, most of it compiling them). In a child,
 * so this process's own choices are untouched; 'matmul-v2' is src/ops/matmul.ts's tuning family.
 */
function storeMatmulChoice(): void {
  const script = `
    const { init } = await import('./src/gpu/device.ts');
    const { setTuningStore, tune } = await import('./src/gpu/autotune.ts');
    const { nodeTuningStore } = await import('./src/node/tuning-store.ts');
    const { matmulVariant } = await import('./src/ops/matmul.ts');
    const runtime = await init();
    setTuningStore(nodeTuningStore());
    await tune('matmul-v2', runtime, [matmulVariant()], async () => 0);
    process.exit(0);`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...CACHE_ENV } });
  assert.is(result.status, 0, result.stderr);
}

let folders: { modelDir: string; dataDir: string };

test.before(async () => {
  await setupDevice();
  storeMatmulChoice();
  folders = await tinyModelAndData();
});

/** Trains one epoch; asserts exit status 0, a saved model, and a finite training loss over `steps` steps. */
function trainsAndSaves(trainSamples: number, batchSize: number, steps: number): void {
  const { modelDir, dataDir } = folders;
  const outputDir = tempDir('one-row-out');
  const run = train(['--model', modelDir, '--dataset', dataDir, '--train-samples', String(trainSamples), '--eval-samples', '1',
    '--epochs', '1', '--batch-size', String(batchSize), '--save-strategy', 'no', '--output-dir', outputDir]);
  const what = `${trainSamples} samples in batches of ${batchSize}`;
  assert.is(run.status, 0, `${what}: ${run.stderr}`);
  assert.match(run.stderr, /model saved to /, what);
  for (const file of ['config.json', 'model.safetensors']) assert.ok(existsSync(join(outputDir, file)), `${what}: ${file} in the output folder`);
  const log = readFileSync(join(outputDir, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
  const summary = log.find((entry) => 'train_loss' in entry);
  assert.ok(summary && Number.isFinite(summary.train_loss), `${what}: a finite train_loss in trainer_log.jsonl`);
  assert.is(summary!.step, steps, `${what}: steps`);
}

test('9 train samples in batches of 8: the last batch has one row', () => {
  trainsAndSaves(9, 8, 2);
});

test('--batch-size 1: every batch (train, eval, predict) has one row', () => {
  trainsAndSaves(3, 1, 3);
});

test.run();
