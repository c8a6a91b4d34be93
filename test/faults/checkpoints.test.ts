// The command line killed with SIGKILL at chosen points of a save (the
// SHADERGRAD_FAULT_KILL_AT hook of src/io/files.ts and src/train/checkpoints.ts),
// then resumed with `--resume latest`: it must pick only a complete checkpoint,
// sweep what the killed run left, break its stale lock, and end with the same
// model, bit for bit, as a run that was never interrupted.
//
// 16 rows in batches of 8 for 3 epochs: steps 1-6, checkpoints at 2, 4 and 6.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import { incompleteReason } from '../../src/train/checkpoints.js';
import { tempDir } from '../train/synthetic.js';
import { runCli, storeMatmulChoice, tinyModelAndData } from './cli.js';

let args: (outputDir: string) => string[];
let modelDir = '';
const reference = tempDir('faults-reference');
const output = tempDir('faults-killed');

const bytes = (...path: string[]) => readFileSync(join(...path));
const temporaries = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.tmp'));

test.before(async () => {
  await setupDevice();
  storeMatmulChoice();
  const data = await tinyModelAndData();
  modelDir = data.modelDir;
  args = (outputDir) => ['--model', data.modelDir, '--dataset', data.dataDir, '--train-samples', '16', '--eval-samples', '4', '--epochs', '3',
    '--batch-size', '8', '--lr', '1e-3', '--max-length', '32', '--eval-strategy', 'no', '--save-strategy', 'epoch', '--output-dir', outputDir];
  const run = await runCli(args(reference));
  assert.is(run.status, 0, run.stderr);
});

test('kills during saves, each followed by a resume: only complete checkpoints are taken, leftovers are swept, and the end is the uninterrupted run, bit for bit', async () => {
  // 1. Killed while writing checkpoint-4: it stays under its temporary name; the lock stays too.
  const killed = await runCli(args(output), { SHADERGRAD_FAULT_KILL_AT: 'checkpoint-files:4' });
  assert.is(killed.signal, 'SIGKILL', killed.stderr);
  assert.ok(existsSync(join(output, 'checkpoint-2')) && !existsSync(join(output, 'checkpoint-4')));
  assert.is(temporaries(output).length, 1, 'the half checkpoint-4, under its temporary name');
  assert.ok(existsSync(join(output, '.train.lock')), 'the killed run left its lock');

  // 2. --resume latest takes checkpoint-2 (the stale lock broken), trains on (checkpoints 4 and 6 write the tokenizer
  //    too: vocab.txt's first and second writes), and is killed writing the output folder's tokenizer, the third:
  //    vocab.txt is absent, never a part.
  const copyKilled = await runCli([...args(output), '--resume', 'latest'], { SHADERGRAD_FAULT_KILL_AT: 'write:vocab.txt@3' });
  assert.is(copyKilled.signal, 'SIGKILL', copyKilled.stderr);
  assert.match(copyKilled.stderr, `Resuming from ${join(output, 'checkpoint-2')} at step 2`);
  assert.ok(existsSync(join(output, 'tokenizer_config.json')) && !existsSync(join(output, 'vocab.txt')));
  for (const file of [join('checkpoint-6', 'model.safetensors'), join('checkpoint-6', 'optimizer.safetensors')]) {
    assert.ok(bytes(output, file).equals(bytes(reference, file)), `${file}: the resumed run's equals the uninterrupted run's`);
  }

  // 3. Resuming from checkpoint-2 again saves checkpoint-4 over the one run 2 wrote; killed between moving the old
  //    one aside and renaming the new one in: no checkpoint-4, both copies complete under temporary names.
  const replaceKilled = await runCli([...args(output), '--resume', join(output, 'checkpoint-2')], { SHADERGRAD_FAULT_KILL_AT: 'checkpoint-aside:4' });
  assert.is(replaceKilled.signal, 'SIGKILL', replaceKilled.stderr);
  assert.not.ok(existsSync(join(output, 'checkpoint-4')));
  const aside = temporaries(output).filter((name) => name.startsWith('.checkpoint-4.'));
  assert.is(aside.length, 2, 'the old and the new checkpoint-4');
  for (const name of aside) assert.is(await incompleteReason(join(output, name)), null, name);

  // 4. --resume latest: checkpoint-6, the newest complete one; it finishes as the uninterrupted run did.
  const finished = await runCli([...args(output), '--resume', 'latest']);
  assert.is(finished.status, 0, finished.stderr);
  assert.match(finished.stderr, `Resuming from ${join(output, 'checkpoint-6')} at step 6`);
  for (const file of ['model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'config.json']) {
    assert.ok(bytes(output, file).equals(bytes(reference, file)), `${file}: the same as the uninterrupted run's`);
  }
  assert.ok(bytes(output, 'vocab.txt').equals(bytes(modelDir, 'vocab.txt')));
  assert.equal(temporaries(output), [], "the killed runs' temporaries are swept");
  assert.not.ok(existsSync(join(output, '.train.lock')));
});

test.run();
