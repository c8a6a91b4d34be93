// The demo's data: the files the user picked (CSV, JSON lines / JSON, Parquet), read by the
// engine's loadDataset, which takes File objects in the browser as it takes paths in Node:
// the same checks of every row, with the same messages (file, row, value). What is the page's
// own: label names for integer labels, two classes at least, and 10% held out for evaluation
// when no validation file is picked.

import { loadDataset, type Dataset } from '../../src/browser.js';

export interface Splits {
  train: Dataset;
  validation: Dataset;
  labelNames: string[];
  /** Where the validation rows came from. */
  validationFrom: string;
}

export async function pickedSplits(trainFile: File, validFile: File | null, textColumn: string, labelColumn: string): Promise<Splits> {
  const sets = await loadDataset(validFile ? { train: trainFile, validation: validFile } : { train: trainFile }, { textColumn, labelColumn });
  const train = sets.train!;
  const { labelNames = Array.from({ length: train.features.numLabels ?? 0 }, (_, i) => `LABEL_${i}`) } = train.features;
  if (labelNames.length < 2) throw new Error(`${trainFile.name}: column ${labelColumn} holds one class only (${labelNames[0]}); classification needs two or more`);
  if (sets.validation) return { train, validation: sets.validation, labelNames, validationFrom: validFile!.name };
  if (train.length < 10) throw new Error(`${trainFile.name}: ${train.length} rows are too few to hold 10% out for evaluation; pick a validation file`);
  const split = train.trainTestSplit({ testSize: 0.1, seed: 42 });
  return { train: split.train, validation: split.test, labelNames, validationFrom: `10% of ${trainFile.name}` };
}
