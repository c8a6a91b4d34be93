// The model card: transformers' layout (front matter, sections, hyperparameters,
// results table from the log history), label names, engine and adapter.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { TrainingArguments } from '../../src/train/arguments.js';
import type { LogEntry } from '../../src/train/checkpoint-files.js';
import { parseLogHistory, renderModelCard, maybeRound, pythonFloat } from '../../src/train/model-card.js';
import { ENGINE_VERSION, TEMPLATES } from '../../src/train/templates.generated.js';

const HISTORY: LogEntry[] = [
  { loss: 2.5, grad_norm: 1.2, learning_rate: 4e-5, epoch: 0.5, step: 5 },
  { loss: 2.25, grad_norm: 1.1, learning_rate: 3e-5, epoch: 1, step: 10 },
  { eval_loss: 2.123456, eval_accuracy: 0.5, eval_f1: 0.41666666, eval_runtime: 1.5, eval_samples_per_second: 10, eval_steps_per_second: 2, epoch: 1, step: 10 },
  { loss: 1.75, grad_norm: 0.9, learning_rate: 1e-5, epoch: 1.5, step: 15 },
  { eval_loss: 1.9, eval_accuracy: 0.625, eval_f1: 0.5, eval_runtime: 1.4, eval_samples_per_second: 11, eval_steps_per_second: 2, epoch: 2, step: 20 },
  { train_runtime: 30, train_samples_per_second: 5, train_steps_per_second: 1, total_flos: 0, train_loss: 2, epoch: 2, step: 20 },
];

test('numbers read as transformers prints them', () => {
  assert.is(pythonFloat(5e-5), '5e-05');
  assert.is(pythonFloat(2), '2.0');
  assert.is(pythonFloat(0.001), '0.001');
  assert.is(maybeRound(2.123456), '2.1235');
  assert.is(maybeRound(0.5), '0.5');
});

test('parseLogHistory: one row per evaluation with the last training loss before it; final results', () => {
  const { header, rows, evalResults } = parseLogHistory(HISTORY);
  assert.equal(header, ['Training Loss', 'Epoch', 'Step', 'Validation Loss', 'Accuracy', 'F1']);
  assert.equal(rows, [['2.25', '1.0', '10', '2.1235', '0.5', '0.4167'], ['1.75', '2.0', '20', '1.9', '0.625', '0.5']]);
  assert.equal(evalResults.map((r) => `${r.name}=${r.value}`), ['Loss=1.9', 'Accuracy=0.625', 'F1=0.5']);
});

test('renderModelCard: front matter, sections, labels, hyperparameters, results, engine', () => {
  const args = new TrainingArguments({ outputDir: '/tmp/out/finance-topics', learningRate: 2e-5, numTrainEpochs: 2, gradientAccumulationSteps: 2, warmupRatio: 0.1 });
  const card = renderModelCard({
    args, logHistory: HISTORY, adapter: 'llvmpipe', baseModel: 'google-bert/bert-base-cased',
    datasetId: 'zeroshot/twitter-financial-news-topic', labelNames: ['Analyst Update', 'Fed | Central Banks'],
  });
  const expectLines = [
    '---', 'library_name: shadergrad', 'base_model: google-bert/bert-base-cased', 'tags:', '- generated_from_trainer',
    'datasets:', '- zeroshot/twitter-financial-news-topic', 'metrics:', '- accuracy', '- f1', 'model-index:', '- name: finance-topics',
    '      value: 0.625',
    '# finance-topics',
    'This model is a fine-tuned version of [google-bert/bert-base-cased](https://huggingface.co/google-bert/bert-base-cased) on the zeroshot/twitter-financial-news-topic dataset.',
    'It achieves the following results on the evaluation set:', '- Loss: 1.9', '- Accuracy: 0.625',
    '## Model description', '## Intended uses & limitations', '## Training and evaluation data',
    '| 1 | Fed \\| Central Banks |',
    '- learning_rate: 2e-05', '- train_batch_size: 8', '- gradient_accumulation_steps: 2', '- total_train_batch_size: 16',
    '- lr_scheduler_warmup_ratio: 0.1', '- num_epochs: 2.0',
    '| Training Loss | Epoch | Step | Validation Loss | Accuracy | F1 |', '|:---:|:---:|:---:|:---:|:---:|:---:|',
    '| 2.25 | 1.0 | 10 | 2.1235 | 0.5 | 0.4167 |',
    '### Framework versions', '- WebGPU adapter: llvmpipe',
  ];
  const lines = card.split('\n');
  for (const line of expectLines) assert.ok(lines.includes(line), `card lacks the line ${JSON.stringify(line)}:\n${card}`);
  assert.ok(!/\n\n\n/.test(card), `card has runs of blank lines:\n${card}`);
  assert.ok(/^- shadergrad \d+\.\d+\.\d+$/m.test(card), 'engine version line');
});

test('renderModelCard without a base model, data set or evaluation', () => {
  const card = renderModelCard({ args: new TrainingArguments({ outputDir: 'out' }), logHistory: [], adapter: 'x' });
  assert.ok(card.includes('This model was trained from scratch on an unknown dataset.'), card);
  assert.ok(card.includes('  results: []'), card);
  assert.ok(!card.includes('### Training results'), card);
  assert.ok(card.includes('More information needed'), card);
});

test('the embedded template and version are current (npm run shaders regenerates src/train/templates.generated.ts)', () => {
  const root = new URL('../../', import.meta.url);
  assert.is(TEMPLATES['model-card.md'], readFileSync(new URL('templates/model-card.md.jinja', root), 'utf8'));
  assert.is(ENGINE_VERSION, JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).version);
});

test.run();
