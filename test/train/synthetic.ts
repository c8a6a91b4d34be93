// Test material for the Trainer that needs nothing from ../shared: a small
// WordPiece vocabulary, a classification data set whose label can be read off
// its keywords (so a tiny BERT learns it in a few dozen steps), and tiny BERT
// configs.

import { splitmix32 } from '../../src/tensor.js';
import { BertTokenizer } from '../../src/data/tokenizer.js';
import { Dataset, type Row } from '../../src/data/dataset.js';
import { bertConfig, type BertConfig } from '../../src/models/bert/config.js';
import { registerNodeTrainer } from '../../src/node/trainer-storage.js';

// These tests import src/train/ directly, not the Node entry: register its file storage as src/index.ts does.
registerNodeTrainer();

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
/** Filler words, shared by every class. */
const FILLER = ['the', 'a', 'market', 'today', 'shares', 'report', 'says', 'new', 'after', 'week', 'stock', 'price', 'of', 'in', 'on', 'for'];
/** Two keywords per class: a row of class c contains one of them. */
const KEYWORDS = [
  ['dividend', 'payout'], ['earnings', 'profit'], ['oil', 'crude'], ['gold', 'silver'],
  ['merger', 'acquisition'], ['fed', 'rates'], ['ipo', 'listing'], ['ceo', 'appointed'],
];
export const SYNTHETIC_LABELS = ['Dividend', 'Earnings', 'Energy', 'Metals', 'M&A', 'Fed', 'IPO', 'Personnel'];

/** A lower-casing WordPiece tokenizer over the words above (vocab.txt path of BertTokenizer). */
export function syntheticTokenizer(): BertTokenizer {
  return BertTokenizer.fromFiles({ vocabTxt: SYNTHETIC_VOCAB_TXT, tokenizerConfig: SYNTHETIC_TOKENIZER_CONFIG, name: 'synthetic' });
}

/** The synthetic tokenizer as files (vocab.txt, tokenizer_config.json), for a model folder on disk. */
export const SYNTHETIC_VOCAB_TXT = `${[...SPECIAL, ...FILLER, ...KEYWORDS.flat()].join('\n')}\n`;
export const SYNTHETIC_TOKENIZER_CONFIG = { do_lower_case: true, model_max_length: 64 };

/** `n` rows {text, label}: 3-8 filler words with one keyword of the label's class at a random place. */
export function syntheticRows(n: number, seed: number, numLabels = KEYWORDS.length): { text: string; label: number }[] {
  const next = splitmix32(seed);
  const pick = (k: number) => Math.floor((next() / 4294967296) * k);
  return Array.from({ length: n }, () => {
    const label = pick(numLabels);
    const words = Array.from({ length: 3 + pick(6) }, () => FILLER[pick(FILLER.length)]);
    words.splice(pick(words.length + 1), 0, KEYWORDS[label][pick(2)]);
    return { text: words.join(' '), label };
  });
}

/** Rows tokenized once (inputIds, tokenTypeIds added), as tokenizeDataset does. */
export function syntheticDataset(n: number, seed: number, tokenizer: BertTokenizer, numLabels = KEYWORDS.length): Dataset<Row> {
  const rows = syntheticRows(n, seed, numLabels).map((r) => ({ ...r, ...tokenizer.encodeOne(r.text, { truncation: true, maxLength: 32 }) }));
  return new Dataset<Row>(rows, { textColumn: 'text', labelColumn: 'label', numLabels, labelNames: SYNTHETIC_LABELS.slice(0, numLabels) });
}

/** A tiny BERT config: H 16, 1 layer, 2 heads. */
export function tinyConfig(vocabSize: number, numLabels: number, dropout = 0.1): BertConfig {
  return bertConfig({
    vocab_size: vocabSize, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
    max_position_embeddings: 64, num_labels: numLabels, hidden_dropout_prob: dropout, attention_probs_dropout_prob: dropout,
  });
}

// tempDir: test/support/temp.ts, here too for the tests that take it with the synthetic data.
export { tempDir } from '../support/temp.js';
