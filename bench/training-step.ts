// A whole training step of BERT (random weights of the real shapes, vocabulary
// 28,996 as bert-base-cased, dropout on): forward, backward, gradient clipping
// (max norm 1), AdamW, recorded and submitted together, for BERT-base (12
// layers, hidden 768) and a small model (2 layers, hidden 128) at 8 × 64 tokens;
// also BERT-base at 32 × 128 with --large (minutes per step on lavapipe).
// Each model also in fp16 (mixed precision as TrainingArguments.fp16: float16 matrix products under
// autocast, the loss scaled by a GradScaler whose overflow flag is read back once per step), where
// the adapter has shader-f16.
// Beside each, the same step in PyTorch on the CPU (float32, bench/torch_step.py
// over ../shared/reference's BERT) when a python3 with torch is found, and the
// ratio of speeds (ours / PyTorch's: above 1 is faster than PyTorch). PyTorch's
// side (bench/pytorch.ts, Node only) is handed in by bench/run.ts, so that this
// file also runs in a browser page (bench/browser/), without it.

import { gpu } from '../src/gpu/device.js';
import { splitmix32, tidy } from '../src/tensor.js';
import { bertConfig } from '../src/models/bert/config.js';
import { setInitSeed } from '../src/nn/index.js';
import { BertForSequenceClassification } from '../src/models/bert/modeling.js';
import type { Batch } from '../src/data/collator.js';
import { AdamW, GradScaler, hfParameterGroups } from '../src/optim/index.js';
import { autocast, SHADER_F16 } from '../src/ops/cast.js';
import { median, timeGpu, type Report } from './harness.js';
import type * as PyTorch from './pytorch.js';

const VOCAB = 28996;
const NUM_LABELS = 20; // the DESIGN's twitter-financial-news-topic task
const SAMPLES = 3;

/** The shapes of bench/torch_step.py's presets. */
const PRESETS = {
  base: { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 },
  small: { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 },
} as const;
export type Preset = keyof typeof PRESETS;

/** Random ids in [1000, V) after [CLS], every row full length, labels in [0, NUM_LABELS). */
function randomBatch(B: number, T: number, seed: number): Batch {
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

/**
 * The benchmarked step for `preset` on a B × T batch: model, optimizer, the batch and a function
 * recording one step (bench/profile.ts profiles it), and trainStepF16: the same step in fp16, async
 * (it reads the scaler's overflow flag back mid-way).
 */
export function trainingStep(preset: Preset, B: number, T: number) {
  setInitSeed(0);
  const model = new BertForSequenceClassification(bertConfig({ vocab_size: VOCAB, num_labels: NUM_LABELS, ...PRESETS[preset] })).train();
  const optimizer = new AdamW(hfParameterGroups(model, 0.01), { lr: 2e-5 });
  const parameters = model.parameters();
  let step = 0;
  const batch = randomBatch(B, T, B * 1000 + T);
  const trainStep = () =>
    tidy(() => {
      model.setDropoutSeed(0, step++);
      model.forward(batch).loss!.backward();
      optimizer.step({ maxGradNorm: 1 }); // clipping fused into the update, as the Trainer's
      optimizer.zeroGrad();
    });
  // fp16: forward under autocast, scaled loss, overflow check, then clip and AdamW (unscaling as they read) unless it overflowed.
  const scaler = new GradScaler();
  let skipped = 0;
  const trainStepF16 = async () => {
    tidy(() => {
      model.setDropoutSeed(0, step++);
      scaler.scale(autocast(() => model.forward(batch)).loss!).backward();
    });
    const gradScale = 1 / scaler.getScale();
    const overflow = await scaler.check(parameters);
    scaler.update(overflow);
    if (overflow) skipped++;
    tidy(() => {
      if (!overflow) optimizer.step({ maxGradNorm: 1, gradScale }); // unscaled as read, as the Trainer's
      optimizer.zeroGrad();
    });
  };
  const dispose = () => {
    scaler.dispose();
    optimizer.dispose();
    model.dispose();
  };
  return { trainStep, trainStepF16, skippedSteps: () => skipped, model, optimizer, batch, dispose };
}

export interface TrainingStepOptions {
  large: boolean;
  /** PyTorch's side (Node's bench/pytorch.ts); absent in a browser page. */
  pytorch?: typeof PyTorch;
  /** Only these models (the page's default: the small one). */
  presets?: Preset[];
}

export async function run(report: Report, options: TrainingStepOptions): Promise<void> {
  const { pytorch } = options;
  const python = pytorch ? pytorch.findTorchPython() : null;
  if (!pytorch) console.log('PyTorch: not here (it runs python3 through Node\'s child_process); our figures alone');
  else if (!python) console.log('PyTorch: no python3 here imports torch (Debian: apt-get install python3-torch); our figures alone');
  const all: [Preset, number, number][] = [['small', 8, 64], ['base', 8, 64], ...(options.large ? [['base', 32, 128] as [Preset, number, number]] : [])];
  const cases = all.filter(([preset]) => !options.presets || options.presets.includes(preset));
  const runtime = gpu();
  const fp16 = runtime.features.has(SHADER_F16);
  if (!fp16) console.log(`fp16 rows: not on ${runtime.adapter.name} (no ${SHADER_F16})`);
  for (const [preset, B, T] of cases) {
    // float32, then (same run, a fresh model of the same seed) fp16.
    for (const precision of fp16 ? ['f32', 'fp16'] as const : ['f32'] as const) {
      const { trainStep, trainStepF16, skippedSteps, optimizer, dispose } = trainingStep(preset, B, T);
      runtime.pool.resetPeak();
      const dispatchesBefore = runtime.dispatchCount;
      const samples = await timeGpu(precision === 'fp16' ? trainStepF16 : trainStep, { warmup: 1, iterations: 1, samples: SAMPLES });
      const ms = median(samples);
      const torchSeconds = pytorch && precision === 'f32' ? pytorch.torchStep(python, preset, B, T, SAMPLES) : null;
      report.add({
        group: 'training-step',
        name: `bert-${preset} ${B}x${T}${precision === 'fp16' ? ' fp16' : ''} forward+backward+clip+AdamW`,
        samples,
        extra: {
          'tokens/s': (B * T) / (ms / 1000),
          'peak MiB': runtime.pool.snapshot().peakBytesInUse / 2 ** 20,
          'dispatches/step': (runtime.dispatchCount - dispatchesBefore) / (SAMPLES + 1), // warm-up + samples
          'adamw dispatches': optimizer.chunkCount, // > 1 where the parameters exceed one storage binding (lavapipe: 128 MiB)
          ...(precision === 'fp16' ? { 'skipped steps': skippedSteps() } : {}),
          ...(torchSeconds === null ? {} : { 'torch ms': torchSeconds * 1000, 'x torch': (torchSeconds * 1000) / ms }),
        },
      });
      dispose();
    }
  }
}
