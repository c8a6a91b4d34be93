// Checkpoint folders: outputDir/checkpoint-<step>/, as transformers' Trainer
// lays them out, written so that a crash never leaves a half-written one:
// each file goes to a temporary name and is renamed, and the folder itself is
// built as checkpoint-<step>.tmp and renamed when complete. Rotation keeps the
// newest saveTotalLimit folders (and always the best one).
//
// Files in a checkpoint:
//   config.json, model.safetensors   the model (savePretrained)
//   optimizer.safetensors            AdamW state (moments by parameter name) + step
//   scheduler.json                   learning-rate schedule state
//   rng_state.json                   seeds and the data position (epoch, step in epoch)
//   trainer_state.json               transformers' TrainerState, log_history included
//   training_args.json               the TrainingArguments, snake_case

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../io/files.js';
import { join } from 'node:path';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const TRAINER_STATE_NAME = 'trainer_state.json';
export const TRAINING_ARGS_NAME = 'training_args.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const SCHEDULER_NAME = 'scheduler.json';
export const RNG_STATE_NAME = 'rng_state.json';

/** Writes `value` as indented JSON through writeFileAtomic. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function readJson<T>(path: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`checkpoint file ${path} is missing or unreadable: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`checkpoint file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function checkpointDir(outputDir: string, step: number): string {
  return join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
}

/**
 * Builds outputDir/checkpoint-<step> atomically: `write` fills a fresh
 * checkpoint-<step>.tmp folder, which is then renamed (replacing an older
 * folder of the same step, as transformers does). Returns the final path.
 */
export async function saveCheckpointFolder(outputDir: string, step: number, write: (dir: string) => Promise<void> | void): Promise<string> {
  const final = checkpointDir(outputDir, step);
  const tmp = `${final}.tmp`;
  mkdirSync(outputDir, { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    await write(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return final;
}

/** Completed checkpoint folders in outputDir, oldest (lowest step) first; .tmp leftovers are ignored. */
export function listCheckpoints(outputDir: string): { step: number; path: string }[] {
  if (!existsSync(outputDir)) return [];
  const pattern = new RegExp(`^${CHECKPOINT_PREFIX}(\\d+)$`);
  return readdirSync(outputDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && pattern.test(d.name))
    .map((d) => ({ step: Number(pattern.exec(d.name)![1]), path: join(outputDir, d.name) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint in outputDir, or null. */
export function latestCheckpoint(outputDir: string): string | null {
  return listCheckpoints(outputDir).at(-1)?.path ?? null;
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never `keep` (the best
 * model's). As transformers: with limit 1 and a best checkpoint that is not
 * the newest, both are kept so that training can still resume from the newest.
 * Returns the deleted paths.
 */
export function rotateCheckpoints(outputDir: string, limit: number | null, keep: string | null = null): string[] {
  if (limit === null) return [];
  let checkpoints = listCheckpoints(outputDir).map((c) => c.path);
  const newest = checkpoints.at(-1);
  // Move the protected one to the end so that it is never among the oldest deleted.
  if (keep && checkpoints.includes(keep)) checkpoints = [...checkpoints.filter((c) => c !== keep), keep];
  const effectiveLimit = limit === 1 && keep && checkpoints.includes(keep) && newest !== keep ? 2 : limit;
  const doomed = checkpoints.slice(0, Math.max(0, checkpoints.length - effectiveLimit));
  for (const path of doomed) rmSync(path, { recursive: true, force: true });
  return doomed;
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
