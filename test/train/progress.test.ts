// Progress: a redrawn line on a terminal, plain lines elsewhere; the JSON-lines log.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonLinesLog, Progress, formatDuration, formatNumber } from '../../src/train/progress.js';
import { tempDir } from './synthetic.js';

function stream(isTTY: boolean) {
  const out: string[] = [];
  return { out, s: { isTTY, columns: 200, write: (x: string) => out.push(x) } };
}

test('terminal: one line redrawn in place with steps, loss, lr, tokens/s and ETA; messages above it', () => {
  const { out, s } = stream(true);
  const p = new Progress(s);
  p.start(100, 0);
  p.update({ step: 100, loss: 0.51234, learningRate: 2e-5, tokens: 1000 });
  const line = out.join('');
  assert.match(line, /^\r\[#{20}\] 100\/100 \| loss 0\.5123 \| lr 2\.00e-5 \| \d+ tok\/s \| \d+:\d\d<0:00\x1b\[K$/);
  p.log('Saved checkpoint-100');
  assert.is(out.at(-1), 'Saved checkpoint-100\n');
  assert.is(out.at(-2), '\r\x1b[K', 'the bar is cleared before a message');
  p.logStep({ step: 100, learningRate: 0, tokens: 0 });
  assert.is(out.at(-1), 'Saved checkpoint-100\n', 'no plain step lines on a terminal');
});

test('not a terminal (or disableTqdm): no bar, a plain line per logged step', () => {
  for (const [isTTY, disableBar] of [[false, false], [true, true]]) {
    const { out, s } = stream(isTTY);
    const p = new Progress(s, { disableBar });
    p.start(10, 0);
    p.update({ step: 5, loss: 1, learningRate: 0.001, tokens: 10 });
    assert.equal(out, []);
    p.logStep({ step: 5, loss: 1.25, learningRate: 0.001, tokens: 10 });
    assert.match(out[0], /^step 5\/10 \| loss 1\.25 \| lr 0\.001 \| \d+ tok\/s \| \d+:\d\d<\d+:\d\d\n$/);
  }
});

test('formatting helpers', () => {
  assert.is(formatDuration(3725), '1:02:05');
  assert.is(formatDuration(65), '1:05');
  assert.is(formatDuration(NaN), '?');
  assert.is(formatNumber(2.345678), '2.346');
  assert.is(formatNumber(5e-5), '5.00e-5');
});

test('JsonLinesLog appends one object per line with a timestamp', () => {
  const dir = tempDir('jsonl');
  const log = new JsonLinesLog(dir);
  log.write({ loss: 1, step: 1 });
  log.write({ eval_loss: 2, step: 2 });
  const lines = readFileSync(join(dir, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 2);
  assert.is(lines[1].eval_loss, 2);
  assert.type(lines[0].time, 'string');
});

test.run();
