// The Trainer's storage: the memory storage runs train -> checkpoint -> resume
// with the uninterrupted run's losses, touching no file; the folder operations
// the checkpoint scheme needs (atomic replace, listing, rotation) behave as on
// Node's files; train() holds the output folder's lock, nested inside a lock
// the caller already holds; src/train/ bundles for browsers without Node.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { setupDevice } from '../helpers.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { DataCollatorWithPadding } from '../../src/data/collator.js';
import { acquireLock } from '../../src/io/lock.js';
import { Trainer, memoryStorage, type TrainerCallback, type TrainerStorage } from '../../src/train/index.js';
import { latestCheckpoint, listCheckpoints, rotateCheckpoints, saveCheckpointFolder } from '../../src/train/checkpoints.js';
import type { TrainingArgumentsInit } from '../../src/train/arguments.js';
import type { LogEntry } from '../../src/train/checkpoint-files.js';
import { LOCK_NAME } from '../../src/train/storage.js';
import { syntheticDataset, syntheticTokenizer, tempDir, tinyConfig } from './synthetic.js';

test.before(setupDevice);

const tokenizer = syntheticTokenizer();
const NUM_LABELS = 8;

function makeTrainer(storage: TrainerStorage, args: Partial<TrainingArgumentsInit> & { outputDir: string }, callbacks: TrainerCallback[] = []) {
  setInitSeed(3);
  return new Trainer({
    model: new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS, 0.1)),
    args: { learningRate: 5e-3, warmupSteps: 2, loggingSteps: 1, disableTqdm: true, ...args },
    trainDataset: syntheticDataset(40, 11, tokenizer),
    evalDataset: syntheticDataset(20, 12, tokenizer),
    dataCollator: new DataCollatorWithPadding(tokenizer),
    tokenizer,
    computeMetrics: 'accuracy',
    callbacks,
    storage,
    progressStream: { write: () => true },
  });
}

const losses = (history: LogEntry[]) => history.filter((e) => 'loss' in e).map((e) => [e.step, e.loss]);
const stopAt = (step: number): TrainerCallback => ({
  onStepEnd: ({ state, control }) => {
    if (state.globalStep === step) control.shouldTrainingStop = true;
  },
});

test('memory storage: 2N steps straight equal N, stop, resume, N — losses and weights bit for bit, and no file is touched', async () => {
  const args = { perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, maxSteps: 8, saveStrategy: 'steps' as const, saveSteps: 2, evalStrategy: 'steps' as const, evalSteps: 4 };
  const outputDir = join(tempDir('memory-root'), 'run'); // a real-looking path that must stay absent on disk
  const straightStore = memoryStorage();
  const straight = makeTrainer(straightStore, { ...args, outputDir });
  await straight.train();

  const store = memoryStorage();
  const stopped = makeTrainer(store, { ...args, outputDir }, [stopAt(4)]);
  await stopped.train();
  assert.is(await latestCheckpoint(outputDir, store), join(outputDir, 'checkpoint-4'));
  const resumed = makeTrainer(store, { ...args, outputDir });
  await resumed.train({ resumeFromCheckpoint: true });
  assert.is(resumed.state.globalStep, 8);
  assert.equal(losses(resumed.state.logHistory), losses(straight.state.logHistory));
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    const a = await straightStore.readFile(join(outputDir, 'checkpoint-8', file));
    const b = await store.readFile(join(outputDir, 'checkpoint-8', file));
    assert.ok(Buffer.from(a).equals(Buffer.from(b)), `${file} at step 8 differs between the straight and the resumed run`);
  }
  const names = (await store.list(outputDir)).map((e) => e.name).sort();
  for (const name of ['README.md', 'all_results.json', 'checkpoint-8', 'train_results.json', 'trainer_log.jsonl', 'trainer_state.json', 'training_curves.svg']) {
    assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  }
  const inCheckpoint = (await store.list(join(outputDir, 'checkpoint-8'))).map((e) => e.name);
  assert.ok(inCheckpoint.includes('vocab.txt') && inCheckpoint.includes('checkpoint_manifest.json'), inCheckpoint.join(', '));
  const log = new TextDecoder().decode(await store.readFile(join(outputDir, 'trainer_log.jsonl'))).trim().split('\n');
  assert.ok(log.length > resumed.state.logHistory.length && log.every((l) => typeof JSON.parse(l).time === 'string'), 'the log of both runs');
  assert.not.ok(existsSync(outputDir), 'nothing written to disk');
});

