// shadergrad for browsers: everything that runs on `navigator.gpu`, with no Node module in
// its import graph. Models and tokenizers load from the Hub's resolve URLs or any folder URL
// (kept in Cache Storage, CACHE_NAME) and from files the user picks (a FileList from
// <input webkitdirectory>, File[], a FileSystemDirectoryHandle). The Node entry (src/index.ts)
// adds local folders, the Hugging Face cache, datasets from files and the Trainer.

import { gpu } from './gpu/device.js';
import { registerSourceResolver } from './io/sources.js';
import { webSourceResolver } from './io/hub/web.js';

registerSourceResolver(webSourceResolver, { fallback: true });

// The device and the extension API, for other WebGPU programs and one's own ops
// (examples/custom-op/). The device: init() or getDevice() opens the engine's own;
// useDevice(device) runs the engine on one another program created. Buffers are shared
// through t.buffer, whose data starts at t.byteOffset (a parameter an optimizer holds is a
// view in its arena's larger buffer): gpu().copy(theirs, t.buffer, bytes, 0, t.byteOffset) records a copy ordered with the
// engine's dispatches; gpu().flush() submits what the engine recorded, so the other
// program's later submissions see it (flush() also waits for it). Host arrays go up with
// gpu().upload(data, buffer), or several through one staging buffer with
// gpu().uploadAll([{ data, target, offset }, …]); gpu().clear(buffer, offset, bytes) zeroes with
// nothing uploaded; gpu().countsSince(before), before = gpu().counts(), tells what was
// recorded and submitted in between (dispatches, uploads, copies, readbacks, submissions). A kernel:
// defineKernel({ shader, code, entryPoint, storage, uniforms, workgroupSize }) declares its
// contract (`code`: its own WGSL), checkKernelContract(kernel) holds it against that WGSL,
// gpu().dispatch(kernel, { bindings: [t.binding, …], params, invocations }) records it
// (`elements: n` instead for a grid-stride kernel, which CPU drivers run faster). An
// op: its forward allocates with empty() and dispatches; record(out, name, inputs, backward,
// saved, { readsOnlySaved }) attaches its backward (readsOnlySaved: it reads only its saved
// handles, so the graph may free the inputs early); tidy() and keep() scope what it creates.
export { init, getDevice, useDevice, closeDevice, hasDevice, gpu, NO_ADAPTER_HELP, NO_BROWSER_WEBGPU_HELP, NO_DAWN_HELP } from './gpu/device.js';
export type { AdapterDescription } from './gpu/device.js';
export { Runtime, grid } from './gpu/runtime.js';
export type { Binding, DispatchOptions, RuntimeCounts, UploadPart } from './gpu/runtime.js';
export { defineKernel } from './gpu/pipelines.js';
export type { Kernel, OverrideConstants, UniformFields, UniformType, UniformValues, WorkgroupSize } from './gpu/pipelines.js';
export { checkKernelContract } from './gpu/contracts.js';
export type { PoolStats } from './gpu/pool.js';

/** Submits pending GPU work and resolves when it has finished. */
export async function flush(): Promise<void> {
  await gpu().sync();
}

export { Tensor, tensor, zeros, ones, full, randn, empty, tidy, keep } from './tensor.js';
export type { DType, TensorOptions, RandnOptions } from './tensor.js';
export { noGrad, isGradEnabled, record } from './autograd.js';
export type { GradFn } from './autograd.js';
// The extension API ends here; the library's ops, models and tools follow.

export { add, mul, scale } from './ops/elementwise.js';
export { sum, mean } from './ops/sum.js';
export type { ReduceOptions } from './ops/sum.js';
export { reshape, permute, transpose } from './ops/shape.js';
export { matmul, linear } from './ops/matmul.js';
export type { MatmulOptions, MatmulVariant } from './ops/matmul.js';
export { setMatmulVariant, tuneMatmul, matmulVariant, matmulVariantSupported, MATMUL_VARIANTS } from './ops/matmul.js';
export { autocast, castToF16 } from './ops/cast.js';
export type { AutocastOptions } from './ops/cast.js';
export { setTuningStore, clearTuning } from './gpu/autotune.js';
export type { TuningStore } from './gpu/autotune.js';
export { browserTuningStore, BROWSER_TUNING_KEY } from './gpu/browser-tuning-store.js';
export { embedding } from './ops/embedding.js';
export type { EmbeddingOptions } from './ops/embedding.js';
export { layerNorm, addLayerNorm } from './ops/layernorm.js';
export { gelu, tanh } from './ops/activation.js';
export type { GeluOptions } from './ops/activation.js';
export { select, slice } from './ops/slice.js';
export { softmax } from './ops/softmax.js';
export { argmax } from './ops/argmax.js';
export type { ArgmaxOptions } from './ops/argmax.js';
export type { SoftmaxOptions } from './ops/softmax.js';
export { dropout } from './ops/dropout.js';
export type { DropoutOptions } from './ops/dropout.js';
export { crossEntropy } from './ops/cross-entropy.js';
export type { CrossEntropyOptions } from './ops/cross-entropy.js';
export { attention, multiHeadAttention } from './ops/attention.js';
export type { AttentionOptions } from './ops/attention.js';
export { headsMajor, tokenMajor } from './ops/heads.js';
export type { HeadsLayout, HeadsShape } from './ops/heads.js';

