// Data prepared as a transformers + datasets tutorial prepares it: Dataset.from_dict, ds[i] and
// ds['text'], a batched map of the tokenizer (padded batches cut into rows, or lists per text with
// return_tensor: false), rename_column('label', 'labels') and remove_columns, the tokenizer's
// positional text pair and return_tensors: 'pt', DataCollatorWithPadding({ tokenizer }) reading
// input_ids / attention_mask / labels columns.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DataCollatorWithPadding, Dataset } from '../../src/data/index.js';
import { syntheticTokenizer } from '../train/synthetic.js';

const tokenizer = syntheticTokenizer();
const rows = () => Dataset.from_dict({ text: ['alpha one', 'beta', 'gamma two three'], label: [0, 1, 2] });

test('Dataset.from_dict / from_list, ds[i] and ds[column] as datasets\'; unequal columns refused by name', () => {
  const ds = rows();
  assert.is(ds.num_rows, 3);
  assert.equal(ds[1], { text: 'beta', label: 1 });
  assert.equal(ds['label' as never], [0, 1, 2]);
  assert.equal(Dataset.from_list([{ text: 'a', label: 0 }])[0], { text: 'a', label: 0 });
  assert.throws(() => ds[3], /row 3 is outside the dataset \(length 3\)/, 'past the end: an error, as datasets\' IndexError');
  assert.throws(() => Dataset.from_dict({ text: ['a', 'b'], label: [0] }), /column "label" has 1 values where "text" has 2/);
  assert.throws(() => new Dataset({ text: ['a'] } as never), /expected an array of rows.*Dataset\.from_dict/);
});

test('rename_column, rename_columns, remove_columns and select_columns; an unknown or taken name is refused', () => {
  const ds = new Dataset([{ text: 'a', label: 0 }], { textColumn: 'text', labelColumn: 'label' });
  const renamed = ds.rename_column('label', 'labels');
  assert.equal(renamed[0], { text: 'a', labels: 0 });
  assert.is(renamed.features.labelColumn, 'labels');
  assert.equal(ds.rename_columns({ text: 'sentence', label: 'text' })[0], { sentence: 'a', text: 0 });
  assert.equal(ds.remove_columns('text')[0], { label: 0 });
  assert.equal(ds.remove_columns(['text', 'label'])[0], {});
  assert.equal(ds.select_columns(['label'])[0], { label: 0 });
  assert.throws(() => ds.rename_column('lable', 'labels'), /rename_columns: no column "lable" \(columns: text, label\)/);
  assert.throws(() => ds.rename_column('label', 'text'), /rename_columns: column "text" already exists/);
  assert.throws(() => ds.remove_columns(['txt']), /remove_columns: no column "txt"/);
});

test('a batched map of tokenizer(batch.text, …): a padded batch is cut into rows, return_tensor: false gives a list per text', () => {
  const padded = rows().map((b) => tokenizer(b.text as string[], { padding: true, truncation: true }), { batched: true, batch_size: 2 });
  assert.equal(padded.column_names, ['text', 'label', 'inputIds', 'attentionMask', 'tokenTypeIds']);
  const ids = (text: string) => tokenizer.encode(text);
  // Each map batch padded to its own longest: rows 0 and 1 together, row 2 alone.
  assert.equal(Array.from(padded[1].inputIds as Int32Array), [...ids('beta'), 0]);
  assert.equal(Array.from(padded[1].attentionMask as Int32Array), [1, 1, 1, 0]);
  assert.equal(Array.from(padded[2].inputIds as Int32Array), ids('gamma two three'));
  const lists = rows().map((b) => tokenizer(b.text as string[], { truncation: true, return_tensor: false }), { batched: true });
  assert.equal(lists[0].inputIds, ids('alpha one'));
  assert.equal(lists[1].attentionMask, [1, 1, 1]);
  assert.throws(() => tokenizer(['alpha one', 'beta']), /texts have different lengths .* or returnTensor: false \(return_tensor\) for one list of ids per text/);
});

test('tokenizer(texts, pairs, options), return_tensor: false for one text, return_tensors: \'pt\', convert_ids_to_tokens as transformers\'', () => {
  const pair = tokenizer(['alpha', 'beta'], ['one', 'two'], { padding: true });
  assert.equal(pair.inputIds, tokenizer(['alpha', 'beta'], { text_pair: ['one', 'two'], padding: true }).inputIds);
  assert.equal(Array.from(pair.token_type_ids!.subarray(0, 5)), [0, 0, 0, 1, 1]);
  const one = tokenizer('alpha one', { return_tensor: false });
  assert.equal(one.input_ids, tokenizer.encode('alpha one'));
  assert.equal(tokenizer('alpha', { return_tensors: 'pt' }).inputIds, tokenizer('alpha').inputIds);
  assert.throws(() => tokenizer('alpha', { return_tensors: 'tf' } as never), /returnTensors \(return_tensors\) "tf" is not available: 'pt' or 'np'/);
  assert.throws(() => tokenizer('a', 'b', { text_pair: 'c' } as never), /the text pair given twice/);
  const [cls] = tokenizer.encode('alpha');
  assert.is(tokenizer.convert_ids_to_tokens(cls), '[CLS]');
  assert.equal(tokenizer.convert_ids_to_tokens([cls]), ['[CLS]']);
  assert.is(tokenizer.convert_tokens_to_ids('[CLS]'), cls);
});

test('DataCollatorWithPadding({ tokenizer }) reads input_ids, a row\'s own attention_mask and a labels column, as transformers\'', () => {
  const collator = new DataCollatorWithPadding({ tokenizer, pad_to_multiple_of: 8 });
  const a = tokenizer('alpha one', { return_tensor: false });
  const b = tokenizer('beta', { padding: 'max_length', max_length: 5, return_tensor: false }); // padded when tokenized
  const batch = collator.collate([
    { input_ids: a.input_ids, attention_mask: a.attention_mask, token_type_ids: a.token_type_ids, labels: 2 },
    { input_ids: b.input_ids, attention_mask: b.attention_mask, token_type_ids: b.token_type_ids, labels: 0 },
  ]);
  assert.equal(batch.shape, [2, 8]);
  assert.equal(Array.from(batch.inputIds.subarray(0, 4)), a.input_ids);
  assert.equal(Array.from(batch.attentionMask.subarray(8)), [1, 1, 1, 0, 0, 0, 0, 0], 'the padding of row 1 stays masked');
  assert.equal(Array.from(batch.labels!), [2, 0]);
  assert.equal(Array.from(collator.collate([{ ...a, label_ids: 4 }]).labels!), [4]);
  assert.throws(() => new DataCollatorWithPadding({ tokenizer: 'bert' } as never), /expected a tokenizer .* or \{ tokenizer, \.\.\.options \}/);
  assert.throws(() => new DataCollatorWithPadding({ tokenizer, padding: false } as never), /padding must be true, 'longest' or 'max_length', got false/);
  assert.throws(() => new DataCollatorWithPadding({ tokenizer, pad_to_multiple: 8 } as never), /unknown option 'pad_to_multiple'/);
});

test.run();
