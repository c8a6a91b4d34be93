// The options of tensors, ops and layers as a PyTorch user spells them: requires_grad,
// ignore_index, padding_idx, dim are taken (snake_case, as everywhere in the API); an option the
// engine does not implement (Linear's bias, another softmax axis) or a misspelt one is refused by
// name instead of silently falling back to a default.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, zeros, ones, full, randn, softmax, linear } from '../src/index.js';
import { crossEntropy } from '../src/ops/cross-entropy.js';
import { Embedding } from '../src/nn/embedding.js';
import { Linear } from '../src/nn/linear.js';
import { embedding } from '../src/ops/embedding.js';
import { Dataset, DataCollatorWithPadding, tokenizeDataset } from '../src/data/index.js';
import { BertTokenizer } from '../src/data/tokenizer.js';
import { listRepoFiles, snapshotDownload, pretrainedDir, resolveModelFiles } from '../src/io/hub.js';
import { hubCacheSource } from '../src/node/sources.js';
import { hubWebSource, urlSource } from '../src/io/hub/web.js';
import { resolveSource } from '../src/io/sources.js';
import { setupDevice, assertClose } from './helpers.js';

test.before(setupDevice);

test('tensor creation takes requires_grad as torch spells it, and refuses a misspelt or mistyped option', () => {
  const made = [
    tensor([1, 2], [2], { requires_grad: true }), zeros([2], { requires_grad: true }), ones([2], { requires_grad: true }),
    full([2], 3, { requires_grad: true }), randn([2], { requires_grad: true, seed: 1 }),
  ];
  for (const t of made) assert.ok(t.requiresGrad, 'requiresGrad from requires_grad');
  assert.throws(() => tensor([1], [1], { require_grad: true } as never), /tensor: unknown option 'require_grad'; known options: requiresGrad \(requires_grad\), dtype/);
  assert.throws(() => randn([1], { sd: 2 } as never), /randn: unknown option 'sd'; known options: requiresGrad \(requires_grad\), dtype, seed, std, mean/);
  assert.throws(() => zeros([1], { requiresGrad: 'yes' } as never), /zeros: requiresGrad must be true or false, got "yes"/);
  for (const t of made) t.dispose();
});

test('ops and layers: ignore_index, padding_idx and softmax\'s dim as torch spells them; what is not implemented is refused', async () => {
  const logits = tensor([1, 2, 3, 0.5, -1, 2], [2, 3]);
  const labels = new Int32Array([2, -1]);
  const camel = crossEntropy(logits, labels, { ignoreIndex: -1 });
  const snake = crossEntropy(logits, labels, { ignore_index: -1 });
  assertClose(await snake.toArray(), await camel.toArray(), { atol: 0, rtol: 0 }, 'ignore_index');
  assert.throws(() => crossEntropy(logits, labels, { reduction: 'sum' } as never), /crossEntropy: unknown option 'reduction'; known options: ignoreIndex \(ignore_index\)/);
  const last = softmax(logits);
  assertClose(await softmax(logits, { dim: -1 }).toArray(), await last.toArray(), { atol: 0, rtol: 0 }, 'dim -1');
  assertClose(await softmax(logits, { dim: 1 }).toArray(), await last.toArray(), { atol: 0, rtol: 0 }, 'dim 1 of a rank-2 tensor');
  assert.throws(() => softmax(logits, { dim: 0 }), /softmax: dim 0 is not supported for \[2, 3\]: the last axis only \(-1 or 1\)/);
  assert.is(new Embedding(10, 4, { padding_idx: 0 }).paddingIdx, 0);
  assert.throws(() => new Linear(4, 2, { bias: false } as never), /Linear: unknown option 'bias'; known options: std/);
  const w = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.throws(() => linear(logits, w, undefined, { act: 'gelu' } as never), /linear: unknown option 'act'; known options: activation/);
  for (const t of [logits, camel, snake, last, w]) t.dispose();
});

test('embedding, tokenizeDataset and DataCollatorWithPadding check their options (max_length was silently no limit)', () => {
  const weight = tensor([0, 1, 2, 3, 4, 5], [3, 2]);
  const ids = tensor([2, 0], { dtype: 'int32' });
  assert.throws(() => embedding(ids, weight, { padding_index: 0 } as never), /embedding: unknown option 'padding_index'; known options: paddingIdx \(padding_idx\)/);
  embedding(ids, weight, { padding_idx: 0 }).dispose();
  const tokenizer = BertTokenizer.fromFiles({ vocabTxt: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b'].join('\n') });
  const rows = new Dataset([{ text: 'a b a b a b', label: 0 }]);
  assert.equal(tokenizeDataset(rows, tokenizer, { max_length: 4 }).get(0).inputIds.length, 4, 'max_length as transformers spells it');
  assert.throws(() => tokenizeDataset(rows, tokenizer, { maxlength: 4 } as never), /tokenizeDataset: unknown option 'maxlength'; known options: textColumn \(text_column\), textPairColumn \(text_pair_column\), maxLength \(max_length\)/);
  assert.equal(new DataCollatorWithPadding(tokenizer, { max_length: 5 }).collate([{ text: 'a b a b a b' }]).shape, [1, 5]);
  assert.equal(new DataCollatorWithPadding(tokenizer, { pad_to_multiple_of: 8 }).collate([{ text: 'a b' }]).shape, [1, 8]);
  assert.throws(() => new DataCollatorWithPadding(tokenizer, { pad_to_multiple: 8 } as never), /DataCollatorWithPadding: unknown option 'pad_to_multiple'/);
  assert.throws(() => new DataCollatorWithPadding(tokenizer, { padding: 'left' } as never), /padding must be true, 'longest' or 'max_length', got "left"/);
  for (const t of [weight, ids]) t.dispose();
});

test('the Hub functions and sources refuse a misspelt option (a revison or cache_dri would have read main from the default cache)', async () => {
  const refused = async (what: string, run: () => Promise<unknown> | unknown, pattern: RegExp) => {
    try {
      await run();
      assert.unreachable(`${what}: the misspelt option should be refused`);
    } catch (e) {
      assert.match((e as Error).message, pattern, what);
    }
  };
  await refused('listRepoFiles', () => listRepoFiles('org/model', { revison: 'v1' } as never), /listRepoFiles: unknown option 'revison'; known options: revision, repoType \(repo_type\), endpoint, token, cacheDir \(cache_dir\), offline/);
  await refused('snapshotDownload', () => snapshotDownload('org/model', { allow_patterns: ['*.json'] } as never), /snapshotDownload: unknown option 'allow_patterns'.*files/);
  await refused('pretrainedDir', () => pretrainedDir('org/model', { cache_dri: '/tmp' } as never), /pretrainedDir: unknown option 'cache_dri'/);
  await refused('resolveModelFiles', () => resolveModelFiles('org/model', ['config.json'], { optinal: [] } as never), /resolveModelFiles: unknown option 'optinal'.*optional/);
  await refused('hubCacheSource', () => hubCacheSource('org/model', { local_files_only: true } as never), /hubCacheSource: unknown option 'local_files_only'; known options: revision, endpoint, token, cacheDir \(cache_dir\), offline/);
  await refused('hubWebSource', () => hubWebSource('org/model', { cache: 'x' } as never), /hubWebSource: unknown option 'cache'/);
  await refused('urlSource', () => urlSource('http://127.0.0.1/m', { revision: 'v1' } as never), /urlSource: unknown option 'revision'; known options: cacheName \(cache_name\), offline/);
  await refused('resolveSource', () => resolveSource('org/model', { revison: 'v1' } as never), /hub options: unknown option 'revison'/);
});

test.run();
