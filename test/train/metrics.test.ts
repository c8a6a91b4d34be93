// Streaming metrics against a float64 reference computed from the whole
// confusion matrix at once (scikit-learn's definitions).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { splitmix32 } from '../../src/tensor.js';
import { argmaxRows, combineMetrics, loadMetric, predictedLabels, withShape } from '../../src/train/metrics.js';

/** sklearn's precision_recall_fscore_support over labels present in y_true or y_pred, zero_division=0. */
function reference(yTrue: number[], yPred: number[]) {
  const labels = [...new Set([...yTrue, ...yPred])].sort((a, b) => a - b);
  const per = labels.map((c) => {
    let tp = 0, fp = 0, fn = 0;
    yTrue.forEach((t, i) => {
      const p = yPred[i];
      if (t === c && p === c) tp++;
      else if (p === c) fp++;
      else if (t === c) fn++;
    });
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support: tp + fn };
  });
  const macro = (k: 'precision' | 'recall' | 'f1') => per.reduce((s, p) => s + p[k], 0) / per.length;
  const total = per.reduce((s, p) => s + p.support, 0);
  const weighted = (k: 'precision' | 'recall' | 'f1') => per.reduce((s, p) => s + p[k] * p.support, 0) / total;
  const accuracy = yTrue.filter((t, i) => t === yPred[i]).length / yTrue.length;
  return { accuracy, macro, weighted };
}

const METRIC_TOL = 1e-12; // float64 sums in a different order

function data(n: number, seed: number, classes: number) {
  const next = splitmix32(seed);
  const yTrue = Array.from({ length: n }, () => next() % classes);
  // Mostly right, with a skew so that precision and recall differ per class; class `classes` appears only in predictions.
  const yPred = yTrue.map((t) => (next() % 3 === 0 ? (t * 7 + 1) % (classes + 1) : t));
  return { yTrue, yPred };
}

test('accuracy, precision, recall, f1 (macro, weighted, micro) streamed in uneven batches equal the whole-set reference', () => {
  const { yTrue, yPred } = data(503, 1, 6);
  const ref = reference(yTrue, yPred);
  const metrics = {
    accuracy: loadMetric('accuracy'),
    f1: loadMetric('f1', { average: 'macro' }),
    f1w: loadMetric('f1', { average: 'weighted' }),
    f1micro: loadMetric('f1', { average: 'micro' }),
    precision: loadMetric('precision', { average: 'macro' }),
    recall: loadMetric('recall', { average: 'weighted' }),
  };
  for (let start = 0; start < yTrue.length; start += 37) {
    for (const m of Object.values(metrics)) m.addBatch({ predictions: yPred.slice(start, start + 37), references: yTrue.slice(start, start + 37) });
  }
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= METRIC_TOL, `${what}: ${a} vs ${b}`);
  close(metrics.accuracy.compute().accuracy, ref.accuracy, 'accuracy');
  close(metrics.f1.compute().f1, ref.macro('f1'), 'macro f1');
  close(metrics.f1w.compute().f1, ref.weighted('f1'), 'weighted f1');
  close(metrics.f1micro.compute().f1, ref.accuracy, 'micro f1');
  close(metrics.precision.compute().precision, ref.macro('precision'), 'macro precision');
  close(metrics.recall.compute().recall, ref.weighted('recall'), 'weighted recall');
});

test('compute({predictions, references}) in one call; reset; -100 references ignored', () => {
  const acc = loadMetric('accuracy');
  assert.equal(acc.compute({ predictions: [0, 1, 1, 2], references: [0, 1, 2, -100] }), { accuracy: 2 / 3 });
  acc.reset();
  assert.equal(acc.compute({ predictions: [1], references: [1] }), { accuracy: 1 });
});

test('combineMetrics merges results', () => {
  const m = combineMetrics(loadMetric('accuracy'), loadMetric('f1', { average: 'macro' }));
  assert.equal(m.compute({ predictions: [0, 0], references: [0, 1] }), { accuracy: 0.5, f1: (2 / 3 + 0) / 2 });
});

