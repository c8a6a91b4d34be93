// Tensor: a shape, a dtype and a GPU buffer (its bytes from byteOffset), plus
// what autograd needs (requiresGrad, grad, gradFn). Buffers come from the
// runtime's pool and go back to it on dispose(); views (reshape) share one
// refcounted storage. A parameter arena (src/optim/arena.ts) puts many tensors
// in one storage, each a view at an aligned offset; its tensors keep their
// identity when moved there (moveTo), and a leaf's gradient accumulates into
// its arena slot (gradSlot, see the grad setter).
//
// Lifetime, one rule: a tensor lives until it is disposed or until the tidy(fn)
// scope that created it ends (except what fn returns and what keep() marks).
// backward() frees only the graph's own saved tensors and intermediate
// gradients, never a tensor a caller may hold (see autograd.ts).

import { gpu } from './gpu/device.js';
import { checkOptions, type WithSnakeCase } from './options.js';

/** An op output's graph node (autograd.ts records and walks them). */
export interface GradFn {
  /** The op's name, for error messages. */
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /**
   * Returns one gradient per input, of that input's shape, or null. `into[k]`, when not null, is
   * where input k's gradient may be written instead of a new tensor (its parameter arena slot);
   * an op that writes it there returns into[k] itself (autograd.ts).
   */
  readonly backward: (dOut: Tensor, into: readonly (Tensor | null)[]) => (Tensor | null)[];
  /** Tensors the op created only for backward (mean, rstd, …, or views of what it reads); freed after it. */
  readonly saved: readonly Tensor[];
  /**
   * true: backward reads no tensor's data but `saved` (handles of its own): the graph may free
   * the handles of its inputs and output before backward runs (graphScope). false (what a custom
   * op gets unless it says so): backward may read its inputs and output, which then stay.
   */
  readonly readsOnlySaved: boolean;
}

/** 'f16': IEEE binary16, written only by ops (src/ops/cast.ts) on adapters with shader-f16; read back as float32. */
export type DType = 'f32' | 'i32' | 'f16';

const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, i32: 4, f16: 2 };

/** A pooled GPU buffer shared by a tensor and its views; it goes back to the pool it came from (a device closed since holds it no more). */
class Storage {
  refs = 1;
  private readonly pool = gpu().pool;
  /** Host bytes standing for the buffer's, for the garbage collector (see `undisposed`). */
  private shadow: ArrayBuffer | null = null;
  constructor(readonly buffer: GPUBuffer) {}

  /** Makes the collector count this buffer's bytes (up to SHADOW_CAP) while its storage is reachable: set once a tensor escapes every scope. */
  weigh(): void {
    this.shadow ??= new ArrayBuffer(Math.min(this.buffer.size, SHADOW_CAP));
  }

  /** Drops one reference; the last one returns the buffer to the pool (or destroys it: `discard`). */
  release(discard = false): void {
    if (--this.refs > 0) return;
    if (discard) this.pool.discard(this.buffer);
    else this.pool.release(this.buffer);
  }
}

/**
 * A tensor garbage-collected without dispose() drops its reference on its storage then, as
 * torch's tensors free their memory when the last reference goes: a loop written as torch's
 * (out = model(batch); out.loss.backward(); …, never disposing out.logits) stays flat instead
 * of leaking a batch's outputs per step. Reclaiming is the collector's timing; dispose() and
 * tidy() stay the way to free at once. Work already recorded on the buffer runs before
 * whatever reuses it (one queue, in order), as after dispose().
 */
const undisposed = new FinalizationRegistry<Storage>((storage) => storage.release());
/**
 * The collector runs when the JS heap or its external memory grows; a tensor's GPU bytes are
 * neither, so a tensor returned out of the outermost tidy() or module forward (a model's output:
 * what a torch-style loop drops each step) carries an ArrayBuffer of its size, up to this cap, as
 * external memory (measured: a torch-style loop of the tiny model's MLM stays at 32 MiB in use
 * for 140 steps, where it grew 1.5 MiB a step, its logits, with the registry alone). Tensors
 * made outside any scope (parameters among them) carry none: they are reclaimed when the
 * collector runs for its own reasons.
 */
