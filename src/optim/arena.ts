// The parameter arena: parameters and their gradients in a few large buffers
// (chunks), each tensor a view at an offset aligned to the device's
// minStorageBufferOffsetAlignment, as llm.c's malloc_and_point_parameters. The
// optimizer then updates a chunk in one dispatch and clips it in one reduction,
// in place, with no gather or scatter; zeroGrad is one clearBuffer per chunk.
//
// Who builds it: AdamW, over the parameters it is given (so `new AdamW(model.parameters())`
// gets one). Building moves each parameter in: its values are copied to its view
// and the Tensor object is re-pointed there (Tensor.moveTo), so the model and user
// code keep their references; the parameter's own buffer is destroyed. Loading
// weights later (checkpoints, resume, assign) writes into the views.
//
// Layout and lifetime:
// - A layout (the chunks, each parameter's offset) outlives the optimizer that made it:
//   parameter chunks are held only by the parameters' views, so they live as long as
//   the model. A later AdamW over the same parameters in the same order (a Trainer's
//   next train(), a resume) reuses the layout without copying anything; any other
//   list builds a new layout and moves the parameters again.
// - Gradient chunks belong to one ParameterArena (one AdamW): each parameter's
//   gradSlot is its view there, leaf gradients accumulate into it (autograd.ts), and
//   param.grad is a handle on it. dispose() drops the gradients and frees the chunks.
//   A newer arena over the same parameters takes the slots over; the older one then
//   refuses to step.
// - Invariant clipping relies on: a slot whose parameter has no gradient (grad null)
//   holds zeros (chunks start cleared; zeroGrad clears; `grad = null` clears the slot).
// The chunk's gaps (alignment padding, and up to 3 elements at its end: chunks are whole vec4s,
// as the optimizer's kernels read them) hold zeros in the gradient chunk and are left alone by
// AdamW.

import { gpu } from '../gpu/device.js';
import { emptyExact, keep, type Tensor } from '../tensor.js';

/** A parameter's place: `offset` elements into its chunk. */
export interface ArenaSlot {
  readonly param: Tensor;
  readonly offset: number;
}

interface LayoutChunk {
  readonly slots: readonly ArenaSlot[];
  /** Elements the chunk's buffers hold (the last slot's end, rounded up to a multiple of 4). */
  readonly elements: number;
}

interface Layout {
  readonly chunks: readonly LayoutChunk[];
  /** The chunkElements limit it was laid out under. */
  readonly limit: number;
}

/** One chunk as an arena uses it: handles on the parameter and gradient buffers, and each slot's gradient view. */
export interface ArenaChunk extends LayoutChunk {
  readonly params: Tensor;
  readonly grads: Tensor;
  readonly gradSlots: readonly Tensor[];
}

const layouts = new WeakMap<Tensor, Layout>();
/** Each live gradient slot's chunk, for clipGradNorm. */
const chunkOfSlot = new WeakMap<Tensor, ArenaChunk>();

export class ParameterArena {
  readonly chunks: readonly ArenaChunk[];
  private readonly names: Map<Tensor, string>;
  private disposed = false;

  /**
   * Lays `entries` out in chunks of at most `chunkElements` elements, rounded down to a multiple
   * of 4 (default: as many as a storage binding holds), in order (packed runs kept together:
   * packsTogether), a new chunk when the next one does not fit, and moves them in; reuses the layout they are already in when it is the same.
   */
  constructor(entries: readonly { param: Tensor; name: string }[], chunkElements?: number) {
    const limits = gpu().device.limits;
    const most = Math.min(Math.floor(limits.maxStorageBufferBindingSize / 4), Math.floor(limits.maxBufferSize / 4), chunkElements ?? Infinity);
    const limit = Math.floor(most / 4) * 4; // whole vec4s
    this.names = new Map(entries.map((e) => [e.param, e.name]));
    const ordered = packsTogether(entries);
    const layout = reusableLayout(ordered, limit) ?? newLayout(ordered, limit);
    this.chunks = layout.chunks.map((chunk) => {
      const params = keep(chunk.slots[0].param.viewAt(0, [chunk.elements]));
      const grads = keep(emptyExact(chunk.elements));
      gpu().clear(grads.buffer, 0, grads.byteLength);
      const gradSlots = chunk.slots.map(({ param, offset }) => {
        const slot = keep(grads.viewAt(offset * 4, param.shape));
        const own = param.grad;
        param.gradSlot = slot;
        if (own) {
          param.grad = own; // its values into the slot
          own.dispose();
        }
        return slot;
      });
      const used: ArenaChunk = { ...chunk, params, grads, gradSlots };
      for (const slot of gradSlots) chunkOfSlot.set(slot, used);
      return used;
    });
  }

  /** Throws unless every parameter still has this arena's gradient slot (a newer arena takes them over). */
  checkOwned(who: string): void {
    if (this.disposed) throw new Error(`${who}: the optimizer was disposed`);
    for (const chunk of this.chunks) {
      chunk.slots.forEach(({ param }, k) => {
        if (param.gradSlot !== chunk.gradSlots[k]) {
          throw new Error(`${who}: parameter ${this.names.get(param)} now belongs to another optimizer's arena (a newer AdamW over it); step the newer one, or dispose it and build this one again`);
        }
      });
    }
  }

