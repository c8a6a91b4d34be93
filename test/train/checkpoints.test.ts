// Checkpoint folders: atomic folders (atomic files: test/io/checkpoint.test.ts), listing, rotation that keeps the best.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { latestCheckpoint, listCheckpoints, rotateCheckpoints, saveCheckpointFolder } from '../../src/train/checkpoints.js';
import { tempDir } from './synthetic.js';

test('saveCheckpointFolder builds checkpoint-<step>.tmp and renames it; a failed write leaves nothing', async () => {
  const out = tempDir('folder');
  let seenTmp = '';
  const path = await saveCheckpointFolder(out, 7, (dir) => {
    seenTmp = dir;
    writeFileSync(join(dir, 'f'), 'x');
  });
  assert.is(seenTmp, join(out, 'checkpoint-7.tmp'));
  assert.is(path, join(out, 'checkpoint-7'));
  assert.equal(readdirSync(out), ['checkpoint-7']);
  try {
    await saveCheckpointFolder(out, 8, () => {
      throw new Error('disk full');
    });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, 'disk full');
  }
  assert.equal(readdirSync(out), ['checkpoint-7']);
});

test('listCheckpoints sorts by step and ignores .tmp leftovers; latestCheckpoint', () => {
  const out = tempDir('list');
  for (const name of ['checkpoint-10', 'checkpoint-9', 'checkpoint-100', 'checkpoint-200.tmp', 'other']) mkdirSync(join(out, name));
  assert.equal(listCheckpoints(out).map((c) => c.step), [9, 10, 100]);
  assert.is(latestCheckpoint(out), join(out, 'checkpoint-100'));
  assert.is(latestCheckpoint(join(out, 'nothing')), null);
});

test('rotateCheckpoints keeps the newest `limit` and never the best', () => {
  const out = tempDir('rotate');
  for (const s of [1, 2, 3, 4, 5]) mkdirSync(join(out, `checkpoint-${s}`));
  const best = join(out, 'checkpoint-2');
  rotateCheckpoints(out, 2, best);
  assert.equal(listCheckpoints(out).map((c) => c.step), [2, 5]);
  // limit 1 with a best that is not the newest keeps both, so training can resume.
  rotateCheckpoints(out, 1, best);
  assert.equal(listCheckpoints(out).map((c) => c.step), [2, 5]);
  rotateCheckpoints(out, 1, null);
  assert.equal(listCheckpoints(out).map((c) => c.step), [5]);
  assert.ok(!existsSync(best));
  assert.equal(rotateCheckpoints(out, null), []);
});

test.run();