const SHADOW_CAP = 16 * 2 ** 20;

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  requiresGrad: boolean;
  /**
   * Internal (src/optim/arena.ts): where this leaf's gradient lives, a view of its parameter
   * arena's gradient chunk; null: the gradient gets a buffer of its own.
   */
  gradSlot: Tensor | null = null;
  /** How this tensor was computed, while its graph is alive. */
  gradFn: GradFn | null = null;
  /** An intermediate no caller can reach (see graphScope) or one its caller disposed while a node still uses it (dispose): backward() frees it once its node has run; freeGraph once no node uses it. */
  ownedByGraph = false;
  /** Internal (autograd.ts): a node whose backward reads its inputs and output directly (readsOnlySaved false) has this tensor among them. */
  readByBackward = false;
  /** Internal (autograd.ts): how many graph nodes not yet run or freed list this tensor among their inputs (freeGraph). */
  graphUses = 0;
  /** Internal (autograd.ts): a node's saved tensor, which its graph frees (after its backward, or with the node): tidy() leaves it alone. */
  savedByGraph = false;
  /** Internal (autograd.ts): the op whose node computed this tensor, once backward ran and freed that node; backward refuses to pass through it again. */
  spentGraph: string | null = null;
  private storage: Storage | null;
  private offset: number;
  private gradValue: Tensor | null = null;

  /** Internal: use tensor(), zeros(), … or an op. */
  constructor(shape: readonly number[], dtype: DType, storage?: Storage, byteOffset = 0) {
    checkSize(shape, dtype);
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
    this.requiresGrad = false;
    if (storage) storage.refs++;
    this.storage = storage ?? new Storage(gpu().pool.acquire(Math.max(4, this.byteLength)));
    undisposed.register(this, this.storage, this);
    this.offset = byteOffset;
    track(this);
  }

  /**
   * Gradient of the last backward() with respect to this tensor (leaves only). For a
   * parameter in an arena (an AdamW's) it is a view of the parameter's gradient slot:
   * assigning a tensor copies its values into the slot (nothing to copy when it is a view of
   * the slot itself; either way the tensor stays the caller's), assigning null zeroes the slot.
   */
  get grad(): Tensor | null {
    return this.gradValue;
  }

  set grad(g: Tensor | null) {
    const slot = this.gradSlot;
    const current = this.gradValue;
    if (slot && g) {
      if (g.dtype !== this.dtype || g.size !== this.size) {
        throw new Error(`gradient ${g.dtype} [${g.shape.join(', ')}] for tensor ${this.dtype} [${this.shape.join(', ')}]: needs its shape and dtype`);
      }
      if (!g.sameBytes(slot)) gpu().copy(g.buffer, slot.buffer, this.byteLength, g.byteOffset, slot.byteOffset);
      g = current && current.sameBytes(slot) ? current : keep(slot.detachedView(this.shape));
    } else if (slot && !g && current) {
      gpu().clear(slot.buffer, slot.byteOffset, slot.byteLength);
      current.dispose(); // a handle on the slot, owned by this tensor (as zeroGrad disposed gradients)
    }
    this.gradValue = g;
  }

  /** Internal (parameter arena): forgets the gradient, disposing its handle, once the arena zeroed its whole chunk. */
  dropZeroedGrad(): void {
    this.gradValue?.dispose();
    this.gradValue = null;
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get rank(): number {
    return this.shape.length;
  }

  /** torch's numel(): the number of elements (this.size). */
  numel(): number {
    return this.size;
  }

  /** torch's dim() and ndim: the number of axes. */
  dim(): number {
    return this.shape.length;
  }
  get ndim(): number {
    return this.shape.length;
  }

  /** transformers.js's dims: the shape. */
  get dims(): number[] {
    return [...this.shape];
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /**
   * The GPUBuffer holding the data, for other WebGPU code: byteLength bytes from byteOffset.
   * The buffer may hold other tensors too (a parameter arena's chunk): bind, copy or read
   * only that range.
   */
  get buffer(): GPUBuffer {
    return this.live().buffer;
  }

  /** Where the data starts in `buffer`: 0, or a multiple of minStorageBufferOffsetAlignment (a view in a parameter arena). */
  get byteOffset(): number {
    this.live();
    return this.offset;
  }

  /** The storage binding ops pass to dispatch(). */
  get binding(): { buffer: GPUBuffer; offset: number; size: number } {
    return { buffer: this.buffer, offset: this.offset, size: Math.max(4, this.byteLength) };
  }

  /**
   * The storage binding as whole vec4s (array<vec4f> in WGSL): byteLength rounded up to 16. The
   * lanes past the end hold whatever the buffer holds there; kernels mask them. Every buffer a
   * tensor starts a binding in is a multiple of 16 bytes (pool size classes, arena chunks), so
   * the rounded range fits.
   */
  get binding4(): { buffer: GPUBuffer; offset: number; size: number } {
    const size = Math.max(16, Math.ceil(this.byteLength / 16) * 16);
    if (this.offset % 16 !== 0 || this.offset + size > this.buffer.size) {
      throw new Error(`binding4: ${this.byteLength} bytes at ${this.offset} do not round to whole vec4s inside the ${this.buffer.size}-byte buffer`);
    }
    return { buffer: this.buffer, offset: this.offset, size };
  }

  /**
   * A new handle on the same bytes, outside the graph (requiresGrad false, no node), as
   * torch.Tensor.detach: what is computed from it sends no gradient back through this tensor.
   * An op's own handles on what its backward reads (GradFn.saved) are taken this way.
   */
  detach(): Tensor {
    return this.detachedView(this.shape);
  }

  /**
   * As torch's view: a new tensor of `shape` (the same element count) over the same bytes, and,
   * while grad is enabled, differentiable: its gradient reaches this tensor reshaped back.
   */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return viewHook(this.detachedView(resolveShape('view', this.shape, dims(shape))), this);
  }

  /** Internal: view(shape) outside the graph, as detach() then view: the engine's own handles, and the reshapes of ops that record their own node. */
  detachedView(shape: readonly number[]): Tensor {
    return new Tensor(shape, this.dtype, this.live(), this.offset);
  }

  /** Internal (parameter arena): a tensor of `shape` over this tensor's storage from `byteOffset` of its buffer. */
  viewAt(byteOffset: number, shape: readonly number[]): Tensor {
    const storage = this.live();
    const bytes = shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[this.dtype];
    if (byteOffset % 4 !== 0 || byteOffset + bytes > storage.buffer.size) {
      throw new Error(`viewAt(${byteOffset}, [${shape.join(', ')}]): outside the ${storage.buffer.size}-byte buffer or not 4-byte aligned`);
    }
    return new Tensor(shape, this.dtype, storage, byteOffset);
  }

  /**
   * Internal (parameter arena): records a copy of the values into `target`'s bytes (same shape
   * and dtype), and makes those bytes this tensor's storage from now on: the object, and every
   * reference to it, stays the same. The old buffer is destroyed once no other view holds it.
   */
  moveTo(target: Tensor): void {
    const old = this.live();
    if (target.dtype !== this.dtype || target.size !== this.size) throw new Error(`moveTo(): ${target} cannot hold ${this}`);
    const storage = target.live();
    gpu().copy(old.buffer, storage.buffer, this.byteLength, this.offset, target.offset);
    storage.refs++;
    undisposed.unregister(this);
    this.storage = storage;
    undisposed.register(this, storage, this);
    this.offset = target.offset;
    old.release(true);
  }

  /** Whether `other` is a handle on the very same bytes (same storage and offset). */
  private sameBytes(other: Tensor): boolean {
    return this.storage !== null && this.storage === other.storage && this.offset === other.offset;
  }

  private live(): Storage {
    if (!this.storage) throw new Error(`tensor [${this.shape.join(', ')}] was disposed`);
    return this.storage;
  }

  /** view(shape), then disposes this handle: for results computed in one shape and returned in another. */
  reshapeOwned(shape: readonly number[]): Tensor {
    const v = this.detachedView(shape);
    this.dispose();
    return v;
  }

  /** Uploads `data` (row-major, as many values as the tensor has, of its dtype) into this tensor's buffer, in the current recording. */
  assign(data: Float32Array | Int32Array | number[]): this {
    const values = Array.isArray(data) ? (this.dtype === 'i32' ? Int32Array.from(data) : Float32Array.from(data)) : data;
    const kind = values instanceof Int32Array ? 'i32' : 'f32';
    if (kind !== this.dtype) throw new Error(`assign(): ${kind} values into a ${this.dtype} tensor [${this.shape.join(', ')}]`);
    if (values.length !== this.size) throw new Error(`assign(): ${values.length} values into tensor [${this.shape.join(', ')}] (${this.size} elements)`);
    gpu().upload(values, this.buffer, this.byteOffset);
    return this;
  }

  /**
   * Records a copy of the values for reading back without a submission of its
   * own: the returned function, called once (at once, or after more work was
   * recorded), submits what is recorded so far (nothing if that went out
   * already) and resolves to the values. A failure is kept for whoever awaits it.
   */
  readLater(): () => Promise<Float32Array> {
    if (this.dtype !== 'f32') throw new Error(`readLater() reads f32 tensors; this one is ${this.dtype}`);
    const runtime = gpu();
    const readback = runtime.recordReadback(this.buffer, this.byteLength, this.byteOffset);
    return () => {
      runtime.flush();
      const values = readback().then((bytes) => new Float32Array(bytes));
      values.catch(() => {}); // awaited later; keeps a failure meanwhile from being reported as unhandled
      return values;
    };
  }

  /** Reads the values back (submits pending work); f16 values come back widened to float32 (exactly). */
  async toArray(): Promise<Float32Array> {
    if (this.dtype === 'f16') return Float32Array.from(new Uint16Array(await gpu().read(this.buffer, this.byteLength, this.byteOffset)), halfToFloat);
    if (this.dtype !== 'f32') throw new Error(`toArray() reads f32 and f16 tensors; this one is ${this.dtype} (use toInt32Array())`);
    return new Float32Array(await gpu().read(this.buffer, this.byteLength, this.byteOffset));
  }

  async toInt32Array(): Promise<Int32Array> {
    if (this.dtype !== 'i32') throw new Error(`toInt32Array() reads i32 tensors; this one is ${this.dtype}`);
    return new Int32Array(await gpu().read(this.buffer, this.byteLength, this.byteOffset));
  }

  /** The value of a one-element tensor (any dtype). */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a one-element tensor, got shape [${this.shape.join(', ')}]`);
    return (this.dtype === 'i32' ? await this.toInt32Array() : await this.toArray())[0];
  }

  /** The values as nested arrays in this tensor's shape (a number for a scalar), as torch's tolist(); read back as toArray. */
  async tolist(): Promise<number | NestedNumbers> {
    const flat = this.dtype === 'i32' ? await this.toInt32Array() : await this.toArray();
    const shape = this.shape;
    // Row-major: the block of axis d from `start` holds shape[d] blocks of axis d + 1, `stride` elements apart.
    const nest = (d: number, start: number): number | NestedNumbers => {
      if (d === shape.length) return flat[start];
      const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: shape[d] }, (_, i) => nest(d + 1, start + i * stride));
    };
    return nest(0, 0);
  }

  /**
   * Backpropagates from this tensor: fills .grad of every leaf that requires it. As torch's
   * backward(gradient): a scalar seeds with 1; any other shape needs `gradient`, dL/d(this), of its
   * shape (read, not consumed). torch's other options (retain_graph, create_graph, inputs) are refused.
   */
  backward(gradient?: Tensor, ...rest: unknown[]): void {
    if (rest.length) throw new Error(`backward(gradient?): ${rest.length + 1} arguments given; retain_graph, create_graph and inputs are not supported`);
    if (gradient !== undefined && !(gradient instanceof Tensor)) {
      throw new Error(`backward(gradient?): gradient must be a Tensor of shape [${this.shape.join(', ')}], got ${typeof gradient === 'object' ? JSON.stringify(gradient) : String(gradient)} (options such as retain_graph are not supported)`);
    }
    backwardHook(this, gradient);
  }

  /** Returns the buffer to the pool. Idempotent. */
  /**
   * Drops this handle. An op output whose graph node backward has not run yet follows PyTorch's
   * lifetime rather than breaking the graph: while a node computed from it is alive, the graph
   * takes it over (ownedByGraph, as graphScope's intermediates; its bytes stay only if a backward
   * reads them directly) and a later backward still flows through it; once none is, its node goes
   * with it, saved tensors and all, and so, upward, does every intermediate the graph alone held
   * (freeGraph). A forward recorded and never backwarded thus leaves nothing once its outputs go.
   */
  dispose(): void {
    const fn = this.gradFn;
    if (fn && this.graphUses > 0) {
      this.ownedByGraph = true;
      if (!this.readByBackward) this.releaseStorage();
      return;
    }
    this.releaseStorage();
    this.gradFn = null;
    if (fn) freeGraph(fn);
  }

  /** Internal (tidy, graphScope): this tensor leaves every scope for its caller's hands. */
  escape(): void {
    this.storage?.weigh();
  }

  /**
   * Internal (graphScope): drops this handle on the storage (the buffer goes back to the pool once
   * no view holds it) but keeps the graph node, of which backward needs only the shape.
   */
  releaseStorage(): void {
    if (!this.storage) return;
    undisposed.unregister(this);
    this.storage.release();
    this.storage = null;
  }

  /** torch's spelling of requiresGrad (`w.requires_grad = true` would otherwise set a property nothing reads). */
  get requires_grad(): boolean {
    return this.requiresGrad;
  }
  set requires_grad(value: boolean) {
    if (typeof value !== 'boolean') throw new Error(`requires_grad must be true or false, got ${JSON.stringify(value)}`);
    this.requiresGrad = value;
  }

  /** torch's requires_grad_(requires_grad=True): sets it and returns this tensor. */
  requires_grad_(value = true): this {
    this.requires_grad = value;
    return this;
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(', ')}]${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** The value of IEEE binary16 bits `h` (sign, 5 exponent bits biased by 15, 10 fraction bits). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Refuses a shape that is not whole numbers or whose buffer the device cannot bind, before anything is allocated. */
function checkSize(shape: readonly number[], dtype: DType): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
  }
  const bytes = shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
  const limit = gpu().device.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new Error(`tensor ${dtype} [${shape.join(', ')}] of ${bytes.toLocaleString('en-US')} bytes is over this device's maxStorageBufferBindingSize of ${limit.toLocaleString('en-US')} bytes`);
  }
}

