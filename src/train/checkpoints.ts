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
//   tokenizer files                  when the Trainer has a tokenizer (its savePretrained)
//   optimizer.safetensors            AdamW state (moments by parameter name) + step
//   scheduler.json                   learning-rate schedule state
//   rng_state.json                   seeds and the data position (epoch, step in epoch)
//   trainer_state.json               transformers' TrainerState, log_history included
//   training_args.json               the TrainingArguments, snake_case
//   checkpoint_manifest.json         written last: {step, files: {name: bytes}}
//
// writeTrainerCheckpoint writes these files; readTrainerCheckpoint reads them
// back, every file and field checked (checkpoint-files.ts) before the Trainer
// changes anything.
//
// Fault points (SHADERGRAD_FAULT_KILL_AT, see src/io/files.ts): checkpoint-files:<step>
// (every file written, the manifest not), checkpoint-aside:<step> (the old folder moved
// aside, the new one not yet renamed in).

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gpu } from '../gpu/device.js';
import type { Tensor } from '../tensor.js';
import { killAt, sweepStaleTemporaries, syncDirectory, temporaryName, writeFileAtomic } from '../io/files.js';
import { writeSafetensors } from '../io/safetensors.js';
import { WEIGHTS_NAME } from '../io/checkpoint.js';
import type { TrainingArguments } from './arguments.js';
import { TrainerState } from './state.js';
import {
  badValue, parseRngState, parseSchedulerState, readCheckedTensors, readJson, readOptimizerState, writeJsonAtomic,
  type RngState, type RunShape, type SchedulerState, type TrainerStateJson,
} from './checkpoint-files.js';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const TRAINER_STATE_NAME = 'trainer_state.json';
export const TRAINING_ARGS_NAME = 'training_args.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const SCHEDULER_NAME = 'scheduler.json';
export const RNG_STATE_NAME = 'rng_state.json';
export const MANIFEST_NAME = 'checkpoint_manifest.json';

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

// ------------------------------------------------- the Trainer's files ----

type NamedArrays = Map<string, { shape: number[]; data: Float32Array }>;

/** Everything a Trainer checkpoint holds. */
export interface TrainerCheckpoint {
  model: { savePretrained(dir: string): unknown };
  tokenizer?: { savePretrained(dir: string): Promise<void> };
  /** AdamW's stateDict(). */
  optimizer: { tensors: NamedArrays };
  scheduler: SchedulerState & { last_step: number; last_lr: number };
  rng: RngState;
  state: TrainerState;
  args: TrainingArguments;
}

/** Writes outputDir/checkpoint-<step> (see saveCheckpointFolder); returns its path. */
export function writeTrainerCheckpoint(outputDir: string, step: number, c: TrainerCheckpoint): Promise<string> {
  return saveCheckpointFolder(outputDir, step, async (dir) => {
    await c.model.savePretrained(dir);
    await c.tokenizer?.savePretrained(dir);
    await writeFileAtomic(join(dir, OPTIMIZER_NAME), writeSafetensors(c.optimizer.tensors));
    await writeJsonAtomic(join(dir, SCHEDULER_NAME), c.scheduler);
    await writeJsonAtomic(join(dir, RNG_STATE_NAME), c.rng);
    await writeJsonAtomic(join(dir, TRAINER_STATE_NAME), c.state.toJSON());
    await writeJsonAtomic(join(dir, TRAINING_ARGS_NAME), c.args.toJSON());
  });
}

/** A checkpoint read back and checked, nothing applied yet. */
export interface LoadedCheckpoint {
  state: TrainerState;
  rng: RngState;
  scheduler: SchedulerState;
  weights: NamedArrays;
  moments: NamedArrays;
}

/**
 * Reads `dir` and checks every file and field against the model's parameters
 * and this run; errors name the file and the field.
 */
export function readTrainerCheckpoint(dir: string, params: Map<string, Tensor>, run: RunShape): LoadedCheckpoint {
  // Folders saved before manifests existed have none; their files are checked one by one below.
  const incomplete = existsSync(join(dir, MANIFEST_NAME)) ? incompleteReason(dir) : null;
  if (incomplete) throw new Error(`Trainer: cannot resume from ${dir}: it is incomplete: ${incomplete}`);
  for (const name of [WEIGHTS_NAME, OPTIMIZER_NAME, SCHEDULER_NAME, RNG_STATE_NAME, TRAINER_STATE_NAME]) {
    if (!existsSync(join(dir, name))) throw new Error(`Trainer: cannot resume from ${dir}: ${name} is missing`);
  }
  const rng = parseRngState(join(dir, RNG_STATE_NAME), run);
  const statePath = join(dir, TRAINER_STATE_NAME);
  const state = TrainerState.fromJSON(readJson<TrainerStateJson>(statePath), statePath);
  if (state.globalStep !== rng.globalStep) {
    throw new Error(`Trainer: ${dir} is inconsistent: trainer_state.json says step ${state.globalStep}, rng_state.json ${rng.globalStep}`);
  }
  // The fractional epoch as the loop computes it after step globalStep.
  const last = rng.globalStep - 1;
  const epoch = rng.globalStep === 0 ? 0 : Math.floor(last / run.stepsPerEpoch) + ((last % run.stepsPerEpoch) + 1) / run.stepsPerEpoch;
  if (state.epoch !== epoch) {
    throw new Error(`${statePath}: epoch is ${state.epoch}; step ${rng.globalStep} at ${run.stepsPerEpoch} steps per epoch is epoch ${epoch}`);
  }
  const scheduler = parseSchedulerState(join(dir, SCHEDULER_NAME), rng.globalStep);
  const weights = readModelWeights(dir, params);
  const shapes = new Map([...params].map(([name, p]) => [name, p.shape]));
  const moments = readOptimizerState(join(dir, OPTIMIZER_NAME), shapes, rng.globalStep);
  return { state, rng, scheduler, weights, moments };
}

/** dir/model.safetensors, checked: a finite float tensor of the right shape for each of the model's parameters. */
export function readModelWeights(dir: string, params: Map<string, Tensor>): NamedArrays {
  const shapes = new Map([...params].map(([name, p]) => [name, p.shape]));
  return readCheckedTensors(join(dir, WEIGHTS_NAME), shapes, (_, data) => badValue(data));
}

/** Writes checked weights (readModelWeights) into the parameters. */
export function assignWeights(weights: NamedArrays, params: Map<string, Tensor>): void {
  for (const [name, p] of params) gpu().upload(weights.get(name)!.data, p.buffer);
}
