// The autograd graph. Each op output that depends on a tensor with
// requiresGrad gets a GradFn: its inputs, a backward function and the extra
// tensors it saved. loss.backward() walks the graph in reverse topological
// order.
//
// Gradient convention (the one place it is written down):
// - A GradFn's backward(dOut) returns one gradient per input (null where the
//   input needs none), each of the input's shape. It may return dOut itself.
// - Gradients of intermediate tensors are summed out of place as they arrive.
// - Gradients of leaves (tensors created with requiresGrad) are summed into
//   leaf.grad in place, across backward() calls too, as in PyTorch: gradient
//   accumulation is several backward() calls before one optimizer step, and
//   the optimizer's zeroGrad() drops them. The first contribution after that
//   is copied: into the leaf's slot in its parameter arena when it has one
//   (tensor.ts, the grad setter; src/optim/arena.ts), else into a buffer of
//   its own; later ones are added in place. leaf.grad !== null is the "has a
//   gradient this step" mark AdamW and clipping read.
// - Or the first contribution is written straight into the slot: backward(dOut,
//   into) gets into[k], a view of input k's slot while it is empty (all zeros),
//   and an op that writes input k's gradient there returns into[k] itself (no
//   temporary, no copy); later contributions of that backward() are summed into
//   the slot in place.
// The seed dLoss/dLoss = 1 is uploaded once per device and handed out as views.
// Lifetime (as tfjs's tape and PyTorch): backward() disposes only what the
// graph owns — each node's saved tensors, once its backward has run, and the
// gradients of intermediate tensors. The op outputs themselves belong to
// whoever made them: they stay readable after backward() until their tidy()
// scope ends or they are disposed, and the node is detached (gradFn = null).
// An output disposed before any backward ran its node takes the node along
// (tensor.ts, dispose and freeGraph): a forward recorded and never backwarded
// (an evaluation outside noGrad) leaves nothing behind once its outputs go.
// The exception proves the rule: intermediates a module's forward created and
// did not return (tensor.ts, graphScope) are unreachable by any caller, so the
// graph owns them: it frees each as the module returns when no backward reads
// it directly (the ops' backward read only their saved handles: readsOnlySaved),
// else right after its node's backward.

import { gpu } from './gpu/device.js';
import type { Runtime } from './gpu/runtime.js';
import { Tensor, installBackward, keep, ones, type GradFn } from './tensor.js';
import { addInPlace, copy, sumOf } from './ops/accumulate.js';

export type { GradFn } from './tensor.js';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording a graph (evaluation, optimizer updates, backward itself). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/**
 * Attaches a GradFn to an op's output when grad is enabled and an input needs
 * a gradient; otherwise disposes `saved` at once. Returns `out`.
 * `readsOnlySaved`: backward reads the data of no tensor but `saved` (views the
 * op took of the inputs or output it needs): the graph may then free `out` and
 * `inputs` before backward (see GradFn). Without it they stay until backward.
 */
export function record(
  out: Tensor,
  name: string,
  inputs: readonly Tensor[],
  backward: GradFn['backward'],
  saved: readonly Tensor[] = [],
  { readsOnlySaved = false }: { readsOnlySaved?: boolean } = {},
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { name, inputs, backward, saved, readsOnlySaved };
    for (const t of inputs) t.graphUses++;
    for (const t of saved) t.savedByGraph = true;
    if (!readsOnlySaved) for (const t of [out, ...inputs]) t.readByBackward = true;
  } else {
    for (const t of saved) t.dispose();
  }
  return out;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: BERT-base's graph is deep enough to matter for recursion.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    if (t.spentGraph) {
      throw new Error(`backward(): the graph through ${t.spentGraph}'s output (shape [${t.shape.join(', ')}]) was already run and freed by an earlier backward(); ` +
        'as in PyTorch without retain_graph, run the forward again, sum the losses and call backward() once, or detach() what should count as a constant');
    }
    for (const input of t.gradFn?.inputs ?? []) {
      if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
    }
  }
  return order; // inputs before the tensors computed from them
}