/**
 * Frees a graph node no backward can reach any more: its saved tensors, then each of its inputs'
 * nodes that the graph owns (graphScope's intermediates, which no caller holds) once no other live
 * node uses that input. Iterative: a model's graph is thousands of nodes deep.
 */
function freeGraph(root: GradFn): void {
  const nodes = [root];
  while (nodes.length) {
    const fn = nodes.pop()!;
    for (const t of fn.saved) t.dispose();
    for (const input of fn.inputs) {
      input.graphUses--;
      if (input.ownedByGraph && input.graphUses === 0 && input.gradFn) {
        nodes.push(input.gradFn);
        input.gradFn = null;
        input.releaseStorage();
      }
    }
  }
}

// autograd.ts installs the backward pass here (it imports this module, not the reverse).
let backwardHook: (root: Tensor, gradient?: Tensor) => void = () => {
  throw new Error('autograd is not loaded');
};
/** Records `out`, a view of `source`, in the graph (autograd.ts: a node whose backward reshapes dOut back). */
let viewHook: (out: Tensor, source: Tensor) => Tensor = () => {
  throw new Error('autograd is not loaded');
};
export function installBackward(backward: (root: Tensor, gradient?: Tensor) => void, recordView: (out: Tensor, source: Tensor) => Tensor): void {
  backwardHook = backward;
  viewHook = recordView;
}

