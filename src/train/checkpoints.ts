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
//   scaler.json                      fp16 runs: the loss scaler's state (torch's GradScaler.state_dict keys)
//   trainer_state.json               transformers' TrainerState, log_history included
//   training_args.json               the TrainingArguments, snake_case
//   checkpoint_manifest.json         written last: {step, files: {name: bytes}}
//
// writeTrainerCheckpoint writes these files; readTrainerCheckpoint reads them
// back, every file and field checked (checkpoint-files.ts) before the Trainer
// changes anything.
//
// Every file and folder goes through the Trainer's storage (storage.ts; the
// functions take it last, the registered default when left out).
//
// Fault points (SHADERGRAD_FAULT_KILL_AT, see src/io/files.ts): checkpoint-files:<step>
// (every file written, the manifest not), checkpoint-aside:<step> (the old folder moved
// aside, the new one not yet renamed in).

import { WEIGHTS_NAME } from '../io/checkpoint.js';
import type { Tensor } from '../tensor.js';
import { writeSafetensors } from '../io/safetensors.js';
import type { TrainingArguments } from './arguments.js';
import { TrainerState } from './state.js';
import {
  badValue, parseRngState, parseScalerState, parseSchedulerState, readCheckedTensors, readJson, readOptimizerState, writeJsonAtomic,
  type RngState, type RunShape, type SchedulerState, type TrainerStateJson,
} from './checkpoint-files.js';
import { defaultStorage, type TrainerStorage } from './storage.js';
import type { GradScalerState } from '../optim/grad-scaler.js';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const TRAINER_STATE_NAME = 'trainer_state.json';
export const TRAINING_ARGS_NAME = 'training_args.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const SCHEDULER_NAME = 'scheduler.json';
export const RNG_STATE_NAME = 'rng_state.json';
export const SCALER_NAME = 'scaler.json';
export const MANIFEST_NAME = 'checkpoint_manifest.json';

export function checkpointDir(outputDir: string, step: number, storage = defaultStorage()): string {
  return storage.join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
}

interface Manifest {
  step: number;
  files: Record<string, number>;
}

