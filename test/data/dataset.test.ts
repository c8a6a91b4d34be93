import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Dataset, loadDataset, permutation, splitFromFileName, type LoadDatasetOptions } from '../../src/data/index.js';
import { MAX_INFERRED_LABELS } from '../../src/data/dataset.js';
import { startHubServer } from '../support/hub-server.js';
import '../../src/node/sources.js'; // loadDataset of paths and Hub ids
import { tempDir } from '../support/temp.js';

/** A fresh folder with these files (relative path -> contents). */
function folder(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir('ds');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

/** The Error message of loadDataset, which must fail. */
async function loadError(source: string | string[], options?: LoadDatasetOptions): Promise<string> {
  try {
    await loadDataset(source, options);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`loadDataset(${source}) should have thrown`);
}

test('split names from file names, as datasets does', () => {
  const cases: [string, string | undefined][] = [
    ['topic_train.csv', 'train'],
    ['topic_valid.csv', 'validation'],
    ['validation.jsonl', 'validation'],
    ['data/dev.csv', 'validation'],
    ['my-val-set.json', 'validation'],
    ['test-00000-of-00001.parquet', 'test'],
    ['train-00000-of-00002.parquet', 'train'],
    ['pretrain.csv', undefined],
    ['contest.csv', undefined],
    ['/tmp/test-run/tweets.csv', undefined], // folders above the file do not count
  ];
  for (const [file, split] of cases) assert.is(splitFromFileName(file), split, file);
});

test('CSV: BOM, CRLF, quoted commas, quotes and newlines, no final newline', async () => {
  const csv = '\ufefftext,label\r\n"Fed holds, rates steady",1\r\n"He said ""buy""",0\r\n"two\nlines",2\r\nplain,3';
  const dir = folder({ 'topic_train.csv': csv, 'topic_valid.csv': 'text,label\nvalid one,0\n' });
  const { train, validation, test: testSplit } = await loadDataset(dir);
  assert.is(testSplit, undefined);
  assert.is(train!.length, 4);
  assert.equal(train!.columnNames, ['text', 'label']);
  assert.equal(train!.column('text'), ['Fed holds, rates steady', 'He said "buy"', 'two\nlines', 'plain']);
  assert.equal(train!.column('label'), [1, 0, 2, 3]); // strings in the file, integers once checked
  assert.is(validation!.length, 1);
  assert.is(validation!.get(0).text, 'valid one');
  assert.is(train!.features.numLabels, 4); // inferred: max label + 1 over all splits
});

test('JSON lines (blank lines, CRLF) and a JSON array; label names map to indices', async () => {
  const dir = folder({
    'train.jsonl': '{"text": "up", "label": "bull"}\r\n\r\n{"text": "down", "label": 0, "extra": true}\r\n',
    'test.json': '[{"text": "flat", "label": 1}]',
  });
  const ds = await loadDataset(dir, { labelNames: ['bear', 'bull'] });
  assert.equal(ds.train!.column('label'), [1, 0]);
  assert.is(ds.train!.get(1).extra, true);
  assert.equal(ds.train!.features.labelNames, ['bear', 'bull']);
  assert.is(ds.train!.features.numLabels, 2);
  assert.is(ds.test!.get(0).text, 'flat');
});

test('Parquet (written by hyparquet-writer): strings, int64 and int32 labels', async () => {
  const train = parquetWriteBuffer({
    columnData: [
      { name: 'text', data: ['alpha', 'beta', 'gamma'], type: 'STRING' },
      { name: 'label', data: [2n, 0n, 1n], type: 'INT64' },
    ],
  });
  const validation = parquetWriteBuffer({
    columnData: [
      { name: 'sentence', data: ['delta'], type: 'STRING' },
      { name: 'y', data: [1], type: 'INT32' },
    ],
  });
  const dir = folder({ 'train-00000-of-00001.parquet': new Uint8Array(train) });
  const ds = await loadDataset(dir, { numLabels: 3 });
  assert.equal(ds.train!.column('text'), ['alpha', 'beta', 'gamma']);
  assert.equal(ds.train!.column('label'), [2, 0, 1]);
  const other = folder({ 'validation.parquet': new Uint8Array(validation) });
  const ds2 = await loadDataset(join(other, 'validation.parquet'), { textColumn: 'sentence', labelColumn: 'y' });
  assert.equal(Object.keys(ds2), ['validation']);
  assert.equal(ds2.validation!.get(0), { sentence: 'delta', y: 1 });
  const bad = folder({ 'train.parquet': new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: ['a', 'b'], type: 'STRING' }, { name: 'label', data: [0n, 7n], type: 'INT64' }] })) });
  assert.match(await loadError(bad, { numLabels: 3 }), /train\.parquet: row 2: label 7 is outside \[0, 3\)/);
});