// ---------------------------------------------------------------- scopes ----

const scopes: Set<Tensor>[] = [];
const graphScopes: Set<Tensor>[] = [];

function track(t: Tensor): void {
  scopes.at(-1)?.add(t);
  graphScopes.at(-1)?.add(t);
}

/**
 * Runs fn (a module's forward) and hands the graph the intermediates it
 * created but does not return: nobody outside can hold them (dispose: the
 * graph takes over an op output that a node still uses). One that no
 * backward reads directly (its node and every node using it read only their
 * saved handles: GradFn.readsOnlySaved) is freed now, its node kept: what a
 * backward needs of it lives on in those handles (views), and its buffer goes
 * back to the pool, for the next layers' forward, once no view holds it. The
 * others backward() frees as soon as their node has run. Tensors without a
 * graph node are left to tidy(): a backward closure may still read them.
 */
export function graphScope<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  graphScopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    graphScopes.pop();
  }
  const returned = new Set(collectTensors(result));
  const escaping = graphScopes.length === 0 && scopes.length === 0;
  for (const t of scope) {
    if (returned.has(t)) {
      graphScopes.at(-1)?.add(t);
      if (escaping) t.escape();
    } else if (t.gradFn) t.dispose();
  }
  return result;
}

/**
 * Runs fn and disposes every tensor it created, except the tensors it returns
 * (a tensor, an array of them, or an object's values) and those passed to keep().
 * What a graph node saved for its backward is the graph's to free (autograd.ts), and an op
 * output a live node still uses passes to the graph (dispose): a loss returned from tidy()
 * still backwards through everything that computed it.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set(collectTensors(result));
  const escaping = graphScopes.length === 0 && scopes.length === 0;
  for (const t of scope) {
    if (survivors.has(t)) {
      scopes.at(-1)?.add(t);
      if (escaping) t.escape();
    } else if (!t.savedByGraph) t.dispose();
  }
  return result;
}

/** Exempts tensors from the enclosing tidy() scopes' disposal. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}

function collectTensors(value: unknown): Tensor[] {
  if (value instanceof Tensor) return [value];
  if (Array.isArray(value)) return value.flatMap(collectTensors);
  if (value && typeof value === 'object' && !(value instanceof Promise)) return Object.values(value).flatMap(collectTensors);
  return [];
}

// -------------------------------------------------------------- creation ----

export interface TensorOptions {
  requiresGrad?: boolean;
  /** 'f32', 'i32' or 'f16'; torch's and transformers.js' names 'float32', 'int32' and 'float16' as well. */
  dtype?: DType | 'float32' | 'int32' | 'float16';
}

