// BERT's layers as modeling_bert.py names them: embeddings (words + positions +
// token types, LayerNorm, dropout), the encoder's layers (self-attention, the
// residual outputs, the intermediate GELU) and the pooler. The models that
// compose them are in modeling.ts.
//
// Shapes: B batch, T tokens, H hidden, nh heads of d = H / nh, I intermediate, V vocabulary.

import { packTensors, type Tensor } from '../../tensor.js';
import { add } from '../../ops/elementwise.js';
import { linear } from '../../ops/matmul.js';
import { tokenMajor } from '../../ops/heads.js';
import { tanh } from '../../ops/activation.js';
import { select, slice } from '../../ops/slice.js';
import { multiHeadAttention } from '../../ops/attention.js';
import { Module, Linear, LayerNorm, Embedding, Dropout, DropoutRng } from '../../nn/index.js';
import type { BertConfig } from './config.js';

// ------------------------------------------------------------- embeddings ----

export class BertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(readonly config: BertConfig, rng: DropoutRng) {
    super();
    const std = config.initializer_range;
    this.word_embeddings = new Embedding(config.vocab_size, config.hidden_size, { std, paddingIdx: config.pad_token_id ?? undefined });
    this.position_embeddings = new Embedding(config.max_position_embeddings, config.hidden_size, { std });
    this.token_type_embeddings = new Embedding(config.type_vocab_size, config.hidden_size, { std });
    this.LayerNorm = new LayerNorm(config.hidden_size, config.layer_norm_eps);
    this.dropout = new Dropout(config.hidden_dropout_prob, rng);
  }

  /**
   * ids, tokenTypes i32 [B, T] -> [B, T, H]: word + token type + position, LayerNorm, dropout.
   * Position ids are [0, T) in every row, so their embeddings are the table's first T rows (a
   * slice: nothing uploaded); without tokenTypes (all 0, as Hugging Face's default) the token-type
   * term is row 0, broadcast.
   */
  forward(inputIds: Tensor, tokenTypes?: Tensor): Tensor {
    const T = inputIds.shape[1];
    if (T > this.config.max_position_embeddings) {
      throw new Error(`BERT: ${T} tokens is more than max_position_embeddings ${this.config.max_position_embeddings}`);
    }
    const words = this.word_embeddings.forward(inputIds);
    const pos = slice(this.position_embeddings.weight, 0, 0, T); // [T, H], broadcast over the batch
    if (!tokenTypes) {
      const type0 = slice(this.token_type_embeddings.weight, 0, 0, 1); // [1, H]
      return this.dropout.forward(this.LayerNorm.forward(add(words, add(pos, type0))));
    }
    // The token-type term enters as LayerNorm's fused residual.
    return this.dropout.forward(this.LayerNorm.forward(add(words, pos), this.token_type_embeddings.forward(tokenTypes)));
  }
}

// ---------------------------------------------------------------- encoder ----

class BertSelfAttention extends Module {
  query: Linear;
  key: Linear;
  value: Linear;
  dropout: Dropout;

  constructor(readonly config: BertConfig, rng: DropoutRng) {
    super();
    const { hidden_size: H, initializer_range: std } = config;
    this.query = new Linear(H, H, { std });
    this.key = new Linear(H, H, { std });
    this.value = new Linear(H, H, { std });
    this.dropout = new Dropout(config.attention_probs_dropout_prob, rng);
    // The three weights (and biases) back to back in one buffer: one [3H, H] projection, read in
    // place (linear over the list). Where a part's bytes are not a whole number of the binding
    // alignment (tiny hidden sizes) they stay apart and linear gathers them each forward.
    packTensors([this.query.weight, this.key.weight, this.value.weight]);
    packTensors([this.query.bias, this.key.bias, this.value.bias]);
  }

  /** x [B, T, H], mask i32 [B, T] (1 = attend) -> context [B, T, H]. */
  forward(x: Tensor, mask?: Tensor): Tensor {
    const [B, T, H] = x.shape;
    const heads = this.config.num_attention_heads;
    const d = H / heads;
    const { query, key, value } = this;
    // qkv [B, T, 3H]: q | k | v side by side; attention reads each head's columns in place and
    // writes the context [B, T, H] token-major (no head permutes).
    const qkv = linear(x, [query.weight, key.weight, value.weight], [query.bias, key.bias, value.bias]);
    return multiHeadAttention(tokenMajor(qkv, heads, d, 0), tokenMajor(qkv, heads, d, H), tokenMajor(qkv, heads, d, 2 * H), { B, heads, T, d }, {
      mask,
      dropout: this.dropout.options(),
    });
  }
}

