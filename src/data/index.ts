// Text in: tokenizer, datasets, dynamic padding.

export { AutoTokenizer, BertTokenizer, padBatch } from './tokenizer.js';
export { wordPieceTokenizerJson } from './tokenizer-json.js';
export type { BatchEncoding, EncodeOptions, EncodedText, FromPretrainedOptions, TextInput, TokenizerFiles } from './tokenizer.js';
export { Dataset, loadDataset, permutation, shuffledSubset, splitFromFileName } from './dataset.js';
export type { Features, LoadDatasetOptions, Row, SplitName } from './dataset.js';
export { lengthGroupedPermutation, rowLengths } from './sampler.js';
export { parseTable, parseCsvTable, parseJsonTable, parseParquet } from './loaders.js';
export type { Table } from './loaders.js';
export { DataCollatorWithPadding, tokenizeDataset } from './collator.js';
export type { Batch, CollatorOptions, TextColumns, TokenizedRow } from './collator.js';
