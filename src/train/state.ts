// TrainerState: where training stands (step, epoch, log history, best
// metric), saved as trainer_state.json in each checkpoint in the layout
// transformers writes, and read back when resuming.

import type { LogEntry, TrainerStateJson } from './checkpoints.js';

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
      stateful_callbacks: {},
      total_flos: 0,
      train_batch_size: this.trainBatchSize,
      trial_name: null,
      trial_params: null,
    };
  }

  /** Restores the fields a resumed run continues from. */
  static fromJSON(json: TrainerStateJson, source: string): TrainerState {
    if (!Number.isInteger(json.global_step) || !Array.isArray(json.log_history)) {
      throw new Error(`${source}: not a trainer state (needs global_step and log_history)`);
    }
    const state = new TrainerState();
    state.epoch = json.epoch;
    state.globalStep = json.global_step;
    state.logHistory = json.log_history;
    state.bestMetric = json.best_metric ?? null;
    state.bestModelCheckpoint = json.best_model_checkpoint ?? null;
    state.numInputTokensSeen = json.num_input_tokens_seen ?? 0;
    return state;
  }
}