/** Why `dir` is not a complete checkpoint (its manifest missing, or a file missing or of another size), or null. */
export async function incompleteReason(dir: string, storage = defaultStorage()): Promise<string | null> {
  const path = storage.join(dir, MANIFEST_NAME);
  if (!(await storage.exists(path))) return `${MANIFEST_NAME} is missing (the save did not finish)`;
  let manifest: Manifest;
  try {
    manifest = await readJson<Manifest>(storage, path);
  } catch (e) {
    return (e as Error).message;
  }
  if (typeof manifest.files !== 'object' || manifest.files === null) return `${path} lists no files`;
  for (const [name, bytes] of Object.entries(manifest.files)) {
    const size = await storage.size(storage.join(dir, name));
    if (size === null) return `${name} is missing`;
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
export async function saveCheckpointFolder(
  outputDir: string,
  step: number,
  write: (dir: string) => Promise<void> | void,
  storage = defaultStorage(),
): Promise<string> {
  const final = checkpointDir(outputDir, step, storage);
  await storage.mkdir(outputDir);
  await storage.removeStale(outputDir);
  const tmp = storage.temporaryName(final);
  await storage.mkdir(tmp);
  try {
    await write(tmp);
    storage.killAt?.('checkpoint-files', step);
    const files: Record<string, number> = {};
    for (const { name, isDirectory } of await storage.list(tmp)) {
      if (!isDirectory) files[name] = (await storage.size(storage.join(tmp, name)))!;
    }
    await writeJsonAtomic(storage, storage.join(tmp, MANIFEST_NAME), { step, files } satisfies Manifest);
  } catch (e) {
    await storage.remove(tmp);
    throw e;
  }
  if (await storage.exists(final)) {
    const aside = storage.temporaryName(final);
    await storage.rename(final, aside);
    storage.killAt?.('checkpoint-aside', step);
    await storage.rename(tmp, final);
    await storage.remove(aside);
  } else {
    await storage.rename(tmp, final);
  }
  await storage.syncDir(outputDir);
  return final;
}

/** Every checkpoint-<step> folder in outputDir, oldest (lowest step) first, with why it is incomplete (null: complete). */
async function scanCheckpoints(outputDir: string, storage: TrainerStorage): Promise<{ step: number; path: string; incomplete: string | null }[]> {
  const pattern = new RegExp(`^${CHECKPOINT_PREFIX}(\\d+)$`);
  const out = [];
  for (const d of await storage.list(outputDir)) {
    if (!d.isDirectory || !pattern.test(d.name)) continue;
    const path = storage.join(outputDir, d.name);
    out.push({ step: Number(pattern.exec(d.name)![1]), path, incomplete: await incompleteReason(path, storage) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Complete checkpoint folders in outputDir (see incompleteReason), oldest (lowest step) first. */
export async function listCheckpoints(outputDir: string, storage = defaultStorage()): Promise<{ step: number; path: string }[]> {
  return (await scanCheckpoints(outputDir, storage)).filter((c) => c.incomplete === null).map(({ step, path }) => ({ step, path }));
}

/** checkpoint-<step> folders in outputDir that listCheckpoints skips, each with the reason. */
export async function incompleteCheckpoints(outputDir: string, storage = defaultStorage()): Promise<{ path: string; reason: string }[]> {
  return (await scanCheckpoints(outputDir, storage)).flatMap((c) => (c.incomplete === null ? [] : [{ path: c.path, reason: c.incomplete }]));
}

/** The newest complete checkpoint in outputDir, or null. */
export async function latestCheckpoint(outputDir: string, storage = defaultStorage()): Promise<string | null> {
  return (await listCheckpoints(outputDir, storage)).at(-1)?.path ?? null;
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never `keep` (the best
 * model's). As transformers: with limit 1 and a best checkpoint that is not
 * the newest, both are kept so that training can still resume from the newest.
 * Each is renamed aside before it is deleted, so a kill mid-delete leaves a
 * temporary (swept later), not a half checkpoint. Returns the deleted paths.
 */
export async function rotateCheckpoints(outputDir: string, limit: number | null, keep: string | null = null, storage = defaultStorage()): Promise<string[]> {
  if (limit === null) return [];
  let checkpoints = (await listCheckpoints(outputDir, storage)).map((c) => c.path);
  const newest = checkpoints.at(-1);
  // Move the protected one to the end so that it is never among the oldest deleted.
  if (keep && checkpoints.includes(keep)) checkpoints = [...checkpoints.filter((c) => c !== keep), keep];
  const effectiveLimit = limit === 1 && keep && checkpoints.includes(keep) && newest !== keep ? 2 : limit;
  const doomed = checkpoints.slice(0, Math.max(0, checkpoints.length - effectiveLimit));
  for (const path of doomed) {
    const aside = storage.temporaryName(path);
    await storage.rename(path, aside);
    await storage.remove(aside);
  }
  return doomed;
}

// ------------------------------------------------- the Trainer's files ----

type NamedArrays = Map<string, { shape: number[]; data: Float32Array }>;

/** What a model folder is written from: the model (and its tokenizer's files). */
export interface SavableModel {
  /** Writes config.json and model.safetensors into a local folder (Node). */
  savePretrained(dir: string): unknown;
  /** The same files as bytes, for a storage off the local file system. */
  pretrainedFiles?(): Promise<Record<string, Uint8Array | string>>;
}

/**
 * Writes the model's files into `dir` of the storage, and the tokenizer's:
 * through pretrainedFiles() where the model has it, else by savePretrained
 * into the storage's local folder.
 */
export async function writeModelFolder(
  storage: TrainerStorage,
  dir: string,
  model: SavableModel,
  tokenizer?: { pretrainedFiles(): Record<string, string> },
): Promise<void> {
  await storage.mkdir(dir);
  if (model.pretrainedFiles) {
    for (const [name, data] of Object.entries(await model.pretrainedFiles())) await storage.writeFile(storage.join(dir, name), data);
  } else if (storage.localPath) {
    await model.savePretrained(storage.localPath(dir));
  } else {
    throw new Error(`Trainer: cannot save the model to ${dir}: this storage is not the local file system and the model has no pretrainedFiles()`);
  }
  if (tokenizer) for (const [name, text] of Object.entries(tokenizer.pretrainedFiles())) await storage.writeFile(storage.join(dir, name), text);
}

/** Everything a Trainer checkpoint holds. */
export interface TrainerCheckpoint {
  model: SavableModel;
  tokenizer?: { pretrainedFiles(): Record<string, string> };
  /** AdamW's stateDict(). */
  optimizer: { tensors: NamedArrays };
  scheduler: SchedulerState & { last_step: number; last_lr: number };
  rng: RngState;
  /** fp16 runs: the GradScaler's stateDict(). */
  scaler?: GradScalerState;
  state: TrainerState;
  args: TrainingArguments;
}

/** Writes outputDir/checkpoint-<step> (see saveCheckpointFolder); returns its path. */
export function writeTrainerCheckpoint(storage: TrainerStorage, outputDir: string, step: number, c: TrainerCheckpoint): Promise<string> {
  return saveCheckpointFolder(outputDir, step, async (dir) => {
    await writeModelFolder(storage, dir, c.model, c.tokenizer);
    await storage.writeFile(storage.join(dir, OPTIMIZER_NAME), writeSafetensors(c.optimizer.tensors));
    await writeJsonAtomic(storage, storage.join(dir, SCHEDULER_NAME), c.scheduler);
    await writeJsonAtomic(storage, storage.join(dir, RNG_STATE_NAME), c.rng);
    if (c.scaler) await writeJsonAtomic(storage, storage.join(dir, SCALER_NAME), c.scaler);
    await writeJsonAtomic(storage, storage.join(dir, TRAINER_STATE_NAME), c.state.toJSON());
    await writeJsonAtomic(storage, storage.join(dir, TRAINING_ARGS_NAME), c.args.toJSON());
  }, storage);
}

/** A checkpoint read back and checked, nothing applied yet. */
export interface LoadedCheckpoint {
  state: TrainerState;
  rng: RngState;
  scheduler: SchedulerState;
  weights: NamedArrays;
  moments: NamedArrays;
  /** scaler.json when the checkpoint has one (an fp16 run's), else null. */
  scaler: GradScalerState | null;
}

/**
 * Reads `dir` and checks every file and field against the model's parameters
 * and this run; errors name the file and the field.
 */
export async function readTrainerCheckpoint(storage: TrainerStorage, dir: string, params: Map<string, Tensor>, run: RunShape): Promise<LoadedCheckpoint> {
  const at = (name: string) => storage.join(dir, name);
  // Folders saved before manifests existed have none; their files are checked one by one below.
  const incomplete = (await storage.exists(at(MANIFEST_NAME))) ? await incompleteReason(dir, storage) : null;
  if (incomplete) throw new Error(`Trainer: cannot resume from ${dir}: it is incomplete: ${incomplete}`);
  for (const name of [WEIGHTS_NAME, OPTIMIZER_NAME, SCHEDULER_NAME, RNG_STATE_NAME, TRAINER_STATE_NAME]) {
    if (!(await storage.exists(at(name)))) throw new Error(`Trainer: cannot resume from ${dir}: ${name} is missing`);
  }
  const rng = await parseRngState(storage, at(RNG_STATE_NAME), run);
  const statePath = at(TRAINER_STATE_NAME);
  const state = TrainerState.fromJSON(await readJson<TrainerStateJson>(storage, statePath), statePath);
  if (state.globalStep !== rng.globalStep) {
    throw new Error(`Trainer: ${dir} is inconsistent: trainer_state.json says step ${state.globalStep}, rng_state.json ${rng.globalStep}`);
  }
  // The fractional epoch as the loop computes it after step globalStep.
  const last = rng.globalStep - 1;
  const epoch = rng.globalStep === 0 ? 0 : Math.floor(last / run.stepsPerEpoch) + ((last % run.stepsPerEpoch) + 1) / run.stepsPerEpoch;
  if (state.epoch !== epoch) {
    throw new Error(`${statePath}: epoch is ${state.epoch}; step ${rng.globalStep} at ${run.stepsPerEpoch} steps per epoch is epoch ${epoch}`);
  }
  const scheduler = await parseSchedulerState(storage, at(SCHEDULER_NAME), rng.globalStep);
  const weights = await readModelWeights(storage, dir, params);
  const shapes = new Map([...params].map(([name, p]) => [name, p.shape]));
  const moments = await readOptimizerState(storage, at(OPTIMIZER_NAME), shapes, rng.globalStep);
  const scaler = (await storage.exists(at(SCALER_NAME))) ? await parseScalerState(storage, at(SCALER_NAME)) : null;
  return { state, rng, scheduler, weights, moments, scaler };
}

/** dir/model.safetensors, checked: a finite float tensor of the right shape for each of the model's parameters. */
export function readModelWeights(storage: TrainerStorage, dir: string, params: Map<string, Tensor>): Promise<NamedArrays> {
  const shapes = new Map([...params].map(([name, p]) => [name, p.shape]));
  return readCheckedTensors(storage, storage.join(dir, WEIGHTS_NAME), shapes, (_, data) => badValue(data));
}

/** Writes checked weights (readModelWeights) into the parameters. */
export function assignWeights(weights: NamedArrays, params: Map<string, Tensor>): void {
  for (const [name, p] of params) p.assign(weights.get(name)!.data);
}
