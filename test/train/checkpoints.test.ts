// Checkpoint folders: atomic folders (atomic files: test/io/checkpoint.test.ts), the manifest
// that marks one complete, atomic replacement, listing, rotation that keeps the best, sweeping a
// killed writer's temporaries, and the resume state's parsers naming file and field.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MANIFEST_NAME, incompleteCheckpoints, incompleteReason, latestCheckpoint, listCheckpoints, rotateCheckpoints, saveCheckpointFolder,
} from '../../src/train/checkpoints.js';
import { parseRngState, parseScalerState, parseSchedulerState, readOptimizerState } from '../../src/train/checkpoint-files.js';
import { TrainerState } from '../../src/train/state.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { nodeStorage } from '../../src/node/trainer-storage.js';
import { tempDir } from './synthetic.js';
import { rejects } from '../helpers.js';

/** A complete checkpoint-<step> holding one file. */
const save = (out: string, step: number, body = 'x') => saveCheckpointFolder(out, step, (dir) => writeFileSync(join(dir, 'f'), body));

test('saveCheckpointFolder builds the folder under a per-process temporary name, manifest last, then renames it; a failed write leaves nothing', async () => {
  const out = tempDir('folder');
  let seenTmp = '';
  const path = await saveCheckpointFolder(out, 7, (dir) => {
    seenTmp = dir;
    writeFileSync(join(dir, 'f'), 'x');
  });
  assert.match(seenTmp, new RegExp(`^${out}/\\.checkpoint-7\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
  assert.is(path, join(out, 'checkpoint-7'));
  assert.equal(readdirSync(out), ['checkpoint-7']);
  assert.equal(readdirSync(path).sort(), [MANIFEST_NAME, 'f']);
  assert.equal(JSON.parse(readFileSync(join(path, MANIFEST_NAME), 'utf8')), { step: 7, files: { f: 1 } });
  try {
    await saveCheckpointFolder(out, 8, () => {
      throw new Error('disk full');
    });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, 'disk full');
  }
  assert.equal(readdirSync(out), ['checkpoint-7']);
});

test('re-saving a step replaces the folder whole: the new files, no old ones, nothing aside', async () => {
  const out = tempDir('replace');
  await saveCheckpointFolder(out, 3, (dir) => {
    writeFileSync(join(dir, 'old-only'), 'o');
    writeFileSync(join(dir, 'f'), 'old');
  });
  await save(out, 3, 'new!');
  assert.equal(readdirSync(out), ['checkpoint-3']);
  assert.equal(readdirSync(join(out, 'checkpoint-3')).sort(), [MANIFEST_NAME, 'f']);
  assert.is(readFileSync(join(out, 'checkpoint-3', 'f'), 'utf8'), 'new!');
});

test('listCheckpoints counts only complete folders (manifest present, files of its sizes), sorted by step; latestCheckpoint', async () => {
  const out = tempDir('list');
  for (const step of [10, 9, 100, 200, 300, 400]) await save(out, step);
  mkdirSync(join(out, 'checkpoint-200.tmp'));
  mkdirSync(join(out, 'other'));
  rmSync(join(out, 'checkpoint-200', MANIFEST_NAME)); // a save that never finished
  writeFileSync(join(out, 'checkpoint-300', 'f'), ''); // truncated after the save
  rmSync(join(out, 'checkpoint-400', 'f')); // half deleted
  assert.equal((await listCheckpoints(out)).map((c) => c.step), [9, 10, 100]);
  assert.is(await latestCheckpoint(out), join(out, 'checkpoint-100'));
  assert.is(await latestCheckpoint(join(out, 'nothing')), null);
  assert.match((await incompleteReason(join(out, 'checkpoint-200')))!, `${MANIFEST_NAME} is missing`);
  assert.is(await incompleteReason(join(out, 'checkpoint-300')), 'f is 0 bytes, the manifest says 1');
  assert.is(await incompleteReason(join(out, 'checkpoint-400')), 'f is missing');
  assert.equal((await incompleteCheckpoints(out)).map((c) => c.path.split('/').at(-1)), ['checkpoint-200', 'checkpoint-300', 'checkpoint-400']);
});

test('rotateCheckpoints keeps the newest `limit` and never the best', async () => {
  const out = tempDir('rotate');
  for (const s of [1, 2, 3, 4, 5]) await save(out, s);
  const best = join(out, 'checkpoint-2');
  await rotateCheckpoints(out, 2, best);
  assert.equal((await listCheckpoints(out)).map((c) => c.step), [2, 5]);
  // limit 1 with a best that is not the newest keeps both, so training can resume.
  await rotateCheckpoints(out, 1, best);
  assert.equal((await listCheckpoints(out)).map((c) => c.step), [2, 5]);
  await rotateCheckpoints(out, 1, null);
  assert.equal((await listCheckpoints(out)).map((c) => c.step), [5]);
  assert.ok(!existsSync(best));
  assert.equal(readdirSync(out), ['checkpoint-5'], 'nothing left aside');
  assert.equal(await rotateCheckpoints(out, null), []);
});

test("the next save sweeps a killed writer's temporary folders and files, and keeps a live writer's", async () => {
  const out = tempDir('sweep');
  const dead = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its PID is free
  const deadFolder = join(out, `.checkpoint-4.${dead}.0123abcd.tmp`);
  mkdirSync(deadFolder);
  writeFileSync(join(deadFolder, 'model.safetensors'), 'half');
  writeFileSync(join(out, `.README.md.${dead}.89abcdef.tmp`), 'half');
  const live = join(out, `.checkpoint-6.${process.pid}.00000000.tmp`);
  mkdirSync(live);
  await save(out, 5);
  assert.equal(readdirSync(out).sort(), [live.split('/').at(-1)!, 'checkpoint-5'].sort());
});

/** A JSON file in a fresh folder. */
function jsonFile(name: string, value: unknown): string {
  const path = join(tempDir('state'), name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

const files = nodeStorage();

const RUN = { stepsPerEpoch: 5, maxSteps: 12 };
const RNG = { seed: 42, dataSeed: 42, epoch: 1, stepInEpoch: 1, globalStep: 6 };

test('rng_state.json: every field checked against the run, the error naming the file and the field', async () => {
  assert.equal(await parseRngState(files, jsonFile('rng_state.json', RNG), RUN), RNG);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ epoch: '1' }, /epoch is "1"; expected an integer from 0 to 2/],
    [{ epoch: 1e9 }, /epoch is 1000000000; expected an integer from 0 to 2/],
    [{ stepInEpoch: -3 }, /stepInEpoch is -3; expected an integer from 0 to 4 \(this run has 5 steps per epoch\)/],
    [{ stepInEpoch: 0.5 }, /stepInEpoch is 0.5/],
    [{ globalStep: -5 }, /globalStep is -5; expected an integer from 0 to 12/],
    [{ globalStep: 1000 }, /globalStep is 1000; expected an integer from 0 to 12/],
    [{ globalStep: 7 }, /epoch 1 and stepInEpoch 1 are step 6 of this run \(5 steps per epoch\), but globalStep is 7/],
    [{ seed: null }, /seed is null; expected an integer >= 0/],
    [{ dataSeed: undefined }, /dataSeed is missing/],
  ];
  for (const [change, message] of cases) {
    const path = jsonFile('rng_state.json', { ...RNG, ...change });
    await rejects(parseRngState(files, path, RUN), (e: Error) => e.message.startsWith(`${path}: `) && message.test(e.message), JSON.stringify(change));
  }
  const notObject = jsonFile('rng_state.json', '[1, 2]');
  await rejects(parseRngState(files, notObject, RUN), (e: Error) => e.message === `checkpoint file ${notObject} does not hold a JSON object`, 'not an object');
  const broken = jsonFile('rng_state.json', '{"seed": ');
  await rejects(parseRngState(files, broken, RUN), (e: Error) => e.message.includes(`${broken} is not valid JSON`), 'broken JSON');
});

test("scaler.json (an fp16 run's loss scaler): every field checked, naming file and field", async () => {
  const scaler = { scale: 32768, growth_factor: 2, backoff_factor: 0.5, growth_interval: 2000, _growth_tracker: 17 };
  assert.equal(await parseScalerState(files, jsonFile('scaler.json', scaler)), scaler);
  for (const [change, message] of [
    [{ scale: 0 }, /scale is 0; expected a finite number > 0/],
    [{ scale: null }, /scale is null/],
    [{ growth_factor: 1 }, /growth_factor is 1; expected a finite number > 1/],
    [{ backoff_factor: 1.5 }, /backoff_factor is 1.5; expected a number in \(0, 1\)/],
    [{ growth_interval: 0 }, /growth_interval is 0; expected an integer >= 1/],
    [{ _growth_tracker: 2000 }, /_growth_tracker is 2000; expected an integer from 0 to 1999/],
    [{ _growth_tracker: undefined }, /_growth_tracker is missing/],
  ] as const) {
    const path = jsonFile('scaler.json', { ...scaler, ...change });
    await rejects(parseScalerState(files, path), (e: Error) => e.message.startsWith(`${path}: `) && message.test(e.message), JSON.stringify(change));
  }
});

test('scheduler.json and trainer_state.json: types and ranges checked, naming file and field', async () => {
  const scheduler = { lr_scheduler_type: 'linear', num_training_steps: 12, num_warmup_steps: 2, last_step: 6, last_lr: 1e-3 };
  assert.equal(await parseSchedulerState(files, jsonFile('scheduler.json', scheduler), 6), { lr_scheduler_type: 'linear', num_training_steps: 12, num_warmup_steps: 2 });
  for (const [change, message] of [
    [{ last_step: 5 }, /last_step is 5; expected 6 \(the checkpoint's global step\)/],
    [{ num_training_steps: '12' }, /num_training_steps is "12"; expected an integer >= 1/],
    [{ num_warmup_steps: -1 }, /num_warmup_steps is -1/],
    [{ lr_scheduler_type: 3 }, /lr_scheduler_type is 3; expected a schedule name/],
    [{ last_lr: null }, /last_lr is null; expected a finite number/],
  ] as const) {
    const path = jsonFile('scheduler.json', { ...scheduler, ...change });
    await rejects(parseSchedulerState(files, path, 6), (e: Error) => e.message.startsWith(`${path}: `) && message.test(e.message), JSON.stringify(change));
  }
  const state = new TrainerState();
  state.globalStep = 6;
  state.epoch = 1.2;
  state.logHistory = [{ loss: 1.5, step: 6 }];
  const good = state.toJSON();
  assert.is(TrainerState.fromJSON(good, 'trainer_state.json').globalStep, 6);
  for (const [change, message] of [
    [{ global_step: -5 }, /global_step is -5; expected an integer >= 0/],
    [{ epoch: '1' }, /epoch is "1"; expected a number >= 0/],
    [{ log_history: [{ loss: 'x' }] }, /log_history is \[\{"loss":"x"\}\]; expected a list of objects of numbers/],
    [{ best_metric: 'high' }, /best_metric is "high"/],
    [{ num_input_tokens_seen: 1.5 }, /num_input_tokens_seen is 1.5/],
  ] as const) {
    assert.throws(() => TrainerState.fromJSON({ ...good, ...change } as never, 'ckpt/trainer_state.json'),
      (e: Error) => e.message.startsWith('ckpt/trainer_state.json: ') && message.test(e.message), JSON.stringify(change));
  }
});

test("optimizer.safetensors: moments of the parameters' shapes, finite, steps within the global step; naming file and tensor", async () => {
  const shapes = new Map<string, readonly number[]>([['w', [64]]]);
  const tensors = (m: number[], v: Float32Array, step: number) => new Map([
    ['exp_avg.w', { shape: m, data: new Float32Array(64) }],
    ['exp_avg_sq.w', { shape: [64], data: v }],
    ['step.w', { shape: [1], data: Float32Array.of(step) }],
  ]);
  const file = (t: Map<string, { shape: number[]; data: Float32Array }>) => {
    const path = join(tempDir('optim'), 'optimizer.safetensors');
    writeFileSync(path, writeSafetensors(t));
    return path;
  };
  assert.is((await readOptimizerState(files, file(tensors([64], new Float32Array(64), 6)), shapes, 6)).size, 3);
  const negative = new Float32Array(64);
  negative[5] = -1;
  const cases: [Map<string, { shape: number[]; data: Float32Array }>, RegExp][] = [
    [tensors([8, 8], new Float32Array(64), 6), /exp_avg\.w has shape \[8, 8\], the model's is \[64\]/],
    [tensors([64], negative, 6), /exp_avg_sq\.w holds -1 at element 5/],
    [tensors([64], new Float32Array(64), 7), /step\.w is 7; expected an integer from 0 to 6/],
    [new Map([...tensors([64], new Float32Array(64), 6), ['exp_avg.extra', { shape: [1], data: new Float32Array(1) }]]), /tensor exp_avg\.extra matches no parameter/],
    [new Map([...tensors([64], new Float32Array(64), 6)].slice(1)), /no tensor exp_avg\.w/],
  ];
  for (const [t, message] of cases) {
    const path = file(t);
    await rejects(readOptimizerState(files, path, shapes, 6), (e: Error) => e.message.startsWith(`${path}: `) && message.test(e.message), String(message));
  }
});

test.run();
