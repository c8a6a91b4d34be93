// A batch of exactly one row, trained through the command line: 9 samples in batches
// of 8 (the last batch has one row) and --batch-size 1. One row once made the
// embeddings' add(words [1, T, H], positions [T, H]) return a [1, T, H] gradient
// for [T, H] and stopped training. A tiny model folder and a CSV written here.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import { tempDir } from '../train/synthetic.js';
import { runCli, storeMatmulChoice, tinyModelAndData } from './cli.js';

let folders: { modelDir: string; dataDir: string };

test.before(async () => {
  await setupDevice();
  storeMatmulChoice();
  folders = await tinyModelAndData();
});

/** Trains one epoch; asserts exit status 0, a saved model, and a finite training loss over `steps` steps. */
async function trainsAndSaves(trainSamples: number, batchSize: number, steps: number): Promise<void> {
  const { modelDir, dataDir } = folders;
  const outputDir = tempDir('one-row-out');
  const run = await runCli(['--model', modelDir, '--dataset', dataDir, '--train-samples', String(trainSamples), '--eval-samples', '1',
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

test('9 train samples in batches of 8: the last batch has one row', async () => {
  await trainsAndSaves(9, 8, 2);
});

test('--batch-size 1: every batch (train, eval, predict) has one row', async () => {
  await trainsAndSaves(3, 1, 3);
});

test.run();
