// The runtime's profiling mode (Runtime.startProfile / stopProfile). While on,
// every dispatch runs in a compute pass of its own whose start and end are
// written to timestamp queries; uploads, copies and clears, which run between passes,
// are bracketed by empty marker passes that write one timestamp each (WebGPU
// has no timestamps outside a pass), consecutive ones sharing a marker. The CPU
// side: the moment of each submission. Without 'timestamp-query' the mode
// counts dispatches, copies and bytes only (gpuMs null).

import { kernelName, type Kernel } from './pipelines.js';

/** WebGPU's largest query set. */
const QUERIES_PER_SET = 4096;

export type ProfileKind = 'dispatch' | 'upload' | 'copy' | 'clear' | 'readback';

/** A matrix product's transposes as its caller asked for it (C = op(A)·op(B)), whatever its kernels compute to get it. */
export interface ProductTransposes { transA: boolean; transB: boolean }

export interface ProfileEntry {
  kind: ProfileKind;
  /** shader.entryPoint for a dispatch; the kind otherwise. */
  name: string;
  family: string;
  /** Bytes moved (uploads, copies, readbacks) or zeroed (clears). */
  bytes: number;
  /** GPU milliseconds from its pass's (or markers') start to end; null without timestamp queries. */
  gpuMs: number | null;
}

export interface ProfileFamily {
  family: string;
  count: number;
  gpuMs: number | null;
  bytes: number;
}

export interface Profile {
  /** Whether GPU times come from timestamp queries; false: counts and bytes only. */
  timed: boolean;
  /** In recording order. */
  entries: ProfileEntry[];
  /** One row per family, most GPU time (or most entries) first. */
  families: ProfileFamily[];
  /** Sum of the entries' GPU times. */
  gpuMs: number | null;
  /** GPU milliseconds from the first timestamp to the last (includes time between passes). */
  spanMs: number | null;
  /** CPU milliseconds from startProfile to stopProfile: recording and submitting (and whatever the caller awaited). */
  cpuMs: number;
  /** CPU milliseconds from stopProfile until the GPU's results were back. */
  waitMs: number;
  /** CPU milliseconds before each submission: from startProfile to the first, then between consecutive ones. */
  submitGapsMs: number[];
  /** Bytes of uniforms written at submissions (queue.writeBuffer, outside the timed commands). */
  uniformBytes: number;
}

interface Pending {
  kind: ProfileKind;
  name: string;
  bytes: number;
  /** The matrix product a dispatch serves (DispatchOptions.product) and its batch count, for the matmul families. */
  product?: ProductTransposes;
  batch: number;
  start: number;
  end: number;
}

/** What one profile records; owned by the Runtime between startProfile and stopProfile. */
export class Profiler {
  private readonly sets: GPUQuerySet[] = [];
  private next = 0; // queries used, over all sets
  private readonly pending: Pending[] = [];
  private openCopy: Pending | null = null;
  private readonly submits: number[] = [];
  private uniformBytes = 0;
  private readonly started = performance.now();

  constructor(private readonly device: GPUDevice, readonly timed: boolean) {}