test('memory storage: folders replaced whole, incomplete ones skipped, rotation; temporary names are fresh', async () => {
  const store = memoryStorage();
  const save = (step: number, body: string) => saveCheckpointFolder('/out', step, (dir) => store.writeFile(store.join(dir, 'f'), body), store);
  await save(3, 'old');
  await save(3, 'new!');
  assert.equal((await store.list('/out')).map((e) => e.name), ['checkpoint-3']);
  assert.is(new TextDecoder().decode(await store.readFile('/out/checkpoint-3/f')), 'new!');
  for (const step of [4, 5, 6]) await save(step, 'x');
  await store.remove('/out/checkpoint-6/checkpoint_manifest.json'); // a save that never finished
  assert.equal((await listCheckpoints('/out', store)).map((c) => c.step), [3, 4, 5]);
  await rotateCheckpoints('/out', 1, '/out/checkpoint-3', store);
  assert.equal((await listCheckpoints('/out', store)).map((c) => c.step), [3, 5]);
  assert.is.not(store.temporaryName('/out/a'), store.temporaryName('/out/a'));
  assert.not.ok(await store.exists('/out/checkpoint-4'));
  try {
    await store.writeFile('/nowhere/f', 'x');
    assert.unreachable('a file in a missing folder');
  } catch (e) {
    assert.match((e as Error).message, 'no folder /nowhere');
  }
});

test('train() holds the output folder lock (re-entrant inside a lock the caller holds, as the command line does) and releases it', async () => {
  const outputDir = tempDir('trainer-lock');
  const lockFile = join(outputDir, LOCK_NAME);
  const seen: string[] = [];
  const probe: TrainerCallback = { onStepEnd: () => void seen.push(readFileSync(lockFile, 'utf8')) };
  const trainer = () => new Trainer({
    model: (setInitSeed(3), new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, NUM_LABELS))),
    args: { outputDir, maxSteps: 2, perDeviceTrainBatchSize: 8, saveStrategy: 'no', disableTqdm: true },
    trainDataset: syntheticDataset(16, 1, tokenizer),
    dataCollator: new DataCollatorWithPadding(tokenizer),
    callbacks: [probe],
    progressStream: { write: () => true },
  });
  await trainer().train();
  assert.ok(seen.length === 2 && seen.every((body) => JSON.parse(body).pid === process.pid), 'the lock is this process\'s while training');
  assert.not.ok(existsSync(lockFile), 'released after training');

  const outer = await acquireLock(lockFile, { what: `output folder ${outputDir}` });
  await trainer().train();
  assert.ok(existsSync(lockFile), 'the caller still holds its lock after train()');
  await outer.release();
  assert.not.ok(existsSync(lockFile));
});

test('src/train/ imports no Node module and no Node-only code, statically or dynamically (the Node storage is registered from outside)', async () => {
  const { metafile } = await build({
    entryPoints: ['src/train/index.ts'], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, external: ['node:*'], logLevel: 'silent',
  });
  const nodeOnly = /^node:|^src\/node\/|^src\/io\/(files|lock|hub)\.ts$/; // io/checkpoint reads and writes through FileSources: no Node
  const found = Object.entries(metafile.inputs)
    .filter(([path]) => path.startsWith('src/train/'))
    .flatMap(([path, input]) => input.imports.filter((i) => nodeOnly.test(i.path)).map((i) => `${path} -> ${i.path}`));
  assert.equal(found, []);
});

test.run();
