// Inference pipelines, as transformers' pipeline(): text-classification and
// fill-mask. Batched with dynamic padding, no graph recorded; softmax runs on
// the GPU and only probabilities are read back.

import { noGrad } from '../autograd.js';
import { tidy, type Tensor } from '../tensor.js';
import { softmax } from '../ops/softmax.js';
import { select } from '../ops/slice.js';
import { reshape } from '../ops/shape.js';
import type { BertTokenizer } from '../data/tokenizer.js';
import type { BertForMaskedLM, BertForSequenceClassification } from '../models/bert.js';

export interface ClassificationResult {
  label: string;
  score: number;
}

export interface FillMaskResult {
  score: number;
  token: number;
  tokenStr: string;
  sequence: string;
}

export interface PipelineOptions {
  /** Texts per forward pass (padded to the longest of the batch). Default 8. */
  batchSize?: number;
  /** Truncate inputs to this many tokens (default: the tokenizer's model_max_length). */
  maxLength?: number;
}

/** Indices of the k largest values, largest first. */
function topIndices(values: Float32Array, k: number): number[] {
  return [...values.keys()].sort((a, b) => values[b] - values[a] || a - b).slice(0, k);
}

export class TextClassificationPipeline {
  constructor(
    readonly model: BertForSequenceClassification,
    readonly tokenizer: BertTokenizer,
    private readonly options: PipelineOptions = {},
  ) {}

  /** One list of the topK {label, score} per text, best first (topK defaults to 1, as transformers). */
  async run(texts: string[], { topK = 1 }: { topK?: number } = {}): Promise<ClassificationResult[][]> {
    const labels = this.model.config.id2label;
    const batchSize = this.options.batchSize ?? 8;
    const results: ClassificationResult[][] = [];
    this.model.eval();
    for (let start = 0; start < texts.length; start += batchSize) {
      const batch = this.tokenizer.encode(texts.slice(start, start + batchSize), {
        padding: 'longest', truncation: true, maxLength: this.options.maxLength,
      });
      const probs = noGrad(() => tidy(() => softmax(this.model.forward(batch).logits)));
      const values = await probs.toArray();
      probs.dispose();
      const classes = probs.shape[1];
      for (let row = 0; row < batch.shape[0]; row++) {
        const p = values.subarray(row * classes, (row + 1) * classes);
        results.push(topIndices(p, topK).map((c) => ({ label: labels[c] ?? `LABEL_${c}`, score: p[c] })));
      }
    }
    return results;
  }
}

export class FillMaskPipeline {
  constructor(
    readonly model: BertForMaskedLM,
    readonly tokenizer: BertTokenizer,
    private readonly options: PipelineOptions = {},
  ) {}

  /** For a text with one [MASK]: its topK fillings (default 5, as transformers); with several masks, one list per mask. */
  async run(text: string, { topK = 5 }: { topK?: number } = {}): Promise<FillMaskResult[][]> {
    const batch = this.tokenizer.encode([text], { truncation: true, maxLength: this.options.maxLength });
    const ids = batch.inputIds;
    const maskPositions = [...ids.keys()].filter((i) => ids[i] === this.tokenizer.maskTokenId);
    if (maskPositions.length === 0) throw new Error(`fill-mask: no ${this.tokenizer.convertIdsToTokens([this.tokenizer.maskTokenId])[0]} token in "${text}"`);
    this.model.eval();
    const probs = noGrad(() =>
      tidy(() => {
        const logits = this.model.forward(batch).logits; // [1, T, V]
        const rows = reshape(logits, [logits.shape[1], logits.shape[2]]);
        return maskPositions.map((pos) => softmax(select(rows, 0, pos)));
      }),
    );
    const results: FillMaskResult[][] = [];
    for (const [k, p] of probs.entries()) {
      const values = await p.toArray();
      results.push(topIndices(values, topK).map((token) => {
        const filled = Int32Array.from(ids);
        filled[maskPositions[k]] = token;
        return {
          score: values[token],
          token,
          tokenStr: this.tokenizer.decode([token]),
          sequence: this.tokenizer.decode(filled, { skipSpecialTokens: true }),
        };
      }));
    }
    probs.forEach((p: Tensor) => p.dispose());
    return results;
  }
}

/** text-classification: one text -> its topK {label, score}; several texts -> one such list each. */
export type TextClassifier = {
  (text: string, options?: { topK?: number }): Promise<ClassificationResult[]>;
  (texts: string[], options?: { topK?: number }): Promise<ClassificationResult[][]>;
  readonly pipeline: TextClassificationPipeline;
};

/** fill-mask: a text with one [MASK] -> its topK fillings (for several masks, `.pipeline.run(text)` gives one list per mask). */
export type MaskFiller = ((text: string, options?: { topK?: number }) => Promise<FillMaskResult[]>) & { readonly pipeline: FillMaskPipeline };

type Parts<M> = { model: M; tokenizer: BertTokenizer } & PipelineOptions;

export function pipeline(task: 'text-classification', parts: Parts<BertForSequenceClassification>): TextClassifier;
export function pipeline(task: 'fill-mask', parts: Parts<BertForMaskedLM>): MaskFiller;
export function pipeline(
  task: 'text-classification' | 'fill-mask',
  { model, tokenizer, ...options }: Parts<BertForSequenceClassification | BertForMaskedLM>,
): TextClassifier | MaskFiller {
  if (task === 'text-classification') {
    const p = new TextClassificationPipeline(model as BertForSequenceClassification, tokenizer, options);
    const classify = async (texts: string | string[], opts?: { topK?: number }) =>
      typeof texts === 'string' ? (await p.run([texts], opts))[0] : p.run(texts, opts);
    return Object.assign(classify, { pipeline: p }) as TextClassifier;
  }
  if (task === 'fill-mask') {
    const p = new FillMaskPipeline(model as BertForMaskedLM, tokenizer, options);
    const fill = async (text: string, opts?: { topK?: number }) => {
      const perMask = await p.run(text, opts);
      if (perMask.length > 1) throw new Error(`fill-mask: "${text}" has ${perMask.length} masks; use .pipeline.run(text) for one list per mask`);
      return perMask[0];
    };
    return Object.assign(fill, { pipeline: p });
  }
  throw new Error(`unknown pipeline task '${task as string}' (text-classification, fill-mask)`);
}
