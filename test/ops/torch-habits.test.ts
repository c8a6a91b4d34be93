// The engine's tensors and ops called as PyTorch users call them: torch.tensor's nested data and
// options second, dtype names, softmax(x, -1), add(x, 1) and mul(x, 2); wrong input refused by name.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, zeros, full, add, mul, sum, softmax, transpose, permute, reshape, gelu, matmul, LayerNorm, Linear, AdamW, crossEntropy } from '../../src/index.js';
import { setupDevice, assertClose } from '../helpers.js';

test.before(setupDevice);

const values = async (t: { shape: readonly number[]; toArray(): Promise<Float32Array> }) => ({ shape: [...t.shape], data: Array.from(await t.toArray()) });

test('tensor(nested arrays) has their shape, as torch.tensor; a number is a scalar; options may come second', async () => {
  assert.equal(await values(tensor([[1, 2, 3], [4, 5, 6]])), { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
  assert.equal(await values(tensor([[[1], [2]], [[3], [4]]])), { shape: [2, 2, 1], data: [1, 2, 3, 4] });
  assert.equal(await values(tensor(7)), { shape: [], data: [7] });
  assert.equal(await values(tensor([1, 2, 3, 4], [2, 2])), { shape: [2, 2], data: [1, 2, 3, 4] });
  const ids = tensor([[101, 7], [101, 8]], { dtype: 'int32' });
  assert.is(ids.dtype, 'i32');
  assert.equal(Array.from(await ids.toInt32Array()), [101, 7, 101, 8]);
  const w = tensor([[0.5, -1]], { requires_grad: true });
  assert.ok(w.requiresGrad);
  sum(mul(w, w)).backward();
  assert.equal(Array.from(await w.grad!.toArray()), [1, -2]);
  assert.is(zeros([2], { dtype: 'float32' }).dtype, 'f32');
  assert.is(full([2], 3, { dtype: 'int32' }).dtype, 'i32');
});

test('t.tolist() gives nested arrays in the tensor\'s shape, as torch\'s; item() reads an i32 scalar too', async () => {
  assert.equal(await tensor([[1, 2, 3], [4, 5, 6]]).tolist(), [[1, 2, 3], [4, 5, 6]]);
  assert.equal(await tensor([[[1], [2]]]).tolist(), [[[1], [2]]]);
  assert.equal(await tensor(3).tolist(), 3);
  assert.equal(await tensor([[7, 8]], { dtype: 'int32' }).tolist(), [[7, 8]]);
  assert.is(await tensor([42], { dtype: 'int32' }).item(), 42);
  assert.equal(await zeros([2, 0]).tolist(), [[], []]);
});

test('tensor() refuses ragged rows, non-numbers, a shape that is not the nested one, a non-integer int32 and an unknown dtype, by name', () => {
  assert.throws(() => tensor([[1, 2], [3]]), /tensor\(\): \[1\] has 1 entries where \[0\] has 2: nested arrays must be rectangular/);
  assert.throws(() => tensor([[[1, 2], [3, 4]], [[5, 6], [7]]]), /\[1, 1\] has 1 entries/);
  assert.throws(() => tensor([[1, 'a' as never]]), /the value at \[0, 1\] is "a", not a number/);
  assert.throws(() => tensor([[1, 2], [3, 4]], [4]), /nested data of shape \[2, 2\] with shape \[4\]/);
  assert.throws(() => tensor([1.5], { dtype: 'int32' }), /value 1\.5 at 0 .* is not a 32-bit integer/);
  assert.throws(() => tensor([1], { dtype: 'int64' as never }), /dtype "int64" is not one of 'f32', 'i32', 'f16', 'float32', 'int32'/);
  assert.throws(() => tensor([1], [1], { dtype: 'f32' }) && tensor([1], { dtype: 'f32' }, { dtype: 'f32' } as never), /options given twice/);
});

test('softmax(x, -1) as torch.softmax(x, dim=-1); another dim is refused', async () => {
  const x = tensor([[0, 0], [0, Math.log(3)]]);
  assertClose(await softmax(x, -1).toArray(), [0.5, 0.5, 0.25, 0.75], { atol: 1e-6, rtol: 1e-6 }, 'softmax(x, -1)');
  assertClose(await softmax(x, 1).toArray(), [0.5, 0.5, 0.25, 0.75], { atol: 1e-6, rtol: 1e-6 }, 'softmax(x, 1)');
  assert.throws(() => softmax(x, 0), /softmax: dim 0 is not supported for \[2, 2\]: the last axis only/);
});

test('add and mul take a number on either side (torch.add(x, 1), 2 * x), with gradients; an array operand is refused by name', async () => {
  const x = tensor([1, 2], { requiresGrad: true });
  assert.equal(await values(add(x, 1)), { shape: [2], data: [2, 3] });
  assert.equal(await values(add(10, x)), { shape: [2], data: [11, 12] });
  assert.equal(await values(mul(x, 3)), { shape: [2], data: [3, 6] });
  assert.equal(await values(mul(-1, x)), { shape: [2], data: [-1, -2] });
  const y = add(x, 5);
  sum(mul(y, y)).backward(); // d/dx (x + 5)² = 2(x + 5)
  assert.equal(Array.from(await x.grad!.toArray()), [12, 14]);
  assert.throws(() => add(x, [1, 2] as never), /add: the second operand must be a tensor or a number, got an array \(make it a tensor: tensor\(\[\.\.\.\]\)\)/);
  assert.throws(() => mul(2 as never, 3 as never), /mul: at least one operand must be a tensor/);
  assert.throws(() => mul(undefined as never, x), /mul: the first operand must be a tensor or a number, got undefined/);
});

test('transpose(x, dim0, dim1), permute(x, 2, 0, 1), reshape(x, 2, -1) and x.view(3, 2) as torch\'s, gradients through them', async () => {
  const x = tensor([[[1, 2, 3], [4, 5, 6]]], { requiresGrad: true }); // [1, 2, 3]
  assert.equal(await values(transpose(x, 0, 1)), { shape: [2, 1, 3], data: [1, 2, 3, 4, 5, 6] });
  assert.equal(await values(transpose(x, -1, 0)), { shape: [3, 2, 1], data: [1, 4, 2, 5, 3, 6] });
  assert.equal(await values(transpose(x)), { shape: [1, 3, 2], data: [1, 4, 2, 5, 3, 6] });
  assert.equal(await values(permute(x, 2, 0, 1)), { shape: [3, 1, 2], data: [1, 4, 2, 5, 3, 6] });
  assert.equal(await values(permute(x, [-1, 0, 1])), { shape: [3, 1, 2], data: [1, 4, 2, 5, 3, 6] });
  assert.equal(await values(reshape(x, 2, -1)), { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
  assert.equal(await values(x.view(3, 2)), { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] });
  assert.equal(await values(x.view([-1])), { shape: [6], data: [1, 2, 3, 4, 5, 6] });
  sum(mul(transpose(x, 0, 2), tensor([[[1], [10]], [[100], [1000]], [[0], [0]]]))).backward(); // [3, 2, 1] weights of x[0, j, i]
  assert.equal(Array.from(await x.grad!.toArray()), [1, 100, 0, 10, 1000, 0]);
  assert.throws(() => transpose(x, 0, 3), /transpose: dim 3 is out of range for \[1, 2, 3\]/);
  assert.throws(() => permute(x, 0, 1), /permute: \[0, 1\] is not a permutation of the 3 axes/);
  assert.throws(() => x.view(4, 2), /view: cannot view \[1, 2, 3\] \(6 elements\) as \[4, 2\]/);
  assert.throws(() => reshape(x, -1, -1), /reshape: cannot view/);
});

test('gelu(x, { approximate }) and matmul(a, b, { transpose_b }) take torch\'s spellings; what they do not implement is refused', async () => {
  const x = tensor([[1, 2], [3, 4]]);
  const y = tensor([[1, 0], [0, 1], [1, 1]]);
  assert.equal(await values(matmul(x, y, { transpose_b: true })), { shape: [2, 3], data: [1, 2, 3, 3, 4, 7] });
  assert.throws(() => matmul(x, y, { transpose: true } as never), /matmul: unknown option 'transpose'; known options: transposeA \(transpose_a\), transposeB \(transpose_b\)/);
  assert.equal((await values(gelu(x, { approximate: 'none' }))).shape, [2, 2]);
  assert.throws(() => gelu(x, { approximate: 'tanh' } as never), /gelu: approximate "tanh" is not implemented \(only 'none', the exact erf form\)/);
  assert.throws(() => gelu(x, { inplace: true } as never), /gelu: unknown option 'inplace'/);
});

test('nn.LayerNorm(n) has torch\'s eps 1e-5, also as { eps }; named_parameters() iterates [name, parameter] as torch\'s', async () => {
  assert.is(new LayerNorm(4).eps, 1e-5);
  assert.is(new LayerNorm(4, 1e-12).eps, 1e-12);
  const ln = new LayerNorm(2, { eps: 0.5 });
  assert.is(ln.eps, 0.5);
  // [1, 3]: mean 2, variance 1, so (x - 2) / sqrt(1 + 0.5).
  assertClose(await ln.forward(tensor([[1, 3]])).toArray(), [-1 / Math.sqrt(1.5), 1 / Math.sqrt(1.5)], { atol: 1e-6, rtol: 1e-6 }, 'LayerNorm with eps 0.5');
  assert.throws(() => new LayerNorm(4, { epsilon: 1e-5 } as never), /LayerNorm: unknown option 'epsilon'; known options: eps/);
  assert.throws(() => new LayerNorm(4, -1), /LayerNorm: eps must be a positive number, got -1/);
  const names = [...new Linear(3, 2).named_parameters()].map(([name, p]) => `${name} [${p.shape}]`);
  assert.equal(names, ['weight [2,3]', 'bias [2]']);
});

test('optimizer.zero_grad() as torch\'s: the next backward starts from zero', async () => {
  const w = tensor([1, 2], { requires_grad: true });
  const optimizer = new AdamW([w], { lr: 0.1 });
  sum(mul(w, 3)).backward();
  optimizer.zero_grad();
  sum(mul(w, 2)).backward();
  assert.equal(Array.from(await w.grad!.toArray()), [2, 2]);
  assert.throws(() => optimizer.zero_grad('yes' as never), /set_to_none must be true or false/);
  optimizer.dispose();
});

test('crossEntropy takes labels as number[], as torch\'s class indices (they gave a NaN loss: read as f32 bits)', async () => {
  const logits = tensor([[0, 0, 0], [1, 2, 3]]);
  const fromArray = await crossEntropy(logits, [2, 0]).item();
  assertClose([fromArray], [await crossEntropy(logits, Int32Array.from([2, 0])).item()], { atol: 0, rtol: 0 }, 'number[] as Int32Array');
  assertClose([fromArray], [(Math.log(3) + (Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 1)) / 2], { atol: 1e-6, rtol: 1e-6 }, 'the loss');
  assert.throws(() => crossEntropy(logits, [2, 0.5]), /crossEntropy: label 0\.5 in row 1 is not an integer class index/);
});

test('w.requires_grad = true and w.requires_grad_() as torch\'s (the first set a property nothing read: no gradient, silently)', async () => {
  const w = tensor([1, 2]);
  w.requires_grad = true;
  assert.ok(w.requiresGrad && w.requires_grad);
  sum(mul(w, w)).backward();
  assert.equal(Array.from(await w.grad!.toArray()), [2, 4]);
  const v = tensor([3]).requires_grad_();
  assert.ok(v.requiresGrad);
  assert.not.ok(v.requires_grad_(false).requiresGrad);
  assert.throws(() => { w.requires_grad = 'yes' as never; }, /requires_grad must be true or false, got "yes"/);
});

test('optimizer.param_groups as torch\'s: g.lr and g.weight_decay written there are what the next step uses', async () => {
  const stepOnce = async (setUp: (o: AdamW) => void, options: { lr: number; weight_decay: number }) => {
    const w = tensor([1, -2, 3], { requires_grad: true });
    const optimizer = new AdamW([w], { lr: 0.5, weight_decay: 0.5 });
    setUp(optimizer);
    const fresh = tensor([1, -2, 3], { requires_grad: true });
    const reference = new AdamW([fresh], options);
    for (const [p, o] of [[w, optimizer], [fresh, reference]] as const) {
      sum(mul(p, p)).backward();
      o.step();
    }
    const [got, expected] = [Array.from(await w.toArray()), Array.from(await fresh.toArray())];
    optimizer.dispose();
    reference.dispose();
    return { got, expected };
  };
  const { got, expected } = await stepOnce((o) => { for (const g of o.param_groups) { g.lr = 0.01; g.weight_decay = 0; } }, { lr: 0.01, weight_decay: 0 });
  assert.equal(got, expected);
  const w = tensor([1], { requires_grad: true });
  const o = new AdamW([w]);
  assert.is(o.param_groups, o.groups);
  assert.throws(() => { o.param_groups[0].weight_decay = -1; }, /weight_decay must be a finite number >= 0, got -1/);
  o.dispose();
});

test('x.numel(), x.dim(), x.ndim as torch\'s; x.dims as transformers.js\'s', () => {
  const x = zeros([2, 3, 4]);
  assert.is(x.numel(), 24);
  assert.is(x.dim(), 3);
  assert.is(x.ndim, 3);
  assert.equal(x.dims, [2, 3, 4]);
  assert.is(tensor(5).numel(), 1);
  assert.is(tensor(5).dim(), 0);
});

test('state_dict() and load_state_dict() as torch\'s: names to tensors, copied in after every entry is checked', async () => {
  const a = new Linear(3, 2);
  const b = new Linear(3, 2);
  const sd = a.state_dict();
  assert.equal(Object.keys(sd), ['weight', 'bias']);
  assert.equal(b.load_state_dict(sd), { missing_keys: [], unexpected_keys: [] });
  const x = tensor([[1, -2, 0.5]]);
  assert.equal(Array.from(await b.forward(x).toArray()), Array.from(await a.forward(x).toArray()));
  b.load_state_dict({ weight: [1, 0, 0, 0, 1, 0], bias: new Float32Array([10, 20]) });
  assert.equal(Array.from(await b.forward(x).toArray()), [11, 18]);
  const before = Array.from(await b.weight.toArray());
  assert.throws(() => b.load_state_dict({ weight: zeros([3, 2]), bias: zeros([2]) }), /Error\(s\) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a param with shape \[3, 2\] from checkpoint, the shape in current model is \[2, 3\]/);
  assert.throws(() => b.load_state_dict({ weight: zeros([2, 3]), bais: zeros([2]) }), /Missing key\(s\) in state_dict: "bias"\.\n\tUnexpected key\(s\) in state_dict: "bais"\./);
  assert.equal(Array.from(await b.weight.toArray()), before, 'nothing was copied');
  assert.equal(b.load_state_dict(new Map([['bias', zeros([2])], ['extra', zeros([1])]]), { strict: false }), { missing_keys: ['weight'], unexpected_keys: ['extra'] });
  assert.equal(Array.from(await b.bias.toArray()), [0, 0]);
  assert.throws(() => b.load_state_dict({}, { strcit: false } as never), /load_state_dict: unknown option 'strcit'; known options: strict/);
  assert.throws(() => b.load_state_dict({ weight: 'w' as never }, { strict: false }), /weight: expected a Tensor, Float32Array or number\[\], got string/);
});

test.run();
