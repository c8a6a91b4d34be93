// TrainerState: where training stands (step, epoch, log history, best
// metric), saved as trainer_state.json in each checkpoint in the layout
// transformers writes, and read back when resuming.

import { checkedField, integerIn, type LogEntry, type TrainerStateJson } from './checkpoint-files.js';

export class TrainerState {
  /** Fractional epoch: 1.5 is half-way through the second epoch. */
  epoch = 0;
  globalStep = 0;
  maxSteps = 0;
  numTrainEpochs = 0;
  loggingSteps = 0;
  evalSteps = 0;
  saveSteps = 0;
  trainBatchSize = 0;
  /** Input tokens (padding included, as transformers counts them) fed to the model. */
  numInputTokensSeen = 0;
  logHistory: LogEntry[] = [];
  bestMetric: number | null = null;
  bestModelCheckpoint: string | null = null;
  /** Callbacks' state by class name, as transformers keeps it (EarlyStoppingCallback's patience counter), so a resumed run goes on counting. */
  statefulCallbacks: Record<string, { args: Record<string, unknown>; attributes: Record<string, number> }> = {};

  toJSON(): TrainerStateJson {
    return {
      best_metric: this.bestMetric,
      best_model_checkpoint: this.bestModelCheckpoint,
      epoch: this.epoch,
      eval_steps: this.evalSteps,
      global_step: this.globalStep,
      is_hyper_param_search: false,
      is_local_process_zero: true,
      is_world_process_zero: true,
      log_history: this.logHistory,
      logging_steps: this.loggingSteps,
      max_steps: this.maxSteps,
      num_input_tokens_seen: this.numInputTokensSeen,
      num_train_epochs: this.numTrainEpochs,
      save_steps: this.saveSteps,
      stateful_callbacks: this.statefulCallbacks,
      total_flos: 0,
      train_batch_size: this.trainBatchSize,
      trial_name: null,
      trial_params: null,
    };
  }

  /** Restores the fields a resumed run continues from, checking each; errors name `source` and the field. */
  static fromJSON(json: TrainerStateJson, source: string): TrainerState {
    const fields = json as unknown as Record<string, unknown>;
    const field = <T>(name: string, ok: (v: unknown) => boolean, expected: string) => checkedField<T>(source, fields, name, ok, expected);
    const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    const state = new TrainerState();
    state.globalStep = field('global_step', integerIn(0, Number.MAX_SAFE_INTEGER), 'an integer >= 0');
    state.epoch = field('epoch', (v) => isNumber(v) && (v as number) >= 0, 'a number >= 0');
    state.logHistory = field('log_history', (v) => Array.isArray(v) && v.every(isLogEntry), 'a list of objects of numbers');
    state.bestMetric = field('best_metric', (v) => v === null || v === undefined || isNumber(v), 'a number or null') ?? null;
    state.bestModelCheckpoint = field('best_model_checkpoint', (v) => v === null || v === undefined || typeof v === 'string', 'a path or null') ?? null;
    state.numInputTokensSeen = field('num_input_tokens_seen', (v) => v === undefined || integerIn(0, Number.MAX_SAFE_INTEGER)(v), 'an integer >= 0') ?? 0;
    state.statefulCallbacks = field('stateful_callbacks', (v) => v === undefined || isStatefulCallbacks(v), 'an object of {args, attributes} by callback name') ?? {};
    return state;
  }
}

/** A log_history entry: numbers by name (null where JSON could not hold a NaN). */
function isLogEntry(entry: unknown): boolean {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return false;
  return Object.values(entry).every((v) => v === null || typeof v === 'number');
}

function isStatefulCallbacks(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((c) => typeof c === 'object' && c !== null && isLogEntry((c as { attributes?: unknown }).attributes ?? {}));
}