/** The dtypes under torch's and transformers.js' names. */
const DTYPE_NAMES: Readonly<Record<string, DType>> = { f32: 'f32', i32: 'i32', f16: 'f16', float32: 'f32', int32: 'i32', float16: 'f16', float: 'f32', half: 'f16' };

/** `options` checked (camelCase or torch's snake_case: requires_grad), for `what` (tensor, zeros, …), with `extra` keys of its own; dtype by its engine name. */
function creationOptions<T extends TensorOptions>(what: string, options: WithSnakeCase<T> | undefined, extra: readonly (keyof T & string)[] = []): T & { dtype?: DType } {
  const checked = checkOptions<T>(what, options, ['requiresGrad', 'dtype', ...extra] as (keyof T & string)[]);
  if (checked.requiresGrad !== undefined && typeof checked.requiresGrad !== 'boolean') throw new Error(`${what}: requiresGrad must be true or false, got ${JSON.stringify(checked.requiresGrad)}`);
  if (checked.dtype === undefined) return checked as T & { dtype?: DType };
  const dtype = DTYPE_NAMES[String(checked.dtype)];
  if (!dtype) throw new Error(`${what}: dtype ${JSON.stringify(checked.dtype)} is not one of ${Object.keys(DTYPE_NAMES).map((d) => `'${d}'`).join(', ')}`);
  return { ...checked, dtype };
}

