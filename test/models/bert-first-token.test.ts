// A sequence classifier reads only each sequence's first token ([CLS]) from the encoder's last
// layer, so that layer computes that row alone past its attention (BertModel.pooledOutput). Written
// as a user checks it: the classifier's logits and every gradient against the same model with the
// last layer computed for every token (BertModel.forward, as Hugging Face does), bit for bit.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tidy, crossEntropy } from '../../src/index.js';
import { bertConfig } from '../../src/models/bert/config.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { setupDevice } from '../helpers.js';

test.before(setupDevice);

const [B, T] = [3, 7];
const inputs = {
  inputIds: Int32Array.from({ length: B * T }, (_, i) => (i * 11) % 50),
  tokenTypeIds: Int32Array.from({ length: B * T }, (_, i) => Number(i % T > 3)),
  attentionMask: Int32Array.from({ length: B * T }, (_, i) => Number(i % T < T - (i / T | 0))), // padded rows of 7, 6, 5 tokens
  labels: new Int32Array([0, 2, 1]),
  shape: [B, T] as const,
};

test('BertForSequenceClassification computes only the first token past the last attention: same logits and gradients as every token, bit for bit', async () => {
  const config = bertConfig({ vocab_size: 50, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 16, num_labels: 3 });
  const model = new BertForSequenceClassification(config).eval(); // no dropout: its draws follow the rows
  const run = async (everyToken: boolean) => {
    const logits = tidy(() => {
      const { logits, loss } = everyToken
        ? (() => {
          const logits = model.classifier.forward(model.dropout.forward(model.bert.forward(inputs).pooled!));
          return { logits, loss: crossEntropy(logits, inputs.labels) };
        })()
        : model.forward(inputs);
      loss!.backward();
      return logits;
    });
    const grads = new Map<string, number[]>();
    for (const [name, p] of model.namedParameters()) grads.set(name, Array.from(await p.grad!.toArray()));
    const values = Array.from(await logits.toArray());
    logits.dispose();
    model.zeroGrad();
    return { values, grads };
  };
  const first = await run(false);
  const every = await run(true);
  assert.equal(first.values, every.values, 'logits');
  assert.ok(first.grads.size > 30, 'every parameter has a gradient');
  for (const [name, g] of every.grads) assert.equal(first.grads.get(name), g, name);
  model.dispose();
});

test('BertModel.pooledOutput needs the pooler', () => {
  const config = bertConfig({ vocab_size: 50, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 16, num_labels: 3 });
  const model = new BertForSequenceClassification(config);
  model.bert.pooler = null;
  assert.throws(() => model.forward(inputs), /no pooler/);
  model.dispose();
});

test.run();
