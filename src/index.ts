// shadergrad's public API in Node: everything the browser entry has, plus
// Hugging Face folders and the Hub, datasets from files, and the Trainer.

// The browser entry's names, the extension API among them (its first block: defineKernel,
// checkKernelContract, gpu().dispatch, record, useDevice, t.buffer and t.byteOffset; see examples/custom-op/).
export * from './browser.js';
// After the browser entry: Node's loaders (local folders, the Hugging Face cache) are tried before its fetch source.
import './node/sources.js';
export { nodeTuningStore } from './node/tuning-store.js';
import { registerNodeTrainer } from './node/trainer-storage.js';

// The Trainer's default storage in Node: the file system (elsewhere: memory, or opfsStorage()).
registerNodeTrainer();
export { nodeStorage } from './node/trainer-storage.js';

// Checkpoints and the Hugging Face Hub.
export { toFloat64, toInt32, halfToFloat } from './io/safetensors.js';
export type { SafetensorsFile, SafetensorsTensor, SafetensorsDType, TensorData } from './io/safetensors.js';
export { BERT_DEFAULTS } from './models/bert/config.js';
export { loadCheckpoint, saveCheckpoint } from './models/bert/checkpoint.js';
export type { Checkpoint } from './models/bert/checkpoint.js';
export { matchWeights, describeMatch } from './models/weights.js';
export type { WeightMatch } from './models/weights.js';
export { normalizeName } from './io/checkpoint.js';
export type { WeightTensor } from './io/checkpoint.js';
export { folderSource, folderTarget, hubCacheSource } from './node/sources.js';
export { resolveModelFiles, resolvePretrainedFiles, pretrainedDir, snapshotDownload, listRepoFiles, hubCacheDir } from './io/hub.js';
export type { HubOptions, DownloadProgress, RepoType } from './io/hub.js';

// Data and training: in the browser entry (above); in Node loadDataset also reads folders, files and Hub ids.
