// A whole training step of BERT-base (random weights of the real shapes,
// vocabulary 28,996 as bert-base-cased, 12 layers, dropout on): forward,
// backward, AdamW, recorded and submitted together. Batch 8 × 64 tokens; also
// 32 × 128 with --large (minutes per step on lavapipe).
// For scale (issue 4): PyTorch on a 2-core CPU with OpenBLAS takes 4.1 s at 8 × 64 and 22 s at 32 × 128.

import { gpu } from '../src/gpu/device.js';
import { splitmix32, tidy } from '../src/tensor.js';
import { bertConfig } from '../src/io/config.js';
import { setInitSeed } from '../src/nn/index.js';
import { BertForSequenceClassification, type BertInputs } from '../src/models/bert.js';
import { AdamW, hfParameterGroups } from '../src/optim/index.js';
import { median, timeGpu, type Report } from './harness.js';

const VOCAB = 28996;
const NUM_LABELS = 20; // the DESIGN's twitter-financial-news-topic task

/** Random ids in [1000, V) after [CLS], every row full length, labels in [0, NUM_LABELS). */
function randomBatch(B: number, T: number, seed: number): BertInputs {
  const next = splitmix32(seed);
  const inputIds = new Int32Array(B * T);
  for (let i = 0; i < inputIds.length; i++) inputIds[i] = i % T === 0 ? 101 : 1000 + (next() % (VOCAB - 1000));
  return {
    inputIds,
    attentionMask: new Int32Array(B * T).fill(1),
    tokenTypeIds: new Int32Array(B * T),
    labels: Int32Array.from({ length: B }, () => next() % NUM_LABELS),
    shape: [B, T],
  };
}

export async function run(report: Report, options: { large: boolean }): Promise<void> {
  setInitSeed(0);
  const model = new BertForSequenceClassification(bertConfig({ vocab_size: VOCAB, num_labels: NUM_LABELS })).train();
  const optimizer = new AdamW(hfParameterGroups(model, 0.01), { lr: 2e-5 });
  const runtime = gpu();
  let step = 0;
  for (const [B, T] of options.large ? [[8, 64], [32, 128]] : [[8, 64]]) {
    const batch = randomBatch(B, T, B * 1000 + T);
    const trainStep = () =>
      tidy(() => {
        model.setDropoutSeed(0, step++);
        model.forward(batch).loss!.backward();
        optimizer.step();
        optimizer.zeroGrad();
      });
    runtime.pool.resetPeak();
    const dispatchesBefore = runtime.dispatchCount;
    const samples = await timeGpu(trainStep, { warmup: 1, iterations: 1, samples: 3 });
    const ms = median(samples);
    report.add({
      group: 'training-step',
      name: `bert-base ${B}x${T} forward+backward+AdamW`,
      samples,
      extra: {
        'tokens/s': (B * T) / (ms / 1000),
        'peak MiB': runtime.pool.snapshot().peakBytesInUse / 2 ** 20,
        'dispatches/step': (runtime.dispatchCount - dispatchesBefore) / 4, // warm-up + 3 samples
        'adamw dispatches': optimizer.chunkCount, // > 1 where the parameters exceed one storage binding (lavapipe: 128 MiB)
      },
    });
  }
  optimizer.dispose();
  model.dispose();
}
