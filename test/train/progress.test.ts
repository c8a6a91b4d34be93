// Progress: a redrawn line on a terminal (and one for evaluation), plain lines elsewhere; the JSON-lines log.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HEARTBEAT_MS, JsonLinesLog, Progress, formatDuration, formatNumber } from '../../src/train/progress.js';
import { tempDir } from './synthetic.js';

function stream(isTTY: boolean, columns = 200) {
  const out: string[] = [];
  return { out, s: { isTTY, columns, write: (x: string) => out.push(x) } };
}

/** A clock the test moves by hand (milliseconds). */
function manualClock() {
  const clock = { now: 0, read: () => clock.now };
  return clock;
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

test('a terminal that reports 0 columns gets the whole line (its width is unknown), a narrow one a cut line', () => {
  for (const [columns, cut] of [[0, false], [30, true]] as const) {
    const { out, s } = stream(true, columns);
    const clock = manualClock();
    const p = new Progress(s, { clock: clock.read });
    p.start(10, 0);
    clock.now = 65_000;
    p.update({ step: 10, loss: 1, learningRate: 1e-3, tokens: 100 });
    const line = out.join('').replace(/^\r|\x1b\[K$/g, '');
    if (cut) assert.is(line.length, 29, 'one column left free so the terminal does not wrap');
    else assert.match(line, /\| 1:05<0:00$/);
  }
});

test('evaluation: its own bar on a terminal, replaced by the results line', () => {
  const { out, s } = stream(true);
  const clock = manualClock();
  const p = new Progress(s, { clock: clock.read });
  p.start(4, 0);
  p.startEvaluation(3);
  clock.now = 2000;
  p.updateEvaluation(1);
  assert.is(out.at(-1), `\revaluating [${'#'.repeat(7)}${'.'.repeat(13)}] 1/3 batches | 0:02<0:04\x1b[K`);
  clock.now = 2050;
  p.updateEvaluation(2);
  assert.is(out.length, 1, 'redrawn at most 10 times a second');
  p.updateEvaluation(3);
  assert.match(out.at(-1)!, /\] 3\/3 batches \| 0:02<0:00\x1b\[K$/, 'the last batch is always drawn');
  p.log('eval at step 4: eval_loss 0.5');
  assert.equal(out.slice(-2), ['\r\x1b[K', 'eval at step 4: eval_loss 0.5\n']);
});

test('not a terminal: a plain line after HEARTBEAT_MS without one, for training and evaluation alike', () => {
  const { out, s } = stream(false);
  const clock = manualClock();
  const p = new Progress(s, { clock: clock.read });
  p.start(1000, 0);
  clock.now = HEARTBEAT_MS - 1;
  p.update({ step: 3, learningRate: 1e-3, tokens: 30 });
  assert.equal(out, [], 'nothing before the heartbeat');
  clock.now = HEARTBEAT_MS;
  p.update({ step: 4, learningRate: 1e-3, tokens: 40 });
  assert.match(out[0], /^step 4\/1000 \| lr 0\.001 \| 1 tok\/s \| 0:30<2:\d\d:\d\d\n$/);
  clock.now += HEARTBEAT_MS / 2;
  p.logStep({ step: 5, loss: 2, learningRate: 1e-3, tokens: 50 });
  p.startEvaluation(10);
  clock.now += HEARTBEAT_MS - 1;
  p.updateEvaluation(1);
  assert.is(out.length, 2, 'a logged line restarts the silence');
  clock.now += 1;
  p.updateEvaluation(2);
  assert.match(out[2], /^evaluating 2\/10 batches \| 0:30<2:00\n$/);
});

test('formatting helpers', () => {
  assert.is(formatDuration(3725), '1:02:05');
  assert.is(formatDuration(65), '1:05');
  assert.is(formatDuration(NaN), '?');
  assert.is(formatNumber(2.345678), '2.346');
  assert.is(formatNumber(5e-5), '5.00e-5');
});

test('JsonLinesLog appends one object per line with a timestamp', async () => {
  const dir = tempDir('jsonl');
  const log = new JsonLinesLog(dir);
  await log.write({ loss: 1, step: 1 });
  await log.write({ eval_loss: 2, step: 2 });
  const lines = readFileSync(join(dir, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 2);
  assert.is(lines[1].eval_loss, 2);
  assert.type(lines[0].time, 'string');
});

test.run();