/** dense, dropout, then LayerNorm with the residual: attention.output and output share this shape. */
class BertResidualOutput extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(config: BertConfig, inFeatures: number, rng: DropoutRng) {
    super();
    this.dense = new Linear(inFeatures, config.hidden_size, { std: config.initializer_range });
    this.LayerNorm = new LayerNorm(config.hidden_size, config.layer_norm_eps);
    this.dropout = new Dropout(config.hidden_dropout_prob, rng);
  }

  /** h [B, T, in], residual [B, T, H] -> LayerNorm(dropout(dense(h)) + residual), dropout drawn in the LayerNorm kernel. */
  forward(h: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(this.dense.forward(h), residual, this.dropout.options());
  }
}

class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertResidualOutput;

  constructor(config: BertConfig, rng: DropoutRng) {
    super();
    this.self = new BertSelfAttention(config, rng);
    this.output = new BertResidualOutput(config, config.hidden_size, rng);
  }

  /** x [B, T, H] -> [B, T, H]; firstTokenOnly: each sequence's first token alone, [B, 1, H] (it still attends to every token). */
  forward(x: Tensor, mask?: Tensor, firstTokenOnly = false): Tensor {
    const context = this.self.forward(x, mask);
    if (!firstTokenOnly) return this.output.forward(context, x);
    return this.output.forward(slice(context, 1, 0, 1), slice(x, 1, 0, 1));
  }
}

class BertIntermediate extends Module {
  dense: Linear;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hidden_size, config.intermediate_size, { std: config.initializer_range });
  }

  /** [B, T, H] -> GELU(dense) [B, T, I], the GELU in the product's epilogue. */
  forward(x: Tensor): Tensor {
    return this.dense.forward(x, { activation: 'gelu' });
  }
}

class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertResidualOutput;

  constructor(config: BertConfig, rng: DropoutRng) {
    super();
    this.attention = new BertAttention(config, rng);
    this.intermediate = new BertIntermediate(config);
    this.output = new BertResidualOutput(config, config.intermediate_size, rng);
  }

  /** x [B, T, H] -> [B, T, H], or [B, 1, H] with firstTokenOnly (see BertAttention). */
  forward(x: Tensor, mask?: Tensor, firstTokenOnly = false): Tensor {
    const a = this.attention.forward(x, mask, firstTokenOnly);
    return this.output.forward(this.intermediate.forward(a), a);
  }
}

export class BertEncoder extends Module {
  layer: BertLayer[];

  constructor(config: BertConfig, rng: DropoutRng) {
    super();
    this.layer = Array.from({ length: config.num_hidden_layers }, () => new BertLayer(config, rng));
  }

  /**
   * x [B, T, H] -> [B, T, H]. firstTokenOnly: the last layer computes each sequence's first token
   * alone, [B, 1, H], which is all the pooler reads: its attention still reads every token, but its
   * output projection, feed-forward and LayerNorms run on B rows instead of B·T (a twelfth of
   * BERT-base's products). Hugging Face computes every row; the rows skipped reach no loss, so
   * the pooled output and every gradient are the same (their dropout draws are not: the draws
   * follow the row).
   */
  forward(x: Tensor, mask?: Tensor, { firstTokenOnly = false }: { firstTokenOnly?: boolean } = {}): Tensor {
    this.layer.forEach((layer, i) => (x = layer.forward(x, mask, firstTokenOnly && i === this.layer.length - 1)));
    return x;
  }
}

export class BertPooler extends Module {
  dense: Linear;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hidden_size, config.hidden_size, { std: config.initializer_range });
  }

  /** tanh(dense(h[:, 0])): [B, T, H] -> [B, H]. */
  forward(h: Tensor): Tensor {
    return tanh(this.dense.forward(select(h, 1, 0)));
  }
}
