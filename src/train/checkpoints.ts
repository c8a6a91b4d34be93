// Checkpoint folders: outputDir/checkpoint-<step>/, as transformers' Trainer
// lays them out, written so that a crash never leaves a half-written one under
// its final name: the folder is built under a unique temporary name (each
// file atomic), a manifest of the files and their sizes is written last, and
// the folder is then renamed in. Replacing an older folder of the same step
// moves it aside first (rename), renames the new one in, then deletes the old.
// listCheckpoints counts only folders whose manifest matches their files, so
// `--resume latest` never picks a half one. Rotation keeps the newest
// saveTotalLimit folders (and always the best one), renaming each doomed
// folder aside before deleting it. A killed writer's temporaries are swept by
// the next save into the folder.
//
// Files in a checkpoint:
//   config.json, model.safetensors   the model (savePretrained)
//   optimizer.safetensors            AdamW state (moments by parameter name) + step
//   scheduler.json                   learning-rate schedule state
//   rng_state.json                   seeds and the data position (epoch, step in epoch)
//   trainer_state.json               transformers' TrainerState, log_history included
//   training_args.json               the TrainingArguments, snake_case
//   checkpoint_manifest.json         written last: {step, files: {name: bytes}}
//
// Fault points (SHADERGRAD_FAULT_KILL_AT, see src/io/files.ts): checkpoint-files:<step>
// (every file written, the manifest not), checkpoint-aside:<step> (the old folder moved
// aside, the new one not yet renamed in).

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { killAt, readJsonFileSync, readRegularFileSync, sweepStaleTemporaries, syncDirectory, temporaryName, writeFileAtomic } from '../io/files.js';
import { readSafetensors } from '../io/safetensors.js';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const TRAINER_STATE_NAME = 'trainer_state.json';
export const TRAINING_ARGS_NAME = 'training_args.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const SCHEDULER_NAME = 'scheduler.json';
export const RNG_STATE_NAME = 'rng_state.json';
export const MANIFEST_NAME = 'checkpoint_manifest.json';

/** Writes `value` as indented JSON through writeFileAtomic. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A checkpoint's JSON file, which must hold an object; errors name the file. */
export function readJson<T>(path: string): T {
  const value = readJsonFileSync<unknown>(path, { what: 'checkpoint file' });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`checkpoint file ${path} does not hold a JSON object`);
  return value as T;
}

export function checkpointDir(outputDir: string, step: number): string {
  return join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
}

interface Manifest {
  step: number;
  files: Record<string, number>;
}

/** Why `dir` is not a complete checkpoint (its manifest missing, or a file missing or of another size), or null. */
export function incompleteReason(dir: string): string | null {
  const path = join(dir, MANIFEST_NAME);
  if (!existsSync(path)) return `${MANIFEST_NAME} is missing (the save did not finish)`;
  let manifest: Manifest;
  try {
    manifest = readJson<Manifest>(path);
  } catch (e) {
    return (e as Error).message;
  }
  if (typeof manifest.files !== 'object' || manifest.files === null) return `${path} lists no files`;
  for (const [name, bytes] of Object.entries(manifest.files)) {
    let size: number;
    try {
      size = statSync(join(dir, name)).size;
    } catch {
      return `${name} is missing`;
    }
    if (size !== bytes) return `${name} is ${size} bytes, the manifest says ${bytes}`;
  }
  return null;
}

/**
 * Builds outputDir/checkpoint-<step>: `write` fills a fresh folder under a
 * temporary name, the manifest goes in last, and the folder is renamed in
 * (replacing an older folder of the same step, as transformers does). Returns
 * the final path.
 */