/** Nested arrays of numbers, as torch.tensor takes them: [[1, 2], [3, 4]] is [2, 2]. */
export type NestedNumbers = readonly (number | NestedNumbers)[];

/** Nested arrays -> their values row-major and their shape; a ragged row or a non-number is named by its index. */
function nestedValues(data: NestedNumbers): { values: number[]; shape: number[] } {
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = level[0]) shape.push(level.length);
  const values: number[] = [];
  const walk = (node: unknown, depth: number, at: number[]) => {
    if (depth === shape.length) {
      if (typeof node !== 'number') throw new Error(`tensor(): the value at [${at.join(', ')}] is ${Array.isArray(node) ? 'an array' : JSON.stringify(node)}, not a number`);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const where = at.length ? `[${at.join(', ')}]` : 'the data';
      throw new Error(`tensor(): ${where} has ${Array.isArray(node) ? node.length : 'no'} entries where [${at.slice(0, -1).concat(0).join(', ')}] has ${shape[depth]}: nested arrays must be rectangular (shape [${shape.slice(0, depth + 1).join(', ')}, …])`);
    }
    node.forEach((child, i) => walk(child, depth + 1, [...at, i]));
  };
  walk(data, 0, []);
  return { values, shape };
}

/** A shape given as one array or as its dims one by one (torch's view(2, 3) and view([2, 3])). */
export function dims(given: readonly number[] | [readonly number[]]): readonly number[] {
  return given.length === 1 && Array.isArray(given[0]) ? given[0] as readonly number[] : given as readonly number[];
}