export { Module, Linear, LayerNorm, Embedding, Dropout, DropoutRng, setInitSeed } from './nn/index.js';
export { BertModel, BertForSequenceClassification, BertForMaskedLM } from './models/bert/modeling.js';
export { AutoModel, AutoModelForSequenceClassification, AutoModelForMaskedLM } from './models/auto.js';
export type { BertInputs, BertInputsSnakeCase, InputValues, BertOutput } from './models/bert/modeling.js';
export { AdamW, hfParameterGroups, clipGradNorm, linearSchedule, cosineSchedule, constantSchedule, constantScheduleWithWarmup, getScheduler, applySchedule, LambdaLR, get_scheduler, get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup, get_constant_schedule_with_warmup } from './optim/index.js';
export type { AdamWOptions, ParamGroup, AdamWState, Schedule, ScheduleName, ScheduleOptions, ScheduledOptimizer } from './optim/index.js';
export { GradScaler } from './optim/index.js';
export type { GradScalerOptions, GradScalerState, ScaledOptimizer } from './optim/index.js';

export { readSafetensors, writeSafetensors } from './io/safetensors.js';
export { parseBertConfig, serializeBertConfig, bertConfig } from './models/bert/config.js';
export type { BertConfig } from './models/bert/config.js';
export type { BertLoadOptions } from './models/bert/modeling.js';
export type { PretrainedLoadOptions, WeightLoadOptions } from './models/pretrained.js';
export { pickedFilesSource, directoryHandleSource } from './io/sources.js';
export type { FileSource, FileTarget, ModelLocation, PickedFile, DirectoryHandle, SourceOptions } from './io/sources.js';
export { hubWebSource, urlSource, CACHE_NAME } from './io/hub/web.js';
export type { WebSourceOptions } from './io/hub/web.js';
export { BertTokenizer } from './data/tokenizer.js';
export { AutoTokenizer } from './data/tokenizer.js';
export type { FromPretrainedOptions } from './data/tokenizer.js';
export type { BatchEncoding, EncodeOptions, TokenizerFiles, TokenizerCallOptions, TokenizerOutput, DecodeOptions, TokenizeOptions } from './data/tokenizer.js';
export type { WithSnakeCase } from './options.js';
export { pipeline, TextClassificationPipeline, FillMaskPipeline, FeatureExtractionPipeline } from './pipelines/index.js';
export type { TextClassifier, MaskFiller, FeatureExtractor, PipelineParts } from './pipelines/index.js';

// Data and training: loadDataset takes picked File objects here (paths and Hub ids in Node);
// the Trainer keeps its files in memoryStorage() or opfsStorage() (the file system in Node).
export { Dataset, loadDataset, DataCollatorWithPadding, tokenizeDataset, parseTable } from './data/index.js';
export type { EncodedText, TextInput, Features, LoadDatasetOptions, Row, SplitName, Batch, TokenizedRow } from './data/index.js';
export { Trainer, TrainingArguments, TrainerState, EarlyStoppingCallback, loadMetric, combineMetrics, predictedLabels, listCheckpoints, latestCheckpoint, renderModelCard, memoryStorage, opfsStorage } from './train/index.js';
export type { TrainerOptions, TrainableModel, DataCollator, TrainOutput, PredictionOutput, TrainingArgumentsInit, IntervalStrategy, SchedulerType, Metric, MetricName, TrainerCallback, TrainerControl, CallbackContext, LogEntry, ModelCardOptions, TrainerStorage } from './train/index.js';
export type { ClassificationResult, FillMaskResult, PipelineOptions, PipelineLoadOptions, PipelineDType, TextClassificationOptions, FillMaskOptions, FeatureExtractionOptions, FeatureExtractionOutput } from './pipelines/index.js';
