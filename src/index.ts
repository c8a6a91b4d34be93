// shadergrad's public API.

import { gpu } from './gpu/device.js';

export { init, getDevice, useDevice, closeDevice, hasDevice, gpu, NO_ADAPTER_HELP } from './gpu/device.js';
export type { AdapterDescription } from './gpu/device.js';
export { Runtime, grid } from './gpu/runtime.js';
export type { Param, Binding, DispatchOptions } from './gpu/runtime.js';
export type { Kernel, OverrideConstants } from './gpu/pipelines.js';
export type { PoolStats } from './gpu/pool.js';

export { Tensor, tensor, zeros, ones, full, randn, empty, tidy, keep } from './tensor.js';
export type { DType, TensorOptions } from './tensor.js';
export { noGrad, isGradEnabled, record } from './autograd.js';
export type { GradFn } from './autograd.js';

export { add, mul, scale } from './ops/elementwise.js';
export { sum, mean } from './ops/reduce.js';
export { reshape, permute, transpose } from './ops/shape.js';
export { matmul, linear } from './ops/matmul.js';
export type { MatmulOptions } from './ops/matmul.js';
export { embedding } from './ops/embedding.js';
export type { EmbeddingOptions } from './ops/embedding.js';
export { layerNorm, addLayerNorm } from './ops/layernorm.js';
export { gelu, tanh } from './ops/activation.js';
export { select, slice } from './ops/slice.js';

/** Pending GPU work submitted, resolved when it has finished. */
export async function flush(): Promise<void> {
  await gpu().sync();
}

// Modules, models, optimizers.
export { Module, Linear, LayerNorm, Embedding, Dropout, DropoutRng, setInitSeed } from './nn/index.js';
export { BertModel, BertForSequenceClassification, BertForMaskedLM } from './models/bert.js';
export type { BertInputs, BertOutput, BertLoadOptions } from './models/bert.js';
export { AdamW, hfParameterGroups, clipGradNorm, linearSchedule, cosineSchedule, constantSchedule, constantScheduleWithWarmup, getScheduler, applySchedule } from './optim/index.js';
export type { AdamWOptions, ParamGroup, AdamWState, Schedule, ScheduleName, ScheduleOptions } from './optim/index.js';

// Checkpoints and the Hugging Face Hub.
export { readSafetensors, writeSafetensors, toFloat64, toInt32, halfToFloat } from './io/safetensors.js';
export type { SafetensorsFile, SafetensorsTensor, SafetensorsDType, TensorData } from './io/safetensors.js';
export { parseBertConfig, serializeBertConfig, bertConfig, BERT_DEFAULTS } from './io/config.js';
export type { BertConfig } from './io/config.js';
export { loadCheckpoint, saveCheckpoint, matchWeights, describeMatch, normalizeName } from './io/checkpoint.js';
export type { Checkpoint, WeightTensor, WeightMatch } from './io/checkpoint.js';
export { resolveModelFiles, resolvePretrainedFiles, pretrainedDir, snapshotDownload, listRepoFiles, hubCacheDir } from './io/hub.js';
export type { HubOptions, DownloadProgress, RepoType } from './io/hub.js';

// Text in: tokenizer, datasets, dynamic padding.
export { AutoTokenizer, BertTokenizer, Dataset, loadDataset, DataCollatorWithPadding, tokenizeDataset } from './data/index.js';
export type { BatchEncoding, EncodeOptions, EncodedText, TextInput, Features, LoadDatasetOptions, Row, SplitName, Batch, TokenizedRow } from './data/index.js';

// Training.
export { Trainer, TrainingArguments, TrainerState, loadMetric, combineMetrics, listCheckpoints, latestCheckpoint, renderModelCard } from './train/index.js';
export type { TrainerOptions, TrainableModel, DataCollator, TrainOutput, PredictionOutput, TrainingArgumentsInit, IntervalStrategy, SchedulerType, Metric, MetricName, TrainerCallback, TrainerControl, CallbackContext, LogEntry, ModelCardOptions } from './train/index.js';

// Inference.
export { pipeline, TextClassificationPipeline, FillMaskPipeline } from './pipelines/index.js';
export type { ClassificationResult, FillMaskResult, TextClassifier, MaskFiller } from './pipelines/index.js';