/** `shape` for the elements of `from` (one dim may be -1, inferred), or an error naming both, for `what` (view, reshape). */
export function resolveShape(what: string, from: readonly number[], shape: readonly number[]): number[] {
  const size = from.reduce((a, b) => a * b, 1);
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = shape.map((d) => (d === -1 ? size / known : d));
  const ok = shape.filter((d) => d === -1).length <= 1 && resolved.every((d) => Number.isInteger(d) && d >= 0) && resolved.reduce((a, b) => a * b, 1) === size;
  if (!ok) throw new Error(`${what}: cannot view [${from.join(', ')}] (${size} elements) as [${shape.join(', ')}]`);
  return resolved;
}

/** An uninitialised tensor (ops write every element before anyone reads it). */
export function empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return new Tensor(shape, dtype);
}

/** Internal (parameter arena): an uninitialised f32 tensor [elements] in a buffer of exactly its size (an arena chunk; no size class rounding it up by a quarter). */
export function emptyExact(elements: number): Tensor {
  checkSize([elements], 'f32');
  const storage = new Storage(gpu().pool.acquire(Math.max(4, elements * 4), true));
  const t = new Tensor([elements], 'f32', storage);
  storage.release(); // the tensor's reference is the only one
  return t;
}

// ------------------------------------------------------ packed tensors ----
// Tensors laid back to back in one buffer act as their concatenation along the first axis, for
// free: a packed projection's weights [out_i, in] are one [Σ out_i, in] operand (one product).

/**
 * Moves `tensors` (one dtype) back to back into one new buffer, in order, when each one's bytes are
 * a whole number of minStorageBufferOffsetAlignment (so each stays bindable on its own); returns
 * whether it did (else they stay where they are). Values, objects and references are unchanged.
 */
export function packTensors(tensors: readonly Tensor[]): boolean {
  const align = gpu().device.limits.minStorageBufferOffsetAlignment;
  if (tensors.length < 2 || tensors.some((t) => t.dtype !== tensors[0].dtype || t.byteLength === 0 || t.byteLength % align !== 0)) return false;
  const bytes = tensors.reduce((n, t) => n + t.byteLength, 0);
  const buffer = new Tensor([bytes / BYTES_PER_ELEMENT[tensors[0].dtype]], tensors[0].dtype);
  let at = 0;
  for (const t of tensors) {
    const view = buffer.viewAt(at, t.shape);
    t.moveTo(view);
    view.dispose();
    at += t.byteLength;
  }
  buffer.dispose(); // the tensors' views hold the buffer now
  return true;
}

/** One tensor of `shape` over the bytes of `tensors` when they lie back to back in one buffer, in order (packTensors, an arena's chunk); else null. */
export function packedView(tensors: readonly Tensor[], shape: readonly number[]): Tensor | null {
  const first = tensors[0];
  const bytes = shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[first.dtype];
  if (bytes !== tensors.reduce((n, t) => n + t.byteLength, 0)) throw new Error(`packedView: [${shape.join(', ')}] for ${tensors.length} tensors of ${tensors.map((t) => `[${t.shape.join(', ')}]`).join(', ')}`);
  for (let i = 1; i < tensors.length; i++) {
    const [prev, t] = [tensors[i - 1], tensors[i]];
    if (t.dtype !== first.dtype || t.buffer !== first.buffer || t.byteOffset !== prev.byteOffset + prev.byteLength) return null;
  }
  return first.viewAt(first.byteOffset, shape);
}

/** A tensor holding `data` (row-major), uploaded in the current recording. */
/**
 * A tensor of `data`: a typed array or number[] (shape [n] unless `shape` is given), nested arrays
 * (their shape, as torch.tensor), or one number (shape []). Options may come second, as in
 * torch.tensor(data, dtype=..., requires_grad=...): tensor([[1, 2]], { requires_grad: true }).
 */
