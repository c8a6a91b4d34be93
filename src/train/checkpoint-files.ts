// The files inside a checkpoint folder, read back with every field checked
// against the model and the run: rng_state.json, scheduler.json,
// optimizer.safetensors, model.safetensors, trainer_state.json's types. Each
// error names the file and the field or tensor. Every file goes through the
// Trainer's storage (storage.ts).

import { readSafetensors } from '../io/safetensors.js';
import type { TrainerStorage } from './storage.js';
import type { GradScalerState } from '../optim/grad-scaler.js';

/** JSON files read whole are refused above this (as src/io/files.ts's MAX_JSON_BYTES). */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

/** Writes `value` as indented JSON, atomically. */
export async function writeJsonAtomic(storage: TrainerStorage, path: string, value: unknown): Promise<void> {
  await storage.writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A checkpoint's JSON file, which must hold an object; errors name the file. */
export async function readJson<T>(storage: TrainerStorage, path: string): Promise<T> {
  const what = 'checkpoint file';
  const bytes = await storage.readFile(path, { maxBytes: MAX_JSON_BYTES, what });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${what} (${path}): not valid UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} ${path} does not hold a JSON object`);
  return value as T;
}

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
export async function parseRngState(storage: TrainerStorage, path: string, run: RunShape): Promise<RngState> {
  const json = await readJson<Json>(storage, path);
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
export async function parseSchedulerState(storage: TrainerStorage, path: string, globalStep: number): Promise<SchedulerState> {
  const json = await readJson<Json>(storage, path);
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
 * scaler.json (fp16 runs: the GradScaler's stateDict under torch's keys), checked: a finite scale
 * > 0, factors either side of 1, an interval >= 1 and a tracker below it.
 */
export async function parseScalerState(storage: TrainerStorage, path: string): Promise<GradScalerState> {
  const json = await readJson<Json>(storage, path);
  const number = (ok: (v: number) => boolean) => (v: unknown) => typeof v === 'number' && Number.isFinite(v) && ok(v);
  const interval = checkedField<number>(path, json, 'growth_interval', integerIn(1, Number.MAX_SAFE_INTEGER), 'an integer >= 1');
  return {
    scale: checkedField(path, json, 'scale', number((v) => v > 0), 'a finite number > 0'),
    growth_factor: checkedField(path, json, 'growth_factor', number((v) => v > 1), 'a finite number > 1'),
    backoff_factor: checkedField(path, json, 'backoff_factor', number((v) => v > 0 && v < 1), 'a number in (0, 1)'),
    growth_interval: interval,
    _growth_tracker: checkedField(path, json, '_growth_tracker', integerIn(0, interval - 1), `an integer from 0 to ${interval - 1}`),
  };
}

/**
 * Float tensors of a checkpoint's safetensors file, each checked against `expected` (name ->
 * shape: no tensor missing, none extra, every shape equal) and `check` (values); errors name the
 * file and the tensor.
 */
export async function readCheckedTensors(
  storage: TrainerStorage,
  path: string,
  expected: Map<string, readonly number[]>,
  check: (name: string, data: Float32Array) => string | null,
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const file = readSafetensors(await storage.readFile(path, { what: 'checkpoint file' }), path);
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
export function readOptimizerState(
  storage: TrainerStorage,
  path: string,
  shapes: Map<string, readonly number[]>,
  globalStep: number,
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const expected = new Map<string, readonly number[]>();
  for (const [name, shape] of shapes) {
    expected.set(`exp_avg.${name}`, shape);
    expected.set(`exp_avg_sq.${name}`, shape);
    expected.set(`step.${name}`, [1]);
  }
  return readCheckedTensors(storage, path, expected, (name, data) => {
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
  stateful_callbacks: Record<string, { args: Record<string, unknown>; attributes: Record<string, number> }>;
  total_flos: number;
  train_batch_size: number;
  trial_name: string | null;
  trial_params: Record<string, unknown> | null;
}
