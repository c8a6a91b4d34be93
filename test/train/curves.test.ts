// training_curves.svg from a log history: one panel per series, bookkeeping keys left out.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { curveSeries, renderCurves } from '../../src/train/curves.js';
import type { LogEntry } from '../../src/train/checkpoint-files.js';

const HISTORY: LogEntry[] = [
  { loss: 2.5, grad_norm: 1.2, learning_rate: 4e-5, epoch: 0.5, step: 5 },
  { loss: 2.25, grad_norm: 1.1, learning_rate: 3e-5, epoch: 1, step: 10 },
  { eval_loss: 2.1, eval_accuracy: 0.5, eval_runtime: 1.5, eval_samples_per_second: 10, eval_steps_per_second: 2, epoch: 1, step: 10 },
  { train_runtime: 30, train_samples_per_second: 5, train_steps_per_second: 1, total_flos: 0, train_loss: 2, epoch: 1, step: 10 },
];

test('series: loss, learning_rate, then each evaluation metric by step', () => {
  assert.equal(curveSeries(HISTORY), [
    { name: 'loss', points: [[5, 2.5], [10, 2.25]] },
    { name: 'learning_rate', points: [[5, 4e-5], [10, 3e-5]] },
    { name: 'eval_loss', points: [[10, 2.1]] },
    { name: 'eval_accuracy', points: [[10, 0.5]] },
  ]);
});

test('SVG: a panel per series (a single point too), a note before anything was logged', () => {
  const svg = renderCurves(HISTORY);
  assert.is((svg.match(/<polyline /g) ?? []).length, 4);
  assert.ok(!svg.includes('NaN'), svg);
  assert.ok(svg.includes('width="960" height="400"'), 'three columns, two rows');
  assert.ok(renderCurves([]).includes('nothing logged yet'));
});

test.run();