  /** Drops every gradient: one clearBuffer per chunk. */
  zeroGrad(): void {
    this.checkOwned('zeroGrad');
    const runtime = gpu();
    for (const chunk of this.chunks) {
      runtime.clear(chunk.grads.buffer, 0, chunk.grads.byteLength);
      for (const { param } of chunk.slots) param.dropZeroedGrad();
    }
  }

  /** Drops the gradients and frees the gradient chunks; the parameters stay in their views (the model keeps them). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const chunk of this.chunks) {
      chunk.slots.forEach(({ param }, k) => {
        if (param.gradSlot !== chunk.gradSlots[k]) return;
        param.dropZeroedGrad();
        param.gradSlot = null;
      });
      for (const slot of chunk.gradSlots) slot.dispose();
      chunk.grads.dispose();
      chunk.params.dispose();
    }
  }
}

/**
 * clipGradNorm's pieces: the gradient chunks whose every gradient is among `params`
 * (reduced and scaled whole), and the gradients of the other parameters (one by one).
 */
export function gradientPieces(params: readonly Tensor[]): Tensor[] {
  const given = new Set(params);
  const whole = new Set<ArenaChunk>();
  const partial = new Set<ArenaChunk>();
  for (const p of params) {
    const chunk = p.gradSlot && chunkOfSlot.get(p.gradSlot);
    if (!chunk || whole.has(chunk) || partial.has(chunk)) continue;
    const covered = chunk.slots.every(({ param }, k) => param.gradSlot !== chunk.gradSlots[k] || !param.grad || given.has(param));
    (covered ? whole : partial).add(chunk);
  }
  const pieces: Tensor[] = [...whole].map((c) => c.grads);
  for (const p of params) {
    const chunk = p.gradSlot && chunkOfSlot.get(p.gradSlot);
    if (p.grad && !(chunk && whole.has(chunk))) pieces.push(p.grad);
  }
  return pieces;
}

/**
 * `entries` in order, except that parameters lying back to back in one buffer (a packed run:
 * packTensors, e.g. BERT's query, key and value weights; or an earlier arena's chunk) are laid out
 * together, in their order there, at the place of the run's first entry: packed they stay (so a
 * linear over them stays one product, linear() in src/ops/matmul.ts), whatever order the
 * optimizer was given them in.
 */
function packsTogether<E extends { param: Tensor }>(entries: readonly E[]): E[] {
  const byBuffer = new Map<GPUBuffer, E[]>();
  for (const e of entries) {
    const list = byBuffer.get(e.param.buffer);
    if (list) list.push(e);
    else byBuffer.set(e.param.buffer, [e]);
  }
  const runOf = new Map<E, E[]>();
  for (const list of byBuffer.values()) {
    list.sort((a, b) => a.param.byteOffset - b.param.byteOffset);
    let run: E[] = [];
    for (const e of list) {
      const last = run[run.length - 1];
      if (!last || last.param.byteOffset + last.param.byteLength !== e.param.byteOffset) run = [];
      run.push(e);
      runOf.set(e, run);
    }
  }
  const placed = new Set<E>();
  const out: E[] = [];
  for (const e of entries) {
    if (placed.has(e)) continue;
    for (const member of runOf.get(e)!) {
      placed.add(member);
      out.push(member);
    }
  }
  return out;
}

function reusableLayout(entries: readonly { param: Tensor }[], limit: number): Layout | null {
  const layout = layouts.get(entries[0].param);
  if (!layout || layout.limit !== limit) return null;
  const slots = layout.chunks.flatMap((c) => c.slots);
  if (slots.length !== entries.length || slots.some((s, i) => s.param !== entries[i].param)) return null;
  // Still where the layout put them (nothing moved them into another one since).
  return layout.chunks.every((c) => c.slots.every((s) => !s.param.disposed && s.param.buffer === c.slots[0].param.buffer && s.param.byteOffset === s.offset * 4))
    ? layout
    : null;
}

function newLayout(entries: readonly { param: Tensor; name: string }[], limit: number): Layout {
  const align = Math.max(4, gpu().device.limits.minStorageBufferOffsetAlignment / 4); // elements: a slot starts a vec4
  const chunks: ArenaSlot[][] = [];
  let current: ArenaSlot[] = [];
  let end = 0;
  for (const { param, name } of entries) {
    if (param.size > limit) {
      throw new Error(`AdamW: parameter ${name} [${param.shape}] has more elements (${param.size}) than an arena chunk holds (${limit}); it is not split`);
    }
    const offset = Math.ceil(end / align) * align;
    if (current.length && offset + param.size > limit) {
      chunks.push(current);
      current = [];
    }
    const at = current.length ? offset : 0;
    current.push({ param, offset: at });
    end = at + param.size;
  }
  chunks.push(current);
  const layout: Layout = {
    limit,
    chunks: chunks.map((slots) => {
      const last = slots[slots.length - 1];
      const elements = Math.max(4, Math.ceil((last.offset + last.param.size) / 4) * 4);
      const buffer = emptyExact(elements);
      for (const { param, offset } of slots) {
        const view = buffer.viewAt(offset * 4, param.shape);
        param.moveTo(view);
        view.dispose();
      }
      buffer.dispose(); // the parameters' views hold the chunk now
      return { slots, elements };
    }),
  };
  for (const { param } of entries) layouts.set(param, layout);
  return layout;
}
