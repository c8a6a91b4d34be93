// One optimizer step of the Trainer: upload each micro-batch once, forward,
// scaled loss backward (gradients accumulate in the leaves), clip, schedule,
// AdamW, zero the gradients — all recorded, then ONE submission: reading the
// loss later (Tensor.readLater) records its copy and submits the step.
//
// Gradient accumulation equals one batch gradientAccumulationSteps times
// larger: micro-batch i's mean loss is scaled by n_i / N (n_i its labelled
// rows, N those of the whole step), so the gradients sum to those of the mean
// over all N rows.
//
// fp16 (mixed precision, as transformers' Trainer with torch.autocast and a GradScaler): the
// forward runs under autocast, the loss is multiplied by the scaler's scale before backward, and
// the gradients are checked before clipping (and unscaled by the optimizer as it reads them:
// AdamW's gradScale); a step whose gradients hold inf/NaN is skipped (no clipping, no AdamW
// update). Reading the scaler's flag is the step's one extra readback (its forward and backward
// are then submitted on their own).

import { keep, tidy, zeros, type Tensor } from '../tensor.js';
import { addInPlace, scale } from '../ops/elementwise.js';
import { applySchedule, type AdamW, type GradScaler, type Schedule } from '../optim/index.js';
import { autocast } from '../ops/cast.js';
import type { Dataset, Row } from '../data/dataset.js';
import type { Batch } from '../data/collator.js';
import type { TrainingArguments } from './arguments.js';
import { countLabelled, type TrainableModel } from './evaluation.js';

export interface MicroBatch {
  /** Row numbers in the training set. */
  rows: number[];
  batch: Batch;
  labelled: number;
}

/** The micro-batches of optimizer step `stepInEpoch` of an epoch whose row order is `order`. */
export function microBatches(
  collate: (rows: readonly Row[]) => Batch,
  args: TrainingArguments,
  train: Dataset<Row>,
  order: Uint32Array,
  stepInEpoch: number,
): MicroBatch[] {
  const { perDeviceTrainBatchSize: size, gradientAccumulationSteps: accumulation } = args;
  const microPerEpoch = Math.ceil(train.length / size);
  const out: MicroBatch[] = [];
  const first = stepInEpoch * accumulation;
  for (let k = first; k < Math.min(first + accumulation, microPerEpoch); k++) {
    const rows = Array.from(order.subarray(k * size, (k + 1) * size));
    let batch: Batch;
    try {
      batch = collate(rows.map((i) => train.get(i)));
    } catch (e) {
      throw new Error(`Trainer: could not build the batch of training rows ${rows.join(', ')}: ${(e as Error).message}`);
    }
    if (!batch.labels) throw new Error(`Trainer: the batch of training rows ${rows.join(', ')} has no labels (no 'label', 'labels' or 'label_ids' column in every row?)`);
    out.push({ rows, batch, labelled: countLabelled(batch.labels) });
  }
  return out;
}

/**
 * Records optimizer step `globalStep + 1` and submits it. Returns the step's
 * loss (mean over its labelled rows), resolved once the GPU has run the step,
 * and the gradient norm before clipping when asked for (for the log). With a
 * `scaler` (args.fp16), `skipped` says the gradients overflowed and the update was not made.
 */
export async function trainingStep(
  model: TrainableModel,
  args: TrainingArguments,
  globalStep: number,
  micro: MicroBatch[],
  optimizer: AdamW,
  schedule: Schedule,
  params: Map<string, Tensor>,
  wantGradNorm: boolean,
  scaler?: GradScaler,
): Promise<{ loss: Promise<number>; gradNorm: Tensor | null; skipped: boolean }> {
  const total = micro.reduce((s, m) => s + m.labelled, 0);
  if (total === 0) throw new Error(`Trainer: step ${globalStep + 1} has no labelled rows (rows ${micro.flatMap((m) => m.rows).join(', ')})`);
  model.setDropoutSeed?.(args.seed, globalStep);
  const stepLoss = keep(zeros([]));
  for (const { batch, labelled } of micro) {
    tidy(() => {
      const { loss } = autocast(() => model.forward({ ...batch, shape: batch.shape }), { enabled: args.fp16 });
      if (!loss) throw new Error('Trainer: the model returned no loss for a batch with labels');
      // Mean over this micro-batch's rows -> its share of the mean over the whole step's rows.
      const share = labelled === total ? loss : scale(loss, labelled / total);
      (scaler ? scaler.scale(share) : share).backward();
      addInPlace(stepLoss, share);
    });
  }
  // The gradients stay scaled; the optimizer unscales them as it reads them (this step's scale, before update()).
  const gradScale = scaler ? 1 / scaler.getScale() : 1;
  const skipped = scaler ? await scaler.check(params.values()) : false;
  scaler?.update(skipped);
  let gradNorm: Tensor | null = null;
  if (!skipped) {
    applySchedule(optimizer, schedule, globalStep);
    // The optimizer holds every parameter: its clipping is clipGradNorm(params.values(), maxGradNorm)'s, fused into the update.
    gradNorm = optimizer.step({ maxGradNorm: args.maxGradNorm > 0 ? args.maxGradNorm : undefined, gradScale });
  }
  optimizer.zeroGrad();
  const readLoss = stepLoss.readLater();
  stepLoss.dispose();
  if (gradNorm && !wantGradNorm) gradNorm.dispose();
  const loss = readLoss().then((v) => v[0]); // submits the step: its one submission
  loss.catch(() => {}); // awaited later, as readLater's
  return { loss, gradNorm: wantGradNorm && gradNorm ? keep(gradNorm) : null, skipped };
}
