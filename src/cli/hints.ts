// What to do next, added to errors the command line meets: the Hub out of
// reach (train from local folders), worded for a clone of the repository or
// for the installed package.

import { inRepository, programName } from './help.js';

/** For a failure to fetch --model or --dataset from the Hub. */
export function offlineHint(): string {
  const tinyModel = inRepository()
    ? '`npm run tiny-model` writes weights/tiny-bert-cased (a tiny random BERT with bert-base-cased\'s tokenizer), then ' +
      `\`${programName()} --model weights/tiny-bert-cased --dataset <folder>\``
    : `\`${programName()} --model <folder> --dataset <folder>\` (a model folder with config.json, model.safetensors and tokenizer files)`;
  return (
    `Without the Hub, train from local folders: ${tinyModel}; --dataset takes a folder or comma-separated files ` +
    '(CSV, JSON lines or Parquet, splits named train/validation/test). Files already in the Hub cache load with HF_HUB_OFFLINE=1.'
  );
}
