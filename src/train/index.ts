// The Trainer and what comes with it: arguments, metrics, callbacks, checkpoints, progress, results, curves, model card, storage.

export { Trainer } from './trainer.js';
export type { TrainerOptions, TrainableModel, DataCollator, TrainOutput, PredictionOutput } from './trainer.js';
export { TrainingArguments } from './arguments.js';
export type { TrainingArgumentsInit, IntervalStrategy, SchedulerType } from './arguments.js';
export { loadMetric, combineMetrics, argmaxRows, predictedLabels, ClassCounts } from './metrics.js';
export type { Metric, MetricBatch, MetricName, MetricOptions, Average, EvalPrediction, ComputeMetricsFn, Logits } from './metrics.js';
export { TrainerState } from './state.js';
export { EarlyStoppingCallback } from './callbacks.js';
export type { TrainerCallback, TrainerControl, CallbackContext, EarlyStoppingOptions } from './callbacks.js';
export { listCheckpoints, latestCheckpoint, rotateCheckpoints } from './checkpoints.js';
export type { RngState, LogEntry, TrainerStateJson } from './checkpoint-files.js';
export { renderCurves, CURVES_NAME } from './curves.js';
export { renderModelCard, parseLogHistory } from './model-card.js';
export type { ModelCardOptions } from './model-card.js';
export { Progress, JsonLinesLog, LOG_FILE_NAME } from './progress.js';
export { memoryStorage, setDefaultStorage, defaultStorage } from './storage.js';
export type { TrainerStorage, StorageEntry, StorageLock } from './storage.js';
export { opfsStorage } from './opfs-storage.js';