test("evaluate's habits: compute(..., average) and normalize for this result; combine(['accuracy', 'f1']) by name; unknown options refused", () => {
  // sklearn: f1_score([0, 1, 2, 2], [0, 2, 2, 1], average='macro') = (1 + 0 + 0.5) / 3; accuracy 2 correct of 4.
  const batch = { predictions: [0, 1, 2, 2], references: [0, 2, 2, 1] };
  const f1 = loadMetric('f1');
  assert.equal(f1.compute({ ...batch, average: 'macro' }), { f1: 0.5 });
  f1.reset();
  assert.equal(loadMetric('precision').compute({ ...batch, average: 'micro' }), { precision: 0.5 });
  assert.equal(loadMetric('accuracy').compute({ ...batch, normalize: false }), { accuracy: 2 });
  const combined = combineMetrics(['accuracy', 'f1']);
  assert.equal(combined.compute({ ...batch, average: 'macro' }), { accuracy: 0.5, f1: 0.5 });
  assert.equal(combineMetrics('accuracy', loadMetric('recall', { average: 'macro' })).compute(batch), { accuracy: 0.5, recall: 0.5 });
  assert.throws(() => loadMetric('accuracy').compute({ ...batch, average: 'macro' } as never), /accuracy\.compute: unknown option 'average'; known options: predictions, references, normalize/);
  assert.throws(() => loadMetric('f1').compute({ ...batch, averages: 'macro' } as never), /f1\.compute: unknown option 'averages'/);
  assert.throws(() => combineMetrics(['accuracy', 'f1']).compute({ ...batch, sample_weight: [1, 1, 1, 1] } as never), /accuracy\+f1\.compute: no metric takes option 'sample_weight'/);
  assert.throws(() => combineMetrics(['accuracy', 'bleu' as never]), /unknown metric 'bleu'/);
  assert.throws(() => loadMetric('accuracy').addBatch({ predictions: [1], refs: [1] } as never), /accuracy\.addBatch: unknown option 'refs'/);
});

test('errors: unknown metric, bad average, mismatched lengths, non-integer class', () => {
  assert.throws(() => loadMetric('bleu' as never), /unknown metric 'bleu'/);
  assert.throws(() => loadMetric('f1', { average: 'samples' as never }), /average must be/);
  assert.throws(() => loadMetric('accuracy').addBatch({ predictions: [1, 2], references: [1] }), /2 predictions for 1 references/);
  assert.throws(() => loadMetric('accuracy').addBatch({ predictions: [0.5], references: [1] }), /example 0/);
});

test("loadMetric('f1') is binary as evaluate's: the F1 of class 1, pos_label to change it; multi-class data says what to pass", () => {
  // sklearn: f1_score([0, 1, 1, 0, 1], [0, 1, 0, 0, 1]) = 0.8; pos_label=0: 0.8; precision 1.0, recall 2/3.
  const batch = { predictions: [0, 1, 0, 0, 1], references: [0, 1, 1, 0, 1] };
  assert.equal(loadMetric('f1').compute(batch), { f1: 0.8 });
  assert.equal(loadMetric('f1', { pos_label: 0 }).compute(batch), { f1: 0.8 });
  assert.equal(loadMetric('precision').compute(batch), { precision: 1 });
  assert.equal(loadMetric('recall').compute(batch), { recall: 2 / 3 });
  assert.equal(loadMetric('recall', { posLabel: 0 }).compute(batch), { recall: 1 });
  assert.throws(
    () => loadMetric('f1').compute({ predictions: [0, 1, 2], references: [0, 1, 2] }),
    /loadMetric\('f1'\): the data is multi-class \(labels 0, 1, 2\) but average is 'binary' \(the default, as in evaluate\); pass \{ average: 'macro' \} \(or 'micro', 'weighted'\)/,
  );
  assert.throws(() => loadMetric('f1', { pos_label: 5 }).compute(batch), /pos_label 5 is not a label of the data \(labels 0, 1\)/);
  assert.throws(() => loadMetric('f1', { averge: 'macro' } as never), /loadMetric\('f1'\): unknown option 'averge'; known options: average, posLabel \(pos_label\)/);
  assert.throws(() => loadMetric('accuracy', { average: 'macro' } as never), /loadMetric\('accuracy'\): unknown option 'average'; known options: none/);
});

test('argmaxRows: first maximum on ties, as torch.argmax', () => {
  assert.equal(Array.from(argmaxRows([1, 3, 3, -1, -2, -5], 2, 3)), [1, 0]);
  assert.throws(() => argmaxRows([1, 2, 3], 2, 2), /not \[2, 2\]/);
  assert.equal(Array.from(predictedLabels(withShape(new Float32Array([1, 3, 3, -1, -2, -5]), 2, 3))), [1, 0]);
});

test.run();
