// The command line's folders: one run per --output-dir (a second run, started while the
// first holds the folder's lock, fails at once naming the folder and the first run's PID,
// and the first run's result is intact), an output folder that is or holds the --model
// folder is refused naming both (real paths: a symlink counts), and a --dataset folder
// whose name has a comma is one folder.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setupDevice } from '../helpers.js';
import { tempDir } from '../train/synthetic.js';
import { runCli, spawnCli, storeMatmulChoice, tinyModelAndData } from './cli.js';

let modelDir = '';
let dataDir = '';

test.before(async () => {
  await setupDevice();
  storeMatmulChoice();
  const commaFolder = join(tempDir('faults-comma'), 'topics,v1');
  mkdirSync(commaFolder);
  ({ modelDir, dataDir } = await tinyModelAndData(commaFolder));
});

const trainArgs = (outputDir: string) => ['--model', modelDir, '--dataset', dataDir, '--train-samples', '16', '--eval-samples', '4',
  '--epochs', '1', '--batch-size', '8', '--max-length', '32', '--eval-strategy', 'no', '--output-dir', outputDir];

/** Every file under `dir` with its size and modification time. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const info = statSync(join(dir, name));
    out[name] = `${info.size} ${info.mtimeMs}`;
  }
  return out;
}

test('a second run on a busy --output-dir fails at once naming the folder and the PID; the first finishes intact (its --dataset folder has a comma in its name)', async () => {
  const outputDir = tempDir('faults-busy');
  const lockFile = join(outputDir, '.train.lock');
  const first = spawnCli(trainArgs(outputDir));
  const pid = first.child.pid!;
  // Hold the first run still while it holds the lock, so that the second surely meets it.
  while (!(existsSync(lockFile) && readFileSync(lockFile, 'utf8').includes(`"pid":${pid}`))) {
    assert.is(first.child.exitCode, null, 'the first run is still running');
    await new Promise((r) => setTimeout(r, 20));
  }
  first.child.kill('SIGSTOP');
  const before = snapshot(outputDir);
  const second = await runCli(trainArgs(outputDir));
  first.child.kill('SIGCONT');
  assert.is(second.status, 1);
  assert.match(second.stderr, `error: output folder ${outputDir} is in use by process ${pid} on ${hostname()}`);
  assert.match(second.stderr, `lock file ${lockFile} (remove it only if that process is gone)`);
  assert.equal(snapshot(outputDir), before, 'the second run changed nothing');

  const done = await first.done;
  assert.is(done.status, 0, done.stderr);
  assert.match(done.stderr, `model saved to ${outputDir}`);
  assert.ok(readFileSync(join(outputDir, 'model.safetensors')).equals(readFileSync(join(outputDir, 'checkpoint-2', 'model.safetensors'))),
    'the final model is the first run\'s last checkpoint');
  assert.not.ok(existsSync(lockFile), 'the lock is released');
});

test('--output-dir that is the --model folder, holds it, or is a symlink to it is refused naming both; the model is untouched', async () => {
  const link = join(tempDir('faults-link'), 'model-link');
  symlinkSync(modelDir, link);
  const parent = join(modelDir, '..');
  const before = snapshot(modelDir);
  const runs = await Promise.all([modelDir, parent, link].map((outputDir) => runCli(trainArgs(outputDir))));
  for (const [i, outputDir] of [modelDir, parent, link].entries()) {
    const run = runs[i];
    assert.is(run.status, 1, `--output-dir ${outputDir}: ${run.stderr}`);
    const verb = outputDir === parent ? 'holds' : 'is';
    assert.match(run.stderr, `error: --output-dir ${outputDir} (`);
    assert.match(run.stderr, `) ${verb} the folder of --model ${modelDir} (`);
    assert.match(run.stderr, 'saving there would overwrite the base model: choose another --output-dir');
  }
  assert.equal(snapshot(modelDir), before);
});

test.run();
