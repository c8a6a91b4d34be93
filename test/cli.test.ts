// The command line, run as a user runs it: a tiny model folder and a CSV data
// set written here (nothing from ../shared or the Hub), trained to the end,
// evaluated, saved with its tokenizer and card, and asked for a prediction.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice } from './helpers.js';
import { BertForMaskedLM } from '../src/models/bert.js';
import { setInitSeed } from '../src/nn/module.js';
import { startHubServer } from './support/hub-server.js';
import { SYNTHETIC_TOKENIZER_CONFIG, SYNTHETIC_VOCAB_TXT, syntheticRows, tempDir, tinyConfig } from './train/synthetic.js';

test.before(setupDevice);

/** The command line's kernel-tuning file goes to a temporary cache, not the user's. */
const CACHE_ENV = { XDG_CACHE_HOME: tempDir('cli-cache') };

function train(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/train.ts', ...args], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, ...CACHE_ENV, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** train(), without blocking this process's event loop (the stand-in Hub server runs in it). */
function trainAsync(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/train.ts', ...args], { env: { ...process.env, ...CACHE_ENV, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A tiny model folder (random weights, the synthetic vocabulary) and a CSV data set with train/valid splits. */
async function tinyModelAndData(): Promise<{ modelDir: string; dataDir: string }> {
  const modelDir = tempDir('cli-model');
  setInitSeed(3);
  await new BertForMaskedLM(tinyConfig(SYNTHETIC_VOCAB_TXT.trim().split('\n').length, 2)).savePretrained(modelDir);
  writeFileSync(join(modelDir, 'vocab.txt'), SYNTHETIC_VOCAB_TXT);
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(SYNTHETIC_TOKENIZER_CONFIG));
  const dataDir = tempDir('cli-data');
  const csv = (rows: { text: string; label: number }[]) => `text,label\n${rows.map((r) => `${r.text},${r.label}`).join('\n')}\n`;
  writeFileSync(join(dataDir, 'topic_train.csv'), csv(syntheticRows(64, 1)));
  writeFileSync(join(dataDir, 'topic_valid.csv'), csv(syntheticRows(16, 2)));
  return { modelDir, dataDir };
}

test('--help documents every flag; an unknown flag or a bad value is an error with a usage hint', () => {
  const help = train(['--help']);
  assert.is(help.status, 0);
  for (const flag of ['--model', '--dataset', '--text-column', '--label-column', '--train-samples', '--eval-samples', '--epochs',
    '--batch-size', '--lr', '--max-length', '--output-dir', '--seed', '--eval-strategy', '--save-strategy', '--resume', '--help']) {
    assert.ok(help.stdout.includes(flag), `--help mentions ${flag}`);
  }
  const unknown = train(['--bogus']);
  assert.is(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown option '--bogus'[\s\S]*usage: node dist\/train\.js/);
  const bad = train(['--epochs', 'two']);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--epochs must be an integer >= 1, got 'two'/);
});

test('offline with local folders: trains, evaluates each epoch, saves model + tokenizer + card, prints a prediction', async () => {
  const { modelDir, dataDir } = await tinyModelAndData();
  const outputDir = tempDir('cli-out');

  const run = train(['--model', modelDir, '--dataset', dataDir, '--train-samples', '32', '--eval-samples', '8', '--epochs', '2',
    '--batch-size', '8', '--lr', '1e-3', '--output-dir', outputDir, '--predict', 'the ceo was appointed today']);
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /eval_accuracy/);
  const prediction = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { label: string; score: number }[];
  assert.is(prediction.length, 1);
  assert.match(prediction[0].label, /^LABEL_[0-7]$/);
  assert.ok(prediction[0].score > 0 && prediction[0].score <= 1);
  for (const file of ['config.json', 'model.safetensors', 'README.md', 'vocab.txt', 'tokenizer_config.json', 'trainer_log.jsonl']) {
    assert.ok(existsSync(join(outputDir, file)), `${file} in the output folder`);
  }
  assert.equal(readdirSync(outputDir).filter((f) => f.startsWith('checkpoint-')).sort(), ['checkpoint-4', 'checkpoint-8']);
});

test('Hub ids for the model and the data set (a local stand-in for the Hub), then the same run offline from the cache', async () => {
  const { modelDir, dataDir } = await tinyModelAndData();
  const files = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
  const hub = await startHubServer([
    { id: 'test-org/tiny-bert', type: 'model', commit: 'a'.repeat(40), files: files(modelDir), lfs: ['model.safetensors'] },
    { id: 'test-org/topics', type: 'dataset', commit: 'b'.repeat(40), files: files(dataDir) },
  ]);
  const env = { HF_ENDPOINT: hub.endpoint, HF_HOME: tempDir('cli-hf-home') };
  const args = ['--model', 'test-org/tiny-bert', '--dataset', 'test-org/topics', '--train-samples', '16', '--eval-samples', '8',
    '--epochs', '1', '--save-strategy', 'no', '--output-dir', tempDir('cli-hub-out')];
  try {
    const online = await trainAsync(args, env);
    assert.is(online.status, 0, online.stderr);
    assert.match(online.stdout, /eval_accuracy/);
    assert.ok(hub.requests.some((r) => r.url.startsWith('/api/datasets/test-org/topics/tree/')), 'the data set was listed through the Hub API');
  } finally {
    await hub.close();
  }
  const offline = train(args, { ...env, HF_HUB_OFFLINE: '1' });
  assert.is(offline.status, 0, offline.stderr);
  assert.match(offline.stdout, /eval_accuracy/);
});

test.run();