export function tensor(data: Float32Array | Int32Array | NestedNumbers | number, shapeOrOptions?: readonly number[] | WithSnakeCase<TensorOptions>, given?: WithSnakeCase<TensorOptions>): Tensor {
  const shapeGiven = Array.isArray(shapeOrOptions) || shapeOrOptions === undefined ? shapeOrOptions as readonly number[] | undefined : undefined;
  if (shapeGiven === undefined && shapeOrOptions !== undefined) {
    if (given !== undefined) throw new Error('tensor(): options given twice (second and third argument); pass tensor(data, shape, options) or tensor(data, options)');
    given = shapeOrOptions as WithSnakeCase<TensorOptions>;
  }
  const options = creationOptions('tensor', given);
  const dtype = options.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  if (dtype === 'f16') throw new Error("tensor(): dtype 'f16' is not created from values (accepted: 'f32', 'i32'); castToF16() (src/ops/cast.ts) makes f16 copies on the GPU");
  let flat: Float32Array | Int32Array | readonly number[];
  let inferred: number[];
  if (typeof data === 'number') [flat, inferred] = [[data], []];
  else if (data instanceof Float32Array || data instanceof Int32Array) [flat, inferred] = [data, [data.length]];
  else if (Array.isArray(data)) ({ values: flat, shape: inferred } = nestedValues(data));
  else throw new Error(`tensor(): data must be a number, an array of numbers (nested for more dims) or a Float32Array / Int32Array, got ${Object.prototype.toString.call(data)}`);
  if (shapeGiven && inferred.length > 1 && shapeGiven.join() !== inferred.join()) {
    throw new Error(`tensor(): nested data of shape [${inferred.join(', ')}] with shape [${shapeGiven.join(', ')}]; reshape() it, or pass flat values`);
  }
  if (dtype === 'i32') {
    const bad = Array.prototype.findIndex.call(flat, (v: number) => !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31);
    if (bad >= 0) throw new Error(`tensor(): value ${flat[bad]} at ${bad} (row-major) is not a 32-bit integer, for dtype 'i32'`);
  }
  const values = dtype === 'i32'
    ? (flat instanceof Int32Array ? flat : Int32Array.from(flat))
    : (flat instanceof Float32Array ? flat : Float32Array.from(flat));
  const s = shapeGiven ?? inferred;
  checkSize(s, dtype);
  const size = s.reduce((a, b) => a * b, 1);
  if (size !== values.length) throw new Error(`tensor(): ${values.length} values do not fill shape [${s.join(', ')}] (${size} elements)`);
  const t = new Tensor(s, dtype);
  gpu().upload(values, t.buffer);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

export function full(shape: readonly number[], value: number, given?: WithSnakeCase<TensorOptions>): Tensor {
  const options = creationOptions('full', given);
  checkSize(shape, options.dtype ?? 'f32');
  const size = shape.reduce((a, b) => a * b, 1);
  const data = options.dtype === 'i32' ? new Int32Array(size).fill(value) : new Float32Array(size).fill(value);
  return tensor(data, shape, options);
}

/** A tensor of zeros, cleared on the GPU (nothing uploaded). */
export function zeros(shape: readonly number[], given?: WithSnakeCase<TensorOptions>): Tensor {
  const options = creationOptions('zeros', given);
  const t = empty(shape, options.dtype ?? 'f32');
  gpu().clear(t.buffer, t.byteOffset, Math.max(4, t.byteLength));
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

export function ones(shape: readonly number[], options?: WithSnakeCase<TensorOptions>): Tensor {
  return full(shape, 1, creationOptions('ones', options));
}

export interface RandnOptions extends TensorOptions { seed?: number; std?: number; mean?: number }

/** Normal(0, std²) samples from a seeded generator (SplitMix32 + Box-Muller): same seed, same values. */
export function randn(shape: readonly number[], given?: WithSnakeCase<RandnOptions>): Tensor {
  const { seed, std: stdGiven, mean: meanGiven, ...options } = creationOptions<RandnOptions>('randn', given, ['seed', 'std', 'mean']);
  checkSize(shape, 'f32');
  const size = shape.reduce((a, b) => a * b, 1);
  const next = splitmix32(seed ?? 0);
  const data = new Float32Array(size);
  const std = stdGiven ?? 1;
  const mean = meanGiven ?? 0;
  for (let i = 0; i < size; i += 2) {
    const u1 = (next() + 1) / 4294967297; // (0, 1): log(u1) is finite
    const u2 = next() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    data[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < size) data[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return tensor(data, shape, options);
}

/** SplitMix32: a small, well-mixed 32-bit generator for seeded initialisation. */
export function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}