export async function saveCheckpointFolder(outputDir: string, step: number, write: (dir: string) => Promise<void> | void): Promise<string> {
  const final = checkpointDir(outputDir, step);
  mkdirSync(outputDir, { recursive: true });
  sweepStaleTemporaries(outputDir);
  const tmp = temporaryName(final);
  mkdirSync(tmp);
  try {
    await write(tmp);
    killAt('checkpoint-files', step);
    const names = readdirSync(tmp, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
    const files = Object.fromEntries(names.map((name) => [name, statSync(join(tmp, name)).size]));
    await writeJsonAtomic(join(tmp, MANIFEST_NAME), { step, files } satisfies Manifest);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (existsSync(final)) {
    const aside = temporaryName(final);
    renameSync(final, aside);
    killAt('checkpoint-aside', step);
    renameSync(tmp, final);
    rmSync(aside, { recursive: true, force: true });
  } else {
    renameSync(tmp, final);
  }
  await syncDirectory(outputDir);
  return final;
}

/** Every checkpoint-<step> folder in outputDir, oldest (lowest step) first, with why it is incomplete (null: complete). */
function scanCheckpoints(outputDir: string): { step: number; path: string; incomplete: string | null }[] {
  if (!existsSync(outputDir)) return [];
  const pattern = new RegExp(`^${CHECKPOINT_PREFIX}(\\d+)$`);
  return readdirSync(outputDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && pattern.test(d.name))
    .map((d) => ({ step: Number(pattern.exec(d.name)![1]), path: join(outputDir, d.name), incomplete: incompleteReason(join(outputDir, d.name)) }))
    .sort((a, b) => a.step - b.step);
}

/** Complete checkpoint folders in outputDir (see incompleteReason), oldest (lowest step) first. */
export function listCheckpoints(outputDir: string): { step: number; path: string }[] {
  return scanCheckpoints(outputDir).filter((c) => c.incomplete === null).map(({ step, path }) => ({ step, path }));
}

/** checkpoint-<step> folders in outputDir that listCheckpoints skips, each with the reason. */
export function incompleteCheckpoints(outputDir: string): { path: string; reason: string }[] {
  return scanCheckpoints(outputDir).flatMap((c) => (c.incomplete === null ? [] : [{ path: c.path, reason: c.incomplete }]));
}

/** The newest complete checkpoint in outputDir, or null. */
export function latestCheckpoint(outputDir: string): string | null {
  return listCheckpoints(outputDir).at(-1)?.path ?? null;
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never `keep` (the best
 * model's). As transformers: with limit 1 and a best checkpoint that is not
 * the newest, both are kept so that training can still resume from the newest.
 * Each is renamed aside before it is deleted, so a kill mid-delete leaves a
 * temporary (swept later), not a half checkpoint. Returns the deleted paths.
 */
export function rotateCheckpoints(outputDir: string, limit: number | null, keep: string | null = null): string[] {
  if (limit === null) return [];
  let checkpoints = listCheckpoints(outputDir).map((c) => c.path);
  const newest = checkpoints.at(-1);
  // Move the protected one to the end so that it is never among the oldest deleted.
  if (keep && checkpoints.includes(keep)) checkpoints = [...checkpoints.filter((c) => c !== keep), keep];
  const effectiveLimit = limit === 1 && keep && checkpoints.includes(keep) && newest !== keep ? 2 : limit;
  const doomed = checkpoints.slice(0, Math.max(0, checkpoints.length - effectiveLimit));
  for (const path of doomed) {
    const aside = temporaryName(path);
    renameSync(path, aside);
    rmSync(aside, { recursive: true, force: true });
  }
  return doomed;
}

// ---------------------------------------------------------- resume state ----

/** What a resumed run's state must agree with. */
export interface RunShape {
  stepsPerEpoch: number;
  maxSteps: number;
}

type Json = Record<string, unknown>;

/** One field of a checkpoint's JSON file, checked; the error names the file and the field. */
export function checkedField<T>(path: string, json: Json, name: string, ok: (value: unknown) => boolean, expected: string): T {
  const value = json[name];
  if (!ok(value)) throw new Error(`${path}: ${name} is ${JSON.stringify(value) ?? 'missing'}; expected ${expected}`);
  return value as T;
}

export const integerIn = (min: number, max: number) => (v: unknown) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** rng_state.json, checked against the run: seeds, and a data position that is a step of this run. */
export function parseRngState(path: string, run: RunShape): RngState {
  const json = readJson<Json>(path);
  const get = (name: string, min: number, max: number, what = `an integer from ${min} to ${max}`) =>
    checkedField<number>(path, json, name, integerIn(min, max), what);
  const rng: RngState = {
    seed: get('seed', 0, Number.MAX_SAFE_INTEGER, 'an integer >= 0'),
    dataSeed: get('dataSeed', 0, Number.MAX_SAFE_INTEGER, 'an integer >= 0'),
    epoch: get('epoch', 0, Math.floor(run.maxSteps / run.stepsPerEpoch)),
    stepInEpoch: get('stepInEpoch', 0, run.stepsPerEpoch - 1, `an integer from 0 to ${run.stepsPerEpoch - 1} (this run has ${run.stepsPerEpoch} steps per epoch)`),
    globalStep: get('globalStep', 0, run.maxSteps, `an integer from 0 to ${run.maxSteps} (the steps of this run)`),
  };
  const at = rng.epoch * run.stepsPerEpoch + rng.stepInEpoch;
  if (at !== rng.globalStep) {
    throw new Error(
      `${path}: epoch ${rng.epoch} and stepInEpoch ${rng.stepInEpoch} are step ${at} of this run (${run.stepsPerEpoch} steps per epoch), ` +
        `but globalStep is ${rng.globalStep} (was it written with another batch size, gradient accumulation or data set?)`,
    );
  }
  return rng;
}

/** What scheduler.json holds. */
export interface SchedulerState {
  lr_scheduler_type: string;
  num_training_steps: number;
  num_warmup_steps: number;
}

/** scheduler.json, checked: its fields' types, and its last step is the checkpoint's. */
export function parseSchedulerState(path: string, globalStep: number): SchedulerState {
  const json = readJson<Json>(path);
  const integer = (min: number) => (v: unknown) => Number.isInteger(v) && (v as number) >= min;
  checkedField(path, json, 'last_step', (v) => v === globalStep, `${globalStep} (the checkpoint's global step)`);
  checkedField(path, json, 'last_lr', (v) => typeof v === 'number' && Number.isFinite(v), 'a finite number');
  return {
    lr_scheduler_type: checkedField(path, json, 'lr_scheduler_type', (v) => typeof v === 'string', 'a schedule name'),
    num_training_steps: checkedField(path, json, 'num_training_steps', integer(1), 'an integer >= 1'),
    num_warmup_steps: checkedField(path, json, 'num_warmup_steps', integer(0), 'an integer >= 0'),
  };
}

/**
 * Float tensors of a checkpoint's safetensors file, each checked against `expected` (name ->
 * shape: no tensor missing, none extra, every shape equal) and `check` (values); errors name the
 * file and the tensor.
 */
export function readCheckedTensors(
  path: string,
  expected: Map<string, readonly number[]>,
  check: (name: string, data: Float32Array) => string | null,
): Map<string, { shape: number[]; data: Float32Array }> {
  const file = readSafetensors(readRegularFileSync(path, { what: 'checkpoint file' }), path);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of expected) {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`${path}: no tensor ${name} (the model has a parameter for it)`);
    if (!t.data) throw new Error(`${path}: tensor ${name} is ${t.dtype}, expected a float`);
    if (t.shape.join() !== shape.join()) throw new Error(`${path}: ${name} has shape [${t.shape.join(', ')}], the model's is [${shape.join(', ')}]`);
    const bad = check(name, t.data);
    if (bad) throw new Error(`${path}: ${name} ${bad}`);
    out.set(name, { shape: t.shape, data: t.data });
  }
  const extra = [...file.tensors.keys()].find((name) => !expected.has(name));
  if (extra !== undefined) throw new Error(`${path}: tensor ${extra} matches no parameter of the model`);
  return out;
}

/** Why `data` is not all finite (and, with nonNegative, >= 0), or null. */
export function badValue(data: Float32Array, nonNegative = false): string | null {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v) || (nonNegative && v < 0)) return `holds ${v} at element ${i}`;
  }
  return null;
}