  /** Notes a dispatch; the timestamp writes for its own pass (undefined untimed). */
  dispatch(encoder: GPUCommandEncoder, kernel: Kernel, product: ProductTransposes | undefined, batch: number): GPUComputePassTimestampWrites | undefined {
    this.closeCopy(encoder);
    const entry: Pending = { kind: 'dispatch', name: kernelName(kernel), bytes: 0, product, batch, start: -1, end: -1 };
    this.pending.push(entry);
    if (!this.timed) return undefined;
    const [querySet, index] = this.reserve(2);
    entry.start = this.next - 2;
    entry.end = this.next - 1;
    return { querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
  }

  /** Notes an upload, copy, clear or readback about to be recorded on `encoder`. */
  copy(encoder: GPUCommandEncoder, kind: Exclude<ProfileKind, 'dispatch'>, bytes: number): void {
    const entry: Pending = { kind, name: kind, bytes, batch: 1, start: -1, end: -1 };
    this.pending.push(entry);
    if (!this.timed) return;
    const mark = this.marker(encoder);
    if (this.openCopy) this.openCopy.end = mark;
    entry.start = mark;
    this.openCopy = entry;
  }

  /** Ends the open copy's interval with a marker (before a dispatch, a submission or the end). */
  closeCopy(encoder: GPUCommandEncoder): void {
    if (!this.openCopy) return;
    this.openCopy.end = this.marker(encoder);
    this.openCopy = null;
  }

  submitted(uniformBytes: number): void {
    this.submits.push(performance.now());
    this.uniformBytes += uniformBytes;
  }

  /**
   * Records the resolution of every query into a new buffer on `encoder` and
   * returns it with its size (null untimed); the caller reads it back.
   */
  resolve(encoder: GPUCommandEncoder): { buffer: GPUBuffer; bytes: number } | null {
    if (!this.timed || this.next === 0) return null;
    const bytes = this.sets.length * QUERIES_PER_SET * 8;
    const buffer = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.sets.forEach((set, i) => {
      const count = Math.min(QUERIES_PER_SET, this.next - i * QUERIES_PER_SET);
      encoder.resolveQuerySet(set, 0, count, buffer, i * QUERIES_PER_SET * 8);
    });
    return { buffer, bytes };
  }

  /** The profile, from the resolved timestamps (null untimed); `stopped` and `done` are performance.now() at stopProfile and after the readback. */
  finish(timestamps: BigUint64Array | null, stopped: number, done: number): Profile {
    for (const set of this.sets) set.destroy();
    const ms = (p: Pending) => (timestamps && p.start >= 0 && p.end >= 0 ? Math.max(0, Number(timestamps[p.end] - timestamps[p.start]) / 1e6) : null);
    const entries: ProfileEntry[] = this.pending.map((p) => ({ kind: p.kind, name: p.name, family: familyOf(p), bytes: p.bytes, gpuMs: ms(p) }));
    const byFamily = new Map<string, ProfileFamily>();
    for (const e of entries) {
      const row = byFamily.get(e.family) ?? { family: e.family, count: 0, gpuMs: this.timed ? 0 : null, bytes: 0 };
      row.count++;
      row.bytes += e.bytes;
      if (row.gpuMs !== null) row.gpuMs += e.gpuMs ?? 0;
      byFamily.set(e.family, row);
    }
    const families = [...byFamily.values()].sort((a, b) => (b.gpuMs ?? 0) - (a.gpuMs ?? 0) || b.count - a.count);
    const written = timestamps ? this.pending.flatMap((p) => [p.start, p.end]).filter((q) => q >= 0).map((q) => timestamps[q]) : [];
    const spanMs = written.length ? Number(written.reduce((a, b) => (b > a ? b : a)) - written.reduce((a, b) => (b < a ? b : a))) / 1e6 : null;
    return {
      timed: this.timed,
      entries,
      families,
      gpuMs: this.timed ? entries.reduce((s, e) => s + (e.gpuMs ?? 0), 0) : null,
      spanMs,
      cpuMs: stopped - this.started,
      waitMs: done - stopped,
      submitGapsMs: this.submits.map((t, i) => t - (i === 0 ? this.started : this.submits[i - 1])),
      uniformBytes: this.uniformBytes,
    };
  }

  /** An empty pass writing one timestamp; its query's index. */
  private marker(encoder: GPUCommandEncoder): number {
    const [querySet, index] = this.reserve(1);
    encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: index } }).end();
    return this.next - 1;
  }

  /** `count` consecutive queries within one set: the set and the first's index in it. */
  private reserve(count: number): [GPUQuerySet, number] {
    if ((this.next % QUERIES_PER_SET) + count > QUERIES_PER_SET) this.next = Math.ceil(this.next / QUERIES_PER_SET) * QUERIES_PER_SET;
    const set = Math.floor(this.next / QUERIES_PER_SET);
    if (set === this.sets.length) this.sets.push(this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET }));
    const index = this.next % QUERIES_PER_SET;
    this.next += count;
    return [this.sets[set], index];
  }
}

/**
 * An entry's op family. Matrix products by the transposes their caller asked for, as linear
 * records them: forward x·Wᵀ (transB), dX = dY·W (none), dW = dYᵀ·x (transA); batched ones
 * (attention's products) apart. Every dispatch of a product (a staged transpose, a panel pack,
 * the product's own dispatches: src/ops/matmul.ts) names it (DispatchOptions.product), so the
 * product's family holds them all, whichever operand its kernels read transposed.
 */
function familyOf(e: Pending): string {
  if (e.kind === 'upload') return 'uploads';
  if (e.kind === 'copy') return 'copies';
  if (e.kind === 'clear') return 'clears';
  if (e.kind === 'readback') return 'readbacks';
  if (e.product) return e.batch > 1 ? 'matmul (batched)' : productFamily(e.product);
  const [shader, entryPoint] = e.name.split('.');
  if (shader === 'activation') return entryPoint.startsWith('gelu') ? 'GELU' : 'activation (tanh)';
  if (shader === 'layernorm') return 'layer norm';
  if (shader === 'optim') return entryPoint === 'adamw' ? 'AdamW' : 'clipping';
  if (NAMED_BY_SHADER.has(shader)) return shader;
  return e.name; // elementwise, reduce, permute, slice: by entry point
}

const NAMED_BY_SHADER = new Set(['attention', 'softmax', 'dropout', 'embedding', 'cross-entropy']);

function productFamily({ transA, transB }: ProductTransposes): string {
  if (transA) return transB ? 'matmul (Aᵀ·Bᵀ)' : 'matmul dW';
  return transB ? 'matmul forward' : 'matmul dX';
}
