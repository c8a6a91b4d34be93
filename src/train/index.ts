// The Trainer and what comes with it: arguments, metrics, checkpoints, progress, model card.

export { Trainer } from './trainer.js';
export type { TrainerOptions, TrainableModel, DataCollator, TrainOutput, PredictionOutput } from './trainer.js';
export { TrainingArguments } from './arguments.js';
export type { TrainingArgumentsInit, IntervalStrategy, SchedulerType } from './arguments.js';
export { loadMetric, combineMetrics, argmaxRows, ClassCounts } from './metrics.js';
export type { Metric, MetricBatch, MetricName, MetricOptions, Average } from './metrics.js';
export { TrainerState } from './state.js';
export type { TrainerCallback, TrainerControl, CallbackContext } from './callbacks.js';
export { listCheckpoints, latestCheckpoint, rotateCheckpoints } from './checkpoints.js';
export type { RngState, LogEntry, TrainerStateJson } from './checkpoints.js';
export { renderModelCard, parseLogHistory } from './model-card.js';
export type { ModelCardOptions } from './model-card.js';
export { Progress, JsonLinesLog, LOG_FILE_NAME } from './progress.js';