/** optimizer.safetensors, checked against the model's parameters: moments of their shapes, finite, steps up to globalStep. */
export function readOptimizerState(path: string, shapes: Map<string, readonly number[]>, globalStep: number): Map<string, { shape: number[]; data: Float32Array }> {
  const expected = new Map<string, readonly number[]>();
  for (const [name, shape] of shapes) {
    expected.set(`exp_avg.${name}`, shape);
    expected.set(`exp_avg_sq.${name}`, shape);
    expected.set(`step.${name}`, [1]);
  }
  return readCheckedTensors(path, expected, (name, data) => {
    if (!name.startsWith('step.')) return badValue(data, name.startsWith('exp_avg_sq.'));
    return Number.isInteger(data[0]) && data[0] >= 0 && data[0] <= globalStep ? null : `is ${data[0]}; expected an integer from 0 to ${globalStep} (the global step)`;
  });
}

/** What rng_state.json holds: enough to put the data order and dropout back where they were. */
export interface RngState {
  seed: number;
  dataSeed: number;
  /** Epoch in progress at the checkpoint (0-based). */
  epoch: number;
  /** Optimizer steps already taken inside that epoch. */
  stepInEpoch: number;
  globalStep: number;
}

/** One entry of transformers' log_history: {loss, learning_rate, grad_norm, epoch, step} or {eval_*, epoch, step}. */
export type LogEntry = Record<string, number>;

/** transformers' TrainerState as trainer_state.json holds it. */
export interface TrainerStateJson {
  best_metric: number | null;
  best_model_checkpoint: string | null;
  epoch: number;
  eval_steps: number;
  global_step: number;
  is_hyper_param_search: boolean;
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  log_history: LogEntry[];
  logging_steps: number;
  max_steps: number;
  num_input_tokens_seen: number;
  num_train_epochs: number;
  save_steps: number;
  stateful_callbacks: Record<string, unknown>;
  total_flos: number;
  train_batch_size: number;
  trial_name: string | null;
  trial_params: Record<string, unknown> | null;
}
