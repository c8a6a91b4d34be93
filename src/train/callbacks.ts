// Trainer callbacks, after transformers' TrainerCallback: hooks called at
// fixed points of the loop, each given the arguments, the state and a control
// object through which a callback can stop training early.

import type { TrainingArguments } from './arguments.js';
import type { TrainerState } from './state.js';

/** What callbacks may ask of the loop (transformers' TrainerControl, the part that applies here). */
export interface TrainerControl {
  /** Stop after the current step (its logging, evaluation and checkpoint still happen). */
  shouldTrainingStop: boolean;
}

export interface CallbackContext {
  args: TrainingArguments;
  state: TrainerState;
  control: TrainerControl;
}

export interface TrainerCallback {
  onTrainBegin?(ctx: CallbackContext): void | Promise<void>;
  /** After each optimizer step has been recorded and submitted (its loss is not read back yet). */
  onStepEnd?(ctx: CallbackContext): void | Promise<void>;
  onEpochEnd?(ctx: CallbackContext): void | Promise<void>;
  /** A log_history entry: training loss or evaluation metrics. */
  onLog?(ctx: CallbackContext, logs: Record<string, number>): void | Promise<void>;
  onEvaluate?(ctx: CallbackContext, metrics: Record<string, number>): void | Promise<void>;
  /** After a checkpoint folder is complete. */
  onSave?(ctx: CallbackContext, checkpoint: string): void | Promise<void>;
  onTrainEnd?(ctx: CallbackContext): void | Promise<void>;
}

/** Calls one hook on every callback in order. */
export async function runCallbacks<K extends keyof TrainerCallback>(
  callbacks: readonly TrainerCallback[],
  hook: K,
  ...params: Parameters<NonNullable<TrainerCallback[K]>>
): Promise<void> {
  for (const cb of callbacks) {
    const fn = cb[hook] as ((...a: typeof params) => void | Promise<void>) | undefined;
    if (fn) await fn.apply(cb, params);
  }
}
