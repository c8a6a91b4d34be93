// Trainer callbacks, after transformers' TrainerCallback: hooks called at
// fixed points of the loop, each given the arguments, the state and a control
// object through which a callback can stop training early. EarlyStoppingCallback
// is transformers' own.

import { checkOptions, type WithSnakeCase } from '../options.js';
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

export interface EarlyStoppingOptions {
  /** Evaluations without improvement of metricForBestModel after which training stops (default 1). */
  earlyStoppingPatience?: number;
  /** How much better than the best so far a value must be to count as an improvement (default 0). */
  earlyStoppingThreshold?: number;
}

/**
 * transformers' EarlyStoppingCallback: stops training once metricForBestModel
 * has not improved on the best value by more than the threshold for
 * `earlyStoppingPatience` evaluations in a row. Needs loadBestModelAtEnd and
 * metricForBestModel, as transformers checks; its counter is kept in
 * trainer_state.json's stateful_callbacks, so a resumed run goes on counting.
 */
export class EarlyStoppingCallback implements TrainerCallback {
  readonly earlyStoppingPatience: number;
  readonly earlyStoppingThreshold: number;
  /** Evaluations in a row without improvement. */
  earlyStoppingPatienceCounter = 0;

  constructor(options?: WithSnakeCase<EarlyStoppingOptions>) {
    const o = checkOptions<EarlyStoppingOptions>('EarlyStoppingCallback', options, ['earlyStoppingPatience', 'earlyStoppingThreshold']);
    this.earlyStoppingPatience = o.earlyStoppingPatience ?? 1;
    this.earlyStoppingThreshold = o.earlyStoppingThreshold ?? 0;
    if (!Number.isInteger(this.earlyStoppingPatience) || this.earlyStoppingPatience < 1) {
      throw new Error(`EarlyStoppingCallback: earlyStoppingPatience must be an integer >= 1, got ${JSON.stringify(this.earlyStoppingPatience)}`);
    }
    if (!Number.isFinite(this.earlyStoppingThreshold) || this.earlyStoppingThreshold < 0) {
      throw new Error(`EarlyStoppingCallback: earlyStoppingThreshold must be a number >= 0, got ${JSON.stringify(this.earlyStoppingThreshold)}`);
    }
  }

  onTrainBegin({ args, state }: CallbackContext): void {
    if (!args.loadBestModelAtEnd) throw new Error('EarlyStoppingCallback requires loadBestModelAtEnd: true in the TrainingArguments');
    if (!args.metricForBestModel) throw new Error('EarlyStoppingCallback requires metricForBestModel to be set (e.g. "accuracy" or "loss")');
    if (args.evalStrategy === 'no') throw new Error("EarlyStoppingCallback requires evalStrategy 'steps' or 'epoch'");
    this.earlyStoppingPatienceCounter = state.statefulCallbacks[STATE_KEY]?.attributes.early_stopping_patience_counter ?? 0;
  }

  onEvaluate({ args, state, control }: CallbackContext, metrics: Record<string, number>): void {
    const name = args.metricForBestModel!;
    const value = metrics[name.startsWith('eval_') ? name : `eval_${name}`];
    if (value === undefined) {
      throw new Error(`EarlyStoppingCallback: metricForBestModel '${name}' is not among the evaluation results (${Object.keys(metrics).join(', ')})`);
    }
    // state.bestMetric is still the best before this evaluation (the Trainer updates it after the callbacks, as transformers).
    const best = state.bestMetric;
    const better = best === null || ((args.greaterIsBetter ? value > best : value < best) && Math.abs(value - best) > this.earlyStoppingThreshold);
    this.earlyStoppingPatienceCounter = better ? 0 : this.earlyStoppingPatienceCounter + 1;
    if (this.earlyStoppingPatienceCounter >= this.earlyStoppingPatience) control.shouldTrainingStop = true;
    state.statefulCallbacks[STATE_KEY] = {
      args: { early_stopping_patience: this.earlyStoppingPatience, early_stopping_threshold: this.earlyStoppingThreshold },
      attributes: { early_stopping_patience_counter: this.earlyStoppingPatienceCounter },
    };
  }
}

const STATE_KEY = 'EarlyStoppingCallback';
