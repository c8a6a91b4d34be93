// Bad data files, one table row each: loadDataset must refuse every one with one line naming the
// file and the row or line, column or value at fault; none may hang, allocate without bound or
// be accepted silently.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { loadDataset, MAX_INFERRED_LABELS, type LoadDatasetOptions } from '../../src/data/dataset.js';
import { MAX_TABLE_BYTES } from '../../src/data/loaders.js';
import '../../src/node/sources.js'; // loadDataset of paths and Hub ids
import { tempDir } from '../support/temp.js';

/** What goes in the data folder: text or bytes, or a special file made by a function of its path. */
type Entry = string | Uint8Array | ((path: string) => void);

interface Case {
  name: string;
  files: Record<string, Entry>;
  /** What loadDataset is given, from the data folder (default: the folder). */
  source?: (dir: string) => Parameters<typeof loadDataset>[0];
  options?: LoadDatasetOptions;
  /** The message; `<dir>` stands for the data folder. */
  message: RegExp | ((dir: string) => string);
}

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const parquet = (columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData']) => new Uint8Array(parquetWriteBuffer({ columnData }));
const TOO_LARGE = `is too large to infer the classes from: at most ${MAX_INFERRED_LABELS} \\(labels 0 to ${MAX_INFERRED_LABELS - 1}\\) are inferred from the data; declare the classes with the labelNames or numLabels option`;

const cases: Case[] = [
  // 12: a huge label would size the classifier; declared classes are the way out.
  { name: 'label 99999999 with no label names', files: { 'train.csv': 'text,label\na,0\nb,99999999\n' }, message: new RegExp(`train\\.csv: data row 2 \\(line 3\\): label 99999999 ${TOO_LARGE}$`) },
  { name: 'label past 2^53, as written', files: { 'train.csv': 'text,label\na,9999999999999999999999\n' }, message: new RegExp(`train\\.csv: data row 1 \\(line 2\\): label 9999999999999999999999 ${TOO_LARGE}`) },
  { name: 'label just past the cap', files: { 'train.jsonl': `{"text":"a","label":${MAX_INFERRED_LABELS}}\n` }, message: new RegExp(`train\\.jsonl: line 1: label ${MAX_INFERRED_LABELS} ${TOO_LARGE}`) },
  { name: 'label 1e22 as a JSON number', files: { 'train.jsonl': '{"text":"a","label":0}\n{"text":"b","label":1e22}\n' }, message: /train\.jsonl: line 2: label 1e\+22 is too large/ },
  { name: 'label past 2^53 with numLabels', files: { 'train.csv': 'text,label\na,9999999999999999999999\n' }, options: { numLabels: 3 }, message: /train\.csv: data row 1 \(line 2\): label 9999999999999999999999 is outside \[0, 3\)$/ },
  { name: 'numLabels not a positive integer', files: { 'train.csv': 'text,label\na,0\n' }, options: { numLabels: 2.5 }, message: /^loadDataset: numLabels 2\.5 is not a positive integer$/ },
  { name: 'numLabels NaN', files: { 'train.csv': 'text,label\na,0\n' }, options: { numLabels: NaN }, message: /numLabels NaN is not a positive integer/ },
  { name: 'a label name given twice', files: { 'train.csv': 'text,label\na,bull\n' }, options: { labelNames: ['bear', 'bull', 'bear'] }, message: /^loadDataset: label name "bear" appears twice in labelNames$/ },

  // 14: files that are not regular files, or too large to read whole.
  { name: 'a symlink to /dev/zero', files: { 'train.csv': (p) => symlinkSync('/dev/zero', p) }, message: (dir) => `data set file: ${dir}/train.csv is not a regular file (a FIFO, device or folder cannot be read as one)` },
  { name: 'a FIFO (would hang)', files: { 'train.csv': (p) => execFileSync('mkfifo', [p]) }, source: (dir) => join(dir, 'train.csv'), message: (dir) => `data set file: ${dir}/train.csv is not a regular file (a FIFO, device or folder cannot be read as one)` },
  { name: 'a folder named like a table', files: { 'train.csv': (p) => mkdirSync(p) }, message: /train\.csv is not a regular file/ },
  { name: '/dev/zero as the data set', files: {}, source: () => '/dev/zero', message: /^\/dev\/zero: unknown table format \(expected \.csv, \.jsonl, \.json, \.parquet\)$/ },
  { name: 'a file over the size cap (sparse)', files: { 'train.jsonl': (p) => (writeFileSync(p, ''), truncateSync(p, MAX_TABLE_BYTES + 1)) }, message: new RegExp(`train\\.jsonl is ${MAX_TABLE_BYTES + 1} bytes, over the limit of ${MAX_TABLE_BYTES} bytes`) },

  // 15: bytes that are not UTF-8, and a column named twice.
  { name: 'Latin-1 byte in a CSV', files: { 'train.csv': latin1('text,label\nok,0\ncaf\xe9,1\n') }, message: /train\.csv: line 3: not valid UTF-8 \(byte 0xe9 at offset 19\); save the file as UTF-8$/ },
  { name: 'bad byte after a quoted field spanning lines', files: { 'train.csv': latin1('text,label\n"one\ntwo",0\nthree\xff,1\n') }, message: /train\.csv: line 4: not valid UTF-8 \(byte 0xff/ },
  { name: 'UTF-8 cut off at the end of the file', files: { 'train.csv': latin1('text,label\na,0\n\xe2\x82') }, message: /train\.csv: line 3: not valid UTF-8 \(byte 0xe2 at offset 15\)/ },
  { name: 'bad byte in JSON lines', files: { 'train.jsonl': latin1('{"text":"a","label":0}\n\n{"text":"\xc0\xaf","label":1}\n') }, message: /train\.jsonl: line 3: not valid UTF-8 \(byte 0xc0/ },
  { name: 'bad byte in a JSON array', files: { 'train.json': latin1('[\n{"text":"a","label":0},\n{"text":"\x80","label":1}]') }, message: /train\.json: line 3: not valid UTF-8/ },
  {
    name: 'bad bytes in a Parquet string column',
    files: { 'train.parquet': parquet([{ name: 'text', data: ['ok', new Uint8Array([0x62, 0xff])], type: 'STRING' }, { name: 'label', data: [0, 1], type: 'INT32' }]) },
    message: /train\.parquet: row 2: column text: not valid UTF-8$/,
  },
  {
    name: 'a Parquet byte column (not declared text) as the text',
    files: { 'train.parquet': parquet([{ name: 'text', data: [new Uint8Array([0x62, 0xff])], type: 'BYTE_ARRAY' }, { name: 'label', data: [0], type: 'INT32' }]) },
    message: /train\.parquet: row 1: column text holds 2 bytes, not text$/,
  },
  { name: 'CSV header with a column twice', files: { 'train.csv': 'text,label,label\na,0,1\n' }, message: /train\.csv: column "label" appears twice in the header \(text, label, label\)$/ },
  {
    name: 'Parquet schema with a column twice',
    files: { 'train.parquet': parquet([{ name: 'text', data: ['a'], type: 'STRING' }, { name: 'label', data: [0], type: 'INT32' }, { name: 'label', data: [1], type: 'INT32' }]) },
    message: /train\.parquet: cannot read Parquet: column "label" appears twice in the schema \(text, label, label\)$/,
  },

  // Values of the wrong kind.
  { name: 'a number as the text', files: { 'train.jsonl': '{"text":123,"label":0}\n' }, message: /train\.jsonl: line 1: column text holds 123, not text$/ },
  { name: 'one pretty-printed JSON object', files: { 'train.json': '{\n  "data": [{"text": "a", "label": 0}]\n}\n' }, message: /train\.json: one JSON value over several lines; expected one object per line \(JSON lines\) or an array of objects$/ },
  { name: 'an empty list of files', files: {}, source: () => [], message: /^loadDataset: an empty list of files$/ },
  { name: 'an unknown split name', files: { 'a.csv': 'text,label\na,0\n' }, source: (dir) => ({ train: join(dir, 'a.csv'), dev: join(dir, 'a.csv') }) as Record<string, string>, message: /^loadDataset: unknown split "dev" \(splits: train, validation, test\)$/ },
];

test('each bad data file is refused with the file and the row, line, column or value', async () => {
  for (const c of cases) {
    const dir = tempDir('bad-data');
    for (const [name, entry] of Object.entries(c.files)) {
      const path = join(dir, name);
      if (typeof entry === 'function') entry(path);
      else writeFileSync(path, entry);
    }
    const source = c.source ? c.source(dir) : dir;
    let message: string | undefined;
    try {
      await loadDataset(source, c.options);
    } catch (e) {
      message = (e as Error).message;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(message !== undefined, `${c.name}: loadDataset should have refused it`);
    assert.not.ok(message!.includes('\n'), `${c.name}: one line: ${message}`);
    if (typeof c.message === 'function') assert.is(message, c.message(dir), c.name);
    else assert.match(message!, c.message, `${c.name}: ${message}`);
  }
});

test('declared classes may exceed the inferred cap; labels up to the cap are inferred', async () => {
  const dir = tempDir('labels');
  writeFileSync(join(dir, 'train.csv'), `text,label\na,0\nb,${MAX_INFERRED_LABELS - 1}\n`);
  assert.is((await loadDataset(dir)).train!.features.numLabels, MAX_INFERRED_LABELS);
  writeFileSync(join(dir, 'train.csv'), 'text,label\na,0\nb,15000\n');
  assert.is((await loadDataset(dir, { numLabels: 20_000 })).train!.features.numLabels, 20_000);
});

test.run();
