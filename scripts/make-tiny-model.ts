// npm run tiny-model -- [--out DIR] [--tokenizer DIR] [--seed N]
//
// Writes a tiny BERT with random weights and bert-base-cased's tokenizer
// (vocabulary 28,996) to weights/tiny-bert-cased: a stand-in for
// bert-base-cased that trains in seconds on a CPU adapter, for trying the
// command line offline (`node dist/train.js --model weights/tiny-bert-cased ...`).

import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { init, closeDevice } from '../src/gpu/device.js';
import { bertConfig } from '../src/models/bert/config.js';
import { BertForMaskedLM } from '../src/models/bert/modeling.js';
import { setInitSeed } from '../src/nn/module.js';
import { TOKENIZER_FILES } from '../src/io/hub.js';
import '../src/node/sources.js'; // fromPretrained and savePretrained on local folders

export async function makeTinyModel(outDir: string, tokenizerDir: string, seed = 0): Promise<void> {
  if (!existsSync(join(tokenizerDir, 'vocab.txt'))) throw new Error(`${tokenizerDir}: no vocab.txt (pass --tokenizer with bert-base-cased's tokenizer files)`);
  await init();
  setInitSeed(seed);
  const model = new BertForMaskedLM(bertConfig({
    vocab_size: 28996, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128,
    max_position_embeddings: 512,
  }));
  await model.savePretrained(outDir);
  await mkdir(outDir, { recursive: true });
  for (const file of TOKENIZER_FILES) {
    if (existsSync(join(tokenizerDir, file))) await copyFile(join(tokenizerDir, file), join(outDir, file));
  }
}

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'weights/tiny-bert-cased' },
    tokenizer: { type: 'string', default: '../shared/models/bert-base-cased' },
    seed: { type: 'string', default: '0' },
  },
});
try {
  await makeTinyModel(resolve(values.out!), resolve(values.tokenizer!), Number(values.seed));
  console.log(`wrote ${values.out}`);
} finally {
  closeDevice();
}
