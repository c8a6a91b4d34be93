import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer, DataCollatorWithPadding, Dataset, loadDataset, tokenizeDataset, type BertTokenizer } from '../../src/data/index.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders
import { tempDir } from '../support/temp.js';

const SHARED = fileURLToPath(new URL('../../../shared', import.meta.url));
const BERT_CASED = join(SHARED, 'models/bert-base-cased');
const TWEETS = join(SHARED, 'data/twitter-financial-news-topic');

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b', 'c', 'd', 'e'];
const id = (token: string) => VOCAB.indexOf(token);
const [PAD, CLS, SEP] = [id('[PAD]'), id('[CLS]'), id('[SEP]')];

async function tinyTokenizer(): Promise<BertTokenizer> {
  const dir = join(tempDir('collate'), 'tiny-uncased');
  mkdirSync(dir);
  writeFileSync(join(dir, 'vocab.txt'), VOCAB.join('\n'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 6 }));
  return AutoTokenizer.fromPretrained(dir);
}

test('tokenizeDataset: once, truncated to maxLength, unpadded', async () => {
  const tok = await tinyTokenizer();
  const ds = new Dataset([{ text: 'a', label: 1 }, { text: 'a b c d e a b c', label: 0 }], { textColumn: 'text' });
  const tokenized = tokenizeDataset(ds, tok); // maxLength defaults to model_max_length 6
  assert.equal([...tokenized.get(0).inputIds], [CLS, id('a'), SEP]);
  assert.equal([...tokenized.get(1).inputIds], [CLS, id('a'), id('b'), id('c'), id('d'), SEP]);
  assert.is(tokenized.get(1).label, 0);
  assert.is(tokenizeDataset(ds, tok, { maxLength: 4 }).get(1).inputIds.length, 4);
});

test('collate pads to the longest row of the batch, not to maxLength', async () => {
  const tok = await tinyTokenizer();
  const ds = tokenizeDataset(new Dataset([{ text: 'a b', label: 2 }, { text: 'c', label: 0 }, { text: 'd e a', label: 1 }]), tok);
  const collator = new DataCollatorWithPadding(tok, { maxLength: 6 });
  const batch = collator.collate([ds.get(0), ds.get(1)]);
  assert.equal(batch.shape, [2, 4]);
  assert.equal([...batch.inputIds], [CLS, id('a'), id('b'), SEP, CLS, id('c'), SEP, PAD]);
  assert.equal([...batch.attentionMask], [1, 1, 1, 1, 1, 1, 1, 0]);
  assert.equal([...batch.tokenTypeIds], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.ok(batch.labels instanceof Int32Array);
  assert.equal([...batch.labels!], [2, 0]);
  assert.equal(collator.collate([ds.get(2)]).shape, [1, 5]);
});

test("collate with padding 'max_length' pads every batch to maxLength, as the seed does", async () => {
  const tok = await tinyTokenizer();
  const ds = tokenizeDataset(new Dataset([{ text: 'a b', label: 2 }, { text: 'c', label: 0 }]), tok);
  const batch = new DataCollatorWithPadding(tok, { maxLength: 6, padding: 'max_length' }).collate([ds.get(0), ds.get(1)]);
  assert.equal(batch.shape, [2, 6]);
  assert.equal([...batch.inputIds], [CLS, id('a'), id('b'), SEP, PAD, PAD, CLS, id('c'), SEP, PAD, PAD, PAD]);
  assert.equal([...batch.attentionMask], [1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0]);
});

test('collate tokenizes text rows itself, pairs included; unlabelled rows give no labels', async () => {
  const tok = await tinyTokenizer();
  const pairs = new DataCollatorWithPadding(tok, { textColumn: 'q', textPairColumn: 'p' });
  const batch = pairs.collate([{ q: 'a', p: 'b c' }, { q: 'd', p: 'e' }]);
  assert.equal(batch.shape, [2, 6]);
  assert.equal([...batch.inputIds], [CLS, id('a'), SEP, id('b'), id('c'), SEP, CLS, id('d'), SEP, id('e'), SEP, PAD]);
  assert.equal([...batch.tokenTypeIds], [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0]);
  assert.is(batch.labels, undefined);
  // Texts longer than maxLength are truncated to it.
  const short = new DataCollatorWithPadding(tok, { maxLength: 4 });
  assert.equal(short.collate([{ text: 'a b c d e' }]).shape, [1, 4]);
});

test('collate and tokenizeDataset reject bad rows, naming the row: empty batch, over-long, bad label, no text', async () => {
  const tok = await tinyTokenizer();
  const collator = new DataCollatorWithPadding(tok, { maxLength: 4 });
  assert.throws(() => collator.collate([]), /empty batch/);
  assert.throws(() => collator.collate([{ inputIds: [CLS, 5, 6, 7, SEP] }]), /row 0 of the batch has 5 tokens, more than maxLength 4/);
  assert.throws(() => collator.collate([{ text: 'a', label: 0 }, { text: 'b', label: '1' }]), /row 1 of the batch has label "1", not a 32-bit integer/);
  // Int32Array would wrap 2^31 to -2^31 without a word.
  assert.throws(() => collator.collate([{ text: 'a', label: 2 ** 31 }]), /row 0 of the batch has label 2147483648, not a 32-bit integer/);
  assert.throws(() => collator.collate([{ text: 'a' }, { text: 7 }]), /^DataCollatorWithPadding: row 1 of the batch has no text in column "text": 7$/);
  assert.throws(() => tokenizeDataset(new Dataset([{ text: 'a' }, { sentence: 'b' }]), tok), /^tokenizeDataset: row 1 has no text in column "text": undefined$/);
});

if (existsSync(BERT_CASED) && existsSync(TWEETS)) {
  test('tweets: shuffled batches of 32 are padded to a few dozen tokens, not 512', async () => {
    const tok = await AutoTokenizer.fromPretrained(BERT_CASED);
    const { validation } = await loadDataset(TWEETS);
    const tokenized = tokenizeDataset(validation!.shuffle({ seed: 0 }).select(Array.from({ length: 320 }, (_, i) => i)), tok, { maxLength: 128 });
    const collator = new DataCollatorWithPadding(tok, { maxLength: 128 });
    let width = 0;
    for (let start = 0; start < tokenized.length; start += 32) {
      const rows = Array.from({ length: 32 }, (_, i) => tokenized.get(start + i));
      const batch = collator.collate(rows);
      const longest = Math.max(...rows.map((r) => r.inputIds.length));
      assert.equal(batch.shape, [32, longest]);
      assert.is(batch.labels!.length, 32);
      width += longest / 10;
    }
    assert.ok(width < 128, `mean padded width ${width}`);
  });
} else {
  console.log(`SKIPPED collator on the tweets: ${BERT_CASED} or ${TWEETS} is absent (../shared is not beside this checkout)`);
  test.skip('tweets: shuffled batches padded to their longest (needs ../shared)', () => {});
}

test.run();