test('bad data stops the load with the file, row and value', async () => {
  const missingText = folder({ 'train.csv': 'text,label\nok,0\n,1\n' });
  assert.match(await loadError(missingText), /train\.csv: data row 2 \(line 3\): missing text in column text: ""/);
  // A quoted field spanning lines shifts the line numbers of the rows after it.
  const notInteger = folder({ 'train.csv': 'text,label\n"one\ntwo",0\nthree,abc\n' });
  assert.match(await loadError(notInteger), /train\.csv: data row 2 \(line 4\): label "abc" is not an integer/);
  const fraction = folder({ 'train.jsonl': '{"text": "a", "label": 0}\n\n{"text": "b", "label": 1.5}\n' });
  assert.match(await loadError(fraction), /train\.jsonl: line 3: label 1\.5 is not an integer/);
  const outside = folder({ 'train.csv': 'text,label\na,0\nb,20\n' });
  assert.match(await loadError(outside, { numLabels: 20 }), /train\.csv: data row 2 \(line 3\): label 20 is outside \[0, 20\)/);
  const negative = folder({ 'train.csv': 'text,label\na,-1\n' });
  assert.match(await loadError(negative), /label -1 is outside/);
  const nullText = folder({ 'train.jsonl': '{"text": null, "label": 0}\n' });
  assert.match(await loadError(nullText), /train\.jsonl: line 1: missing text in column text: null/);
  const noColumn = folder({ 'train.csv': 'sentence,label\na,0\n' });
  assert.match(await loadError(noColumn), /train\.csv: data row 1 \(line 2\): no column "text" \(columns: sentence, label\)/);
  const brokenCsv = folder({ 'train.csv': 'text,label\na,0,extra\n' });
  assert.match(await loadError(brokenCsv), /train\.csv: Invalid Record Length.*line 2/);
  const brokenJson = folder({ 'train.jsonl': '{"text": "a", "label": 0}\n{"text": \n' });
  assert.match(await loadError(brokenJson), /train\.jsonl: line 2: invalid JSON/);
  const emptySplit = folder({ 'train.csv': 'text,label\na,0\n', 'valid.csv': 'text,label\r\n' });
  assert.match(await loadError(emptySplit), /split validation is empty \(.*valid\.csv\)/);
  const unnamed = folder({ 'train.csv': 'text,label\na,0\n', 'extra.csv': 'text,label\nb,0\n' });
  assert.match(await loadError(unnamed), /cannot tell the split of .*extra\.csv/);
  assert.match(await loadError(join(tmpdir(), 'no-such-dataset-here')), /no-such-dataset-here" is neither a local folder nor a file/);
  assert.match(await loadError(folder({ 'notes.txt': 'x' })), /holds no .csv/);
});

test('a file with no split in its name is train; labelColumn null loads unlabelled text', async () => {
  const dir = folder({ 'tweets.csv': 'text\nhello\nworld\n' });
  const ds = await loadDataset(join(dir, 'tweets.csv'), { labelColumn: null });
  assert.equal(Object.keys(ds), ['train']);
  assert.is(ds.train!.length, 2);
  assert.is(ds.train!.features.numLabels, undefined);
});

/** A Parquet file with these columns (strings, or int64 from bigints). */
function parquet(columns: Record<string, string[] | bigint[]>): Uint8Array {
  const columnData = Object.entries(columns).map(([name, data]) => ({ name, data, type: typeof data[0] === 'bigint' ? 'INT64' as const : 'STRING' as const }));
  return new Uint8Array(parquetWriteBuffer({ columnData }));
}

test('subfolders: split from file names (data/train-00000-of-00001.parquet), else from folder names; hidden and metadata files skipped', async () => {
  const hubLayout = folder({
    'README.md': '---\nconfigs: []\n---\n',
    'data/train-00000-of-00002.parquet': parquet({ text: ['a', 'b'], label: [0n, 1n] }),
    'data/train-00001-of-00002.parquet': parquet({ text: ['c'], label: [1n] }),
    'data/validation-00000-of-00001.parquet': parquet({ text: ['d'], label: [0n] }),
    '.cache/huggingface/train.csv': 'not,a\ndata,file\n',
    'dataset_infos.json': '{"default": {}}',
  });
  const ds = await loadDataset(hubLayout);
  assert.equal(Object.keys(ds).sort(), ['train', 'validation']);
  assert.equal(ds.train!.column('text'), ['a', 'b', 'c']); // shards in name order
  assert.is(ds.validation!.get(0).text, 'd');

  const byFolder = folder({ 'default/train/0000.csv': 'text,label\nx,0\n', 'default/test/0000.csv': 'text,label\ny,1\n' });
  const ds2 = await loadDataset(byFolder);
  assert.equal(ds2.train!.column('text'), ['x']);
  assert.equal(ds2.test!.column('text'), ['y']);

  // Two configurations side by side must not merge into one train split.
  const configs = folder({ 'cola/train.csv': 'text,label\na,0\n', 'sst2/train.csv': 'text,label\nb,1\n' });
  assert.match(await loadError(configs), /has train files in several folders \(cola, sst2\).*several configurations/);
});

test('string labels without labelNames: ids in sorted order, train first, then names only other splits hold', async () => {
  const dir = folder({
    'train.csv': 'text,label\na,neutral\nb,positive\nc,negative\nd,positive\n',
    'valid.csv': 'text,label\ne,mixed\nf,negative\n',
  });
  const ds = await loadDataset(dir);
  const names = ['negative', 'neutral', 'positive', 'mixed'];
  assert.equal(ds.train!.features.labelNames, names);
  assert.is(ds.train!.features.numLabels, 4);
  assert.equal(ds.train!.column('label'), [1, 2, 0, 2]);
  assert.equal(ds.validation!.column('label'), [3, 0]);
  assert.equal(ds.validation!.features.labelNames, names);

  // Declared names fix the order; a name is matched before an integer reading ('1' of ratings named '1'..'3').
  const ratings = folder({ 'train.csv': 'text,label\na,1\nb,3\n' });
  assert.equal((await loadDataset(ratings, { labelNames: ['1', '2', '3'] })).train!.column('label'), [0, 2]);
  assert.equal((await loadDataset(dir, { label_names: ['positive', 'negative', 'neutral', 'mixed'] } as LoadDatasetOptions)).train!.column('label'), [2, 0, 1, 0]);
  assert.match(await loadError(dir, { labelNames: ['positive', 'negative'] }), /train\.csv: data row 1 \(line 2\): label "neutral" is not an integer or a label name/);

  const mixed = folder({ 'train.csv': 'text,label\na,0\nb,positive\n' });
  assert.match(await loadError(mixed), /train\.csv: data row 2 \(line 3\): label "positive" is not an integer, but .*train\.csv: data row 1 \(line 2\) holds the integer 0; .*labelNames/);
  assert.match(await loadError(dir, { numLabels: 3 }), /the labels are 4 distinct names but numLabels is 3/);
  const many = folder({ 'train.csv': `text,label\n${Array.from({ length: MAX_INFERRED_LABELS + 1 }, (_, i) => `t,name${i}`).join('\n')}\n` });
  assert.match(await loadError(many), new RegExp(`data row ${MAX_INFERRED_LABELS + 1} .*label "name${MAX_INFERRED_LABELS}" is the ${MAX_INFERRED_LABELS + 1}th distinct label name.*is label the label column`));
});

test('options: snake_case accepted, an unknown key names itself and the known ones, revision only for the Hub', async () => {
  const dir = folder({ 'train.csv': 'sentence,y\nhello,1\n' });
  const ds = await loadDataset(dir, { text_column: 'sentence', label_column: 'y' } as LoadDatasetOptions);
  assert.equal(ds.train!.features, { textColumn: 'sentence', labelColumn: 'y', numLabels: 2 });
  assert.match(await loadError(dir, { labels: ['a'] } as LoadDatasetOptions), /loadDataset: unknown option 'labels'; known options: textColumn \(text_column\), .*labelNames \(label_names\), revision/);
  assert.match(await loadError(dir, { revision: 'main' }), /revision is for Hub data sets; .* is a local path/);
  assert.match(await loadError([join(dir, 'train.csv')], { revision: 'main' }), /revision is for Hub data sets, not a list of files/);
});

test('a Hub id downloads into the Hub cache (as the CLI) and loads its splits from subfolders', async () => {
  const id = 'zeroshot/twitter-financial-news-topic';
  const commit = '3333333333333333333333333333333333333333';
  const server = await startHubServer([{
    id, type: 'dataset', commit,
    files: {
      'README.md': '# tweets',
      'data/train-00000-of-00001.parquet': parquet({ text: ['Fed holds', 'Acme beats'], label: ['Fed | Central Banks', 'Earnings'] }),
      'data/validation-00000-of-00001.parquet': parquet({ text: ['Oil rises'], label: ['Earnings'] }),
    },
    lfs: ['data/train-00000-of-00001.parquet'],
  }]);
  const home = tempDir('ds-hub');
  const names = ['HF_HOME', 'HF_ENDPOINT', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HUB_OFFLINE', 'HF_TOKEN'];
  const saved = Object.fromEntries(names.map((k) => [k, process.env[k]]));
  for (const k of names) delete process.env[k];
  Object.assign(process.env, { HF_HOME: home, HF_ENDPOINT: server.endpoint });
  try {
    const ds = await loadDataset(id);
    assert.equal(ds.train!.column('text'), ['Fed holds', 'Acme beats']);
    assert.equal(ds.train!.column('label'), [1, 0]);
    assert.equal(ds.train!.features.labelNames, ['Earnings', 'Fed | Central Banks']);
    assert.equal(ds.validation!.column('label'), [0]);
    assert.ok(ds.train!.features.labelNames && server.requests.some((r) => r.url.startsWith(`/api/datasets/${id}/tree/main`)));
    // The same cache the CLI fills: offline, the snapshot is found again.
    process.env.HF_HUB_OFFLINE = '1';
    server.requests.length = 0;
    assert.is((await loadDataset(id, { revision: 'main' })).train!.length, 2);
    assert.is(server.requests.length, 0);
    delete process.env.HF_HUB_OFFLINE;
    assert.match(await loadError('zeroshot/no-such-set'), /^loadDataset: .*zeroshot\/no-such-set.*not found/);
  } finally {
    for (const k of names) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
});

const rows = Array.from({ length: 100 }, (_, i) => ({ text: `t${i}`, label: i % 3 }));

test('shuffle is a seeded permutation: same seed same order, another seed another', () => {
  const ds = new Dataset(rows);
  const a = ds.shuffle({ seed: 42 }).column('text');
  assert.equal(ds.shuffle({ seed: 42 }).column('text'), a);
  assert.not.equal(ds.shuffle({ seed: 43 }).column('text'), a);
  assert.not.equal(a, ds.column('text'));
  assert.equal([...a].sort(), [...ds.column('text')].sort());
  // The order is pinned (splitmix32 Fisher-Yates), so a run reproduces on every platform and version.
  assert.equal([...permutation(10, 0)], [3, 7, 6, 9, 4, 1, 8, 0, 2, 5]);
  assert.equal([...permutation(10, 42)], [9, 4, 1, 6, 3, 7, 5, 0, 8, 2]);
});

test('select, filter, map (row and batched), row access errors', () => {
  const ds = new Dataset(rows, { textColumn: 'text', labelColumn: 'label', numLabels: 3 });
  assert.equal(ds.select([5, 1, 5]).column('text'), ['t5', 't1', 't5']);
  assert.throws(() => ds.select([100]), /row 100 is outside the dataset \(length 100\)/);
  const zeros = ds.filter((r) => r.label === 0);
  assert.is(zeros.length, 34);
  assert.is(zeros.features.numLabels, 3);
  const mapped = ds.map((r, i) => ({ length: r.text.length, index: i }));
  assert.equal(mapped.get(12), { text: 't12', label: 0, length: 3, index: 12 });
  const batched = ds.map((batch, indices) => ({ upper: batch.text.map((t) => t.toUpperCase()), at: indices }), { batched: true, batchSize: 7 });
  assert.equal(batched.get(99), { text: 't99', label: 0, upper: 'T99', at: 99 });
  assert.throws(() => ds.map(() => ({ x: [1] }), { batched: true, batchSize: 10 }), /has 1 values for 10 rows/);
  assert.throws(() => ds.column('nope' as 'text'), /no column "nope"/);
});

test('trainTestSplit: sizes as datasets (ceil of the fraction), disjoint, seeded', () => {
  const ds = new Dataset(rows);
  const { train, test: held } = ds.trainTestSplit({ testSize: 0.15, seed: 1 });
  assert.is(held.length, 15);
  assert.is(train.length, 85);
  const all = new Set([...train.column('text'), ...held.column('text')]);
  assert.is(all.size, 100);
  assert.equal(ds.trainTestSplit({ testSize: 0.15, seed: 1 }).test.column('text'), held.column('text'));
  assert.is(ds.trainTestSplit({ testSize: 10 }).test.length, 10);
  assert.throws(() => ds.trainTestSplit({ testSize: 100 }), /both splits must be non-empty/);
});

test('the datasets spellings: shuffle(42) / shuffle({ seed }), map(fn, { batched, batch_size }), train_test_split({ test_size }), num_rows, column_names; a misspelt option is refused', () => {
  const ds = new Dataset(rows);
  assert.equal(ds.shuffle(42).column('text'), ds.shuffle({ seed: 42 }).column('text'));
  const sizes: number[] = [];
  ds.map((batch) => (sizes.push(batch.text.length), {}), { batched: true, batch_size: 40 });
  assert.equal(sizes, [40, 40, 20]);
  const { train, test: held } = ds.train_test_split({ test_size: 0.2, seed: 3 });
  assert.equal([train.num_rows, held.num_rows], [80, 20]);
  assert.equal(held.column('text'), ds.trainTestSplit({ testSize: 0.2, seed: 3 }).test.column('text'));
  assert.equal(ds.column_names, ['text', 'label']);
  assert.throws(() => ds.shuffle({ sead: 1 } as never), /Dataset\.shuffle: unknown option 'sead'; known options: seed/);
  assert.throws(() => ds.shuffle(1.5), /seed must be an integer/);
  assert.throws(() => ds.map((r) => r, { batchsize: 8 } as never), /Dataset\.map: unknown option 'batchsize'; known options: batched, batchSize \(batch_size\)/);
  assert.throws(() => ds.map((r) => r, { batchSize: 8 } as never), /batchSize without batched: true/);
  assert.throws(() => ds.trainTestSplit({ seed: 1 }), /testSize \(test_size\) is required/);
  assert.throws(() => ds.trainTestSplit({ train_size: 0.8 } as never), /trainTestSplit: unknown option 'train_size'/);
});

test.run();
