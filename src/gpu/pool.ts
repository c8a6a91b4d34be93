// Buffer pool: storage buffers are reused by size class instead of created and
// destroyed per op. Sizes round up to classes of 2^k·{1, 1.25, 1.5, 1.75}
// (at most 25% waste), so the same shapes step after step hit the same buffers.

// STORAGE | UNIFORM | COPY_SRC | COPY_DST, spelled out: GPUBufferUsage is a global only
// once a WebGPU implementation has been loaded. UNIFORM: a product's packed panels are read as
// uniform ranges (src/ops/matmul-panel.ts).
const STORAGE_USAGE = 0x0080 | 0x0040 | 0x0004 | 0x0008;

/** The pooled size for a request of `bytes` bytes. */
export function sizeClass(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = pow / 4;
  return Math.ceil(bytes / step) * step;
}

export interface PoolStats {
  /** Bytes in buffers handed out and not yet released. */
  bytesInUse: number;
  /** Highest bytesInUse since creation or the last resetPeak(). */
  peakBytesInUse: number;
  /** Bytes held free for reuse. */
  bytesFree: number;
  buffersCreated: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly discarded: GPUBuffer[] = [];
  private readonly stats: PoolStats = { bytesInUse: 0, peakBytesInUse: 0, bytesFree: 0, buffersCreated: 0 };

  constructor(private readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` bytes: of its size class, or of exactly `bytes` (a multiple of 4) when `exact` (a parameter arena's chunks, too large to round up). */
  acquire(bytes: number, exact = false): GPUBuffer {
    const size = exact ? bytes : sizeClass(bytes);
    const reused = this.free.get(size)?.pop();
    let buffer: GPUBuffer;
    if (reused) {
      buffer = reused;
      this.stats.bytesFree -= size;
    } else {
      const limit = this.device.limits.maxBufferSize;
      if (size > limit) throw new Error(`buffer of ${bytes} bytes exceeds the device's maxBufferSize (${limit})`);
      buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE });
      this.stats.buffersCreated++;
    }
    this.stats.bytesInUse += size;
    this.stats.peakBytesInUse = Math.max(this.stats.peakBytesInUse, this.stats.bytesInUse);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.stats.bytesInUse -= size;
    this.stats.bytesFree += size;
  }

  /**
   * Takes back a buffer in use to destroy it instead of keeping it for reuse (a parameter's own
   * buffer, once the parameter moved into an arena): the runtime destroys it once the work
   * recorded so far is submitted (destroyDiscarded), as that work may still read it.
   */
  discard(buffer: GPUBuffer): void {
    this.stats.bytesInUse -= buffer.size;
    this.discarded.push(buffer);
  }

  /** Destroys the buffers discard() took back (the runtime calls it after a submission). */
  destroyDiscarded(): void {
    for (const b of this.discarded) b.destroy();
    this.discarded.length = 0;
  }

  /** Destroys the free buffers (the ones in use stay). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.bytesFree = 0;
  }

  resetPeak(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }
}
