// shadergrad's public API in Node: everything the browser entry has, plus
// Hugging Face folders and the Hub, datasets from files, and the Trainer.

export * from './browser.js';
export { nodeTuningStore } from './node/tuning-store.js';

// Checkpoints and the Hugging Face Hub.
export { toFloat64, toInt32, halfToFloat } from './io/safetensors.js';
export type { SafetensorsFile, SafetensorsTensor, SafetensorsDType, TensorData } from './io/safetensors.js';
export { BERT_DEFAULTS } from './io/config.js';
export { loadCheckpoint, saveCheckpoint, matchWeights, describeMatch, normalizeName } from './io/checkpoint.js';
export type { Checkpoint, WeightTensor, WeightMatch } from './io/checkpoint.js';
export { resolveModelFiles, resolvePretrainedFiles, pretrainedDir, snapshotDownload, listRepoFiles, hubCacheDir } from './io/hub.js';
export type { HubOptions, DownloadProgress, RepoType } from './io/hub.js';
export type { BertLoadOptions } from './models/bert.js';

// Text in: tokenizer, datasets, dynamic padding.
export { AutoTokenizer, Dataset, loadDataset, DataCollatorWithPadding, tokenizeDataset } from './data/index.js';
export type { FromPretrainedOptions } from './data/tokenizer.js';
export type { EncodedText, TextInput, Features, LoadDatasetOptions, Row, SplitName, Batch, TokenizedRow } from './data/index.js';

// Training.
export { Trainer, TrainingArguments, TrainerState, loadMetric, combineMetrics, listCheckpoints, latestCheckpoint, renderModelCard } from './train/index.js';
export type { TrainerOptions, TrainableModel, DataCollator, TrainOutput, PredictionOutput, TrainingArgumentsInit, IntervalStrategy, SchedulerType, Metric, MetricName, TrainerCallback, TrainerControl, CallbackContext, LogEntry, ModelCardOptions } from './train/index.js';
export { TextClassificationPipeline, FillMaskPipeline } from './pipelines/index.js';
export type { TextClassifier, MaskFiller } from './pipelines/index.js';