/** From root, seeded with dL/droot = gradient (a scalar root: 1 when none is given). */
function backward(root: Tensor, gradient?: Tensor): void {
  if (!gradient && root.size !== 1) throw new Error(`backward() needs a scalar, or a gradient of the tensor's shape; got shape [${root.shape.join(', ')}]`);
  if (gradient && (gradient.dtype !== 'f32' || gradient.shape.join() !== root.shape.join())) {
    throw new Error(`backward(gradient): gradient ${gradient.dtype} [${gradient.shape.join(', ')}] for a tensor f32 [${root.shape.join(', ')}]`);
  }
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not depend on anything with requiresGrad');
  noGrad(() => {
    const order = topologicalOrder(root);
    const grads = new Map<Tensor, Tensor>([[root, (gradient ?? seed()).detachedView(root.shape)]]);
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const fn = t.gradFn;
      const dOut = grads.get(t);
      grads.delete(t);
      if (!fn) {
        if (dOut) accumulateIntoLeaf(t, dOut);
        continue;
      }
      if (dOut) {
        const into = slotsOffered(fn.inputs, grads);
        const inputGrads = fn.backward(dOut, into);
        const returned = new Set<Tensor>();
        into.forEach((slot, k) => {
          if (slot && inputGrads[k] !== slot) slot.dispose();
          else if (slot) inSlot.add(slot);
        });
        fn.inputs.forEach((input, k) => {
          let g = inputGrads[k];
          if (!g || !input.requiresGrad) {
            if (g && g !== dOut && !returned.has(g)) g.dispose();
            return;
          }
          if (g.shape.join() !== input.shape.join()) {
            throw new Error(`${fn.name} backward: gradient [${g.shape.join(', ')}] for input [${input.shape.join(', ')}]`);
          }
          // dOut, or one tensor returned for two inputs, gets a handle of its own.
          if (g === dOut || returned.has(g)) g = g.detach();
          returned.add(g);
          const existing = grads.get(input);
          if (existing && inSlot.has(existing)) {
            addInPlace(existing, g);
            g.dispose();
          } else if (existing) {
            grads.set(input, sumOf(existing, g));
            existing.dispose();
            g.dispose();
          } else {
            grads.set(input, g);
          }
        });
        dOut.dispose();
      }
      for (const s of fn.saved) s.dispose();
      for (const input of fn.inputs) input.graphUses--;
      t.gradFn = null;
      t.spentGraph = fn.name;
      if (t.ownedByGraph) t.dispose();
    }
  });
}

/** Gradients an op wrote straight into a leaf's arena slot (backward's `into`), until the leaf takes them. */
const inSlot = new WeakSet<Tensor>();

/**
 * backward's `into`: for each input that is a leaf with an arena slot and no gradient yet (none
 * this step, none arrived in this backward), a view of its slot; null for the others, and for a
 * leaf's second place among the inputs.
 */
function slotsOffered(inputs: readonly Tensor[], grads: Map<Tensor, Tensor>): (Tensor | null)[] {
  const offered = new Set<Tensor>();
  return inputs.map((t) => {
    if (t.gradFn || !t.requiresGrad || !t.gradSlot || t.grad || grads.has(t) || offered.has(t)) return null;
    offered.add(t);
    return t.gradSlot.detachedView(t.shape);
  });
}

const seeds = new WeakMap<Runtime, Tensor>();

/** The one-element 1 backward() starts from, uploaded once per device (gradients never write into it). */
function seed(): Tensor {
  const runtime = gpu();
  let one = seeds.get(runtime);
  if (!one) seeds.set(runtime, (one = keep(ones([1]))));
  return one;
}

function accumulateIntoLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad) addInPlace(leaf.grad, g);
  // A handle that shares storage with another gradient must not be summed into in place later:
  // the first contribution is copied, into the arena slot by the setter (nothing to copy when
  // backward wrote it there: `into`) or into a buffer of its own.
  else leaf.grad = leaf.gradSlot ? g : keep(copy(g));
  g.dispose();
}

installBackward(backward, (out, source) =>
  record(out, 'view', [source], (dOut) => [dOut.detachedView(source.shape)], [], { readsOnlySaved: true }));
