// Embedding(V, H): a lookup table [V, H], rows picked by i32 ids.
// Initialised normal(0, std) as Hugging Face does (its zeroing of the padding row at
// init is not reproduced: fine-tuning starts from a checkpoint's rows).

import { Tensor, randn } from '../tensor.js';
import { embedding } from '../ops/embedding.js';
import { Module, nextInitSeed } from './module.js';
import { checkOptions, type WithSnakeCase } from '../options.js';

/** Embedding's options: the weight's init std, and torch's padding_idx. */
export interface EmbeddingLayerOptions { std?: number; paddingIdx?: number }

/** layer(...) is layer.forward(...), as torch's. */
export interface Embedding {
  (ids: Tensor): Tensor;
}

export class Embedding extends Module {
  weight: Tensor;
  readonly paddingIdx: number | undefined;

  /**
   * paddingIdx: positions holding this id add nothing to the weight's gradient (PyTorch's
   * padding_idx; BERT's word embeddings use pad_token_id).
   */
  constructor(readonly numEmbeddings: number, readonly dim: number, options?: WithSnakeCase<EmbeddingLayerOptions>) {
    super();
    const { std = 0.02, paddingIdx } = checkOptions<EmbeddingLayerOptions>('Embedding', options, ['std', 'paddingIdx']);
    this.weight = this.parameter(randn([numEmbeddings, dim], { std, seed: nextInitSeed() }));
    this.paddingIdx = paddingIdx;
  }

  /** ids i32 [...] -> [..., H]. */
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight, { paddingIdx: this.paddingIdx });
  }
}
