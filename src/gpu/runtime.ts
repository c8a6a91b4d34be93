// Recording and submission. Ops record dispatches into one command encoder
// (inside one open compute pass where they can); the work is submitted once, at
// a sync point: a readback or an explicit flush(). Uploads are recorded as
// copies from staging buffers, so they are ordered with the dispatches around
// them even when a pooled buffer is reused within one submission; uploadAll()
// packs several arrays into one staging buffer (one mapping), and clear()
// zeroes a buffer on the GPU with nothing uploaded. counts() tells what was
// recorded and submitted: dispatches, uploads, copies, readbacks, submissions.
//
// A recording past maxCommandsPerSubmission is submitted in parts, so no
// submission holds more than that many bind groups and staging buffers. Parts
// are submitted in order on one queue, so the result is the same bit for bit.

import { isSoftwareAdapter, type AdapterDescription } from './adapter.js';
import { BufferPool } from './pool.js';
import { politeWait } from './wait.js';
import { Profiler, type ProductTransposes, type Profile, type ProfileKind } from './profile.js';
import { PipelineCache, kernelName, packUniforms, uniformSize, workgroupInvocations, type Kernel, type OverrideConstants, type UniformFields, type UniformValues } from './pipelines.js';

/**
 * A storage binding: a whole buffer, or `size` bytes of it from `offset` (0 when absent; a
 * multiple of the device's minStorageBufferOffsetAlignment, as a parameter arena's views are).
 */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size: number };

/** One host array of an uploadAll(): its bytes go to `target` at byte `offset` (default 0). */
export interface UploadPart {
  data: ArrayBufferView;
  target: GPUBuffer;
  offset?: number;
}

/** What a runtime recorded and submitted (Runtime.counts(), countsSince()): for tests and the bench. */
export interface RuntimeCounts {
  dispatches: number;
  submissions: number;
  /** Compute passes begun. */
  passes: number;
  /** Staging buffers mapped: one per upload() or uploadAll(), however many arrays it carries. */
  uploads: number;
  /** Buffer-to-buffer copies recorded by copy(). */
  copies: number;
  /** Copies into a mappable buffer for reading back (read(), readLater()). */
  readbacks: number;
  /** Buffers zeroed on the GPU (clear()). */
  clears: number;
}

/**
 * One dispatch: the storage bindings in the kernel's order, its uniform fields by name, and
 * either `invocations` (enough workgroups of the kernel's declared size for that many, spread
 * over x and y as grid() does), `elements` (a grid-stride kernel over that many: see
 * Runtime.gridStrideWorkgroups), `workgroups` as a count (spread the same way) or an explicit
 * [x, y, z].
 */
export type DispatchOptions<U extends UniformFields = UniformFields> = {
  bindings: Binding[];
  params: UniformValues<U>;
  constants?: OverrideConstants;
  /** The matrix product this dispatch serves, with its transposes as the caller asked for it (its family in profiles: src/gpu/profile.ts). */
  product?: ProductTransposes;
} & ({ invocations: number } | { elements: number } | { workgroups: number | [number, number?, number?] });

/**
 * Workgroups of a grid-stride dispatch on a CPU driver. Measured on lavapipe (2 cores, same
 * run, medians of 6): out = 2·a over 4 Mi floats with one element per invocation in workgroups
 * of 256 took 46-50 ms (0.7 GB/s; a buffer copy of the same bytes 2.5 ms); as a grid-stride
 * loop over 16, 64 or 256 workgroups 16-19 ms; 64 is never the slowest.
 */
export const CPU_GRID_STRIDE_WORKGROUPS = 64;

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment and minStorageBufferOffsetAlignment are at most 256 on every adapter
const UNIFORM_CHUNK = 256 * UNIFORM_SLOT;

// Measured on lavapipe (Mesa 25.0.7, Dawn from npm webgpu 0.6.2) by a probe that records N
// one-workgroup dispatches, each with its own bind group, and submits once: N = 64,000 runs,
// N = 65,000 segfaults inside createBindGroup. Each bind group (a Vulkan descriptor set) and each
// staging buffer holds one memory mapping until the driver frees it, and Linux allows 65,530
// (vm.max_map_count). Staging buffers are freed at the next submission; a bind group only after
// its work was waited for and JavaScript regained control (Dawn's node bindings release it from
// the event loop), so splitting submissions alone cannot bound those.
/**
 * Dispatches plus uploads per submission: a sixteenth of the crash point, above a BERT-base
 * training step. Submitting every 128 instead, so the adapter starts while the step is still
 * being recorded, left a BERT-base step on lavapipe as it was (17,621 vs 17,633 ms, medians of 3;
 * it records in 0.4 s of the 17): untried on a GPU, where recording is a larger share.
 */
export const MAX_COMMANDS_PER_SUBMISSION = 4096;
/**
 * Bind groups recorded on lavapipe between two waits for the GPU: half the crash point, as the
 * previous stretch's are freed late (stretches of 32,768 dispatches, each ended by a readback,
 * peaked at 43,400 mappings; of 45,000, at 53,800).
 */
const LAVAPIPE_BIND_GROUPS_IN_FLIGHT = 32768;

/**
 * `groups` workgroups (at least one) laid out over x and y when x alone would pass
 * `maxPerDim` (the device's maxComputeWorkgroupsPerDimension). Shaders rebuild the
 * workgroup's index as workgroup_id.y * num_workgroups.x + workgroup_id.x
 * (shaders/lib/index.wgsl); the last row may hold workgroups past `groups`.
 */
export function grid(groups: number, maxPerDim: number): [number, number] {
  const n = Math.max(1, groups);
  if (n <= maxPerDim) return [n, 1];
  return [maxPerDim, Math.ceil(n / maxPerDim)];
}

export class Runtime {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniformChunks: { buffer: GPUBuffer; data: ArrayBuffer }[] = [];
  private uniformOffset = 0; // bytes used in this recording, over all chunks
  private readonly stagingToDestroy: GPUBuffer[] = [];
  private timing: { querySet: GPUQuerySet; begun: boolean } | null = null;
  private querySet: GPUQuerySet | null = null;
  private profiler: Profiler | null = null;
  private lostMessage: string | null = null;
  private firstError: string | null = null;
  private released = false;
  private commandsInSubmission = 0;
  private bindGroupsCreated = 0;
  private bindGroupsWaitedFor = 0; // bindGroupsCreated when the latest completed wait was recorded
  /** Dispatches recorded and submissions made since the runtime was created (for tests and the bench). */
  dispatchCount = 0;
  submitCount = 0;
  /** Compute passes begun (one per recording when not profiling; one per dispatch when profiling). */
  passCount = 0;
  /** Uploads (staging buffers), copies, readbacks and clears recorded: see counts(). */
  private readonly recorded: Record<Exclude<ProfileKind, 'dispatch'>, number> = { upload: 0, copy: 0, readback: 0, clear: 0 };
  /** Past this many dispatches and uploads, the recording is submitted and a new one begun (tests lower it). */
  maxCommandsPerSubmission = MAX_COMMANDS_PER_SUBMISSION;
  /** Bytes the model's tensors may take in all (the machine's memory in Node); null when unknown. */
  memoryBudget: number | null = null;
  /** Bind groups that may be recorded between two waits for the GPU (sync(), a readback) before dispatch() refuses; null: no bound known for this adapter. */
  maxBindGroupsInFlight: number | null;
  /**
   * Most workgroups of an `elements` (grid-stride) dispatch: CPU_GRID_STRIDE_WORKGROUPS on a CPU
   * driver, unbounded (one invocation per element) on a GPU. Tests set it to run either shape anywhere.
   */
  gridStrideWorkgroups: number;
  /** A CPU adapter: waits for it do not poll on the main thread (src/gpu/wait.ts). */
  private readonly softwareAdapter: boolean;

  constructor(readonly device: GPUDevice, readonly adapter: AdapterDescription) {
    this.softwareAdapter = isSoftwareAdapter(adapter);
    this.gridStrideWorkgroups = this.softwareAdapter ? CPU_GRID_STRIDE_WORKGROUPS : Infinity;
    this.maxBindGroupsInFlight = /llvmpipe|lavapipe/i.test(`${adapter.name} ${adapter.description}`) ? LAVAPIPE_BIND_GROUPS_IN_FLIGHT : null;
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    device.lost.then((info) => {
      if (!this.released) this.lostMessage = `WebGPU device was lost (${info.reason}): ${info.message}`;
    });
    device.onuncapturederror = (event: GPUUncapturedErrorEvent) => {
      this.firstError ??= event.error.message;
    };
  }

  get features(): ReadonlySet<string> {
    return this.device.features as unknown as ReadonlySet<string>;
  }

  /** The device's limit on workgroups along one dimension of a dispatch. */
  get maxWorkgroupsPerDimension(): number {
    return this.device.limits.maxComputeWorkgroupsPerDimension;
  }

  /** Records one compute dispatch. Binding 0 is the uniform struct packed from `params` by the kernel's declaration. */
  dispatch<U extends UniformFields>(kernel: Kernel<U>, options: DispatchOptions<U>): void {
    this.check();
    if (kernel.storage.length !== options.bindings.length) {
      throw new Error(`${kernelName(kernel)}: expected ${kernel.storage.length} storage bindings, got ${options.bindings.length}`);
    }
    const [x, y = 1, z = 1] = this.workgroups(kernel, options);
    const limit = this.maxWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit) throw new Error(`${kernelName(kernel)}: workgroups [${x}, ${y}, ${z}] pass the device's ${limit} per dimension`);
    this.countBindGroup(kernel);
    this.beginCommand();
    const pipeline = this.pipelines.get(kernel, options.constants);
    const entries: GPUBindGroupEntry[] = options.bindings.map((b, i) =>
      'buffer' in b
        ? { binding: i + 1, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: align4(b.size) } }
        : { binding: i + 1, resource: { buffer: b as GPUBuffer } },
    );
    entries.unshift({ binding: 0, resource: this.writeUniforms(kernel, options.params) });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.profiler ? this.profiledPass(this.profiler, kernel, options.product, z) : this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
  }

  /** Records an upload of `data` into `target` from byte `targetOffset` (a multiple of 4; one staging buffer: uploadAll with one part). */
  upload(data: ArrayBufferView, target: GPUBuffer, targetOffset = 0): void {
    this.uploadAll([{ data, target, offset: targetOffset }]);
  }

  /**
   * Records the upload of several host arrays through ONE staging buffer (one mapping): each
   * part's bytes are packed at a 4-byte-aligned place in it, then copied to its target at
   * `offset` (a multiple of 4; default 0). A batch's ids, token types, mask and labels go up
   * this way (models/bert/modeling.ts). Counted as one upload, one command of the submission.
   */
  uploadAll(parts: readonly UploadPart[]): void {
    this.check();
    const places: number[] = [];
    let bytes = 0;
    for (const [i, { data, offset = 0 }] of parts.entries()) {
      if (offset % 4 !== 0) throw new Error(`uploadAll: part ${i}'s target offset ${offset} is not a multiple of 4`);
      places.push(bytes);
      bytes += align4(data.byteLength);
    }
    if (bytes === 0) return;
    this.beginCommand();
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    const mapped = new Uint8Array(staging.getMappedRange());
    parts.forEach(({ data }, i) => mapped.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), places[i]));
    staging.unmap();
    const encoder = this.copyEncoder('upload', bytes);
    parts.forEach(({ data, target, offset = 0 }, i) => {
      if (data.byteLength > 0) encoder.copyBufferToBuffer(staging, places[i], target, offset, align4(data.byteLength));
    });
    this.stagingToDestroy.push(staging);
  }

  /** The counters now; the difference of two (countsSince) is what was recorded in between. */
  counts(): RuntimeCounts {
    const { upload: uploads, copy: copies, readback: readbacks, clear: clears } = this.recorded;
    return { dispatches: this.dispatchCount, submissions: this.submitCount, passes: this.passCount, uploads, copies, readbacks, clears };
  }

  /** What was recorded and submitted since `before` (an earlier counts()). */
  countsSince(before: RuntimeCounts): RuntimeCounts {
    const since = this.counts();
    for (const k of Object.keys(since) as (keyof RuntimeCounts)[]) since[k] -= before[k];
    return since;
  }

  /** Records a copy of `bytes` bytes from `source` at `sourceOffset` to `target` at `targetOffset` (offsets multiples of 4). */
  copy(source: GPUBuffer, target: GPUBuffer, bytes: number, sourceOffset = 0, targetOffset = 0): void {
    this.check();
    this.copyEncoder('copy', align4(bytes)).copyBufferToBuffer(source, sourceOffset, target, targetOffset, align4(bytes));
  }

  /** Records zeroing `bytes` bytes of `target` from `offset` (both multiples of 4) on the GPU: nothing uploaded. */
  clear(target: GPUBuffer, offset: number, bytes: number): void {
    this.check();
    this.copyEncoder('clear', bytes).clearBuffer(target, offset, bytes);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.check();
    if (!this.encoder) return;
    this.endPass();
    this.profiler?.closeCopy(this.encoder);
    this.profiler?.submitted(this.uniformOffset);
    for (let used = 0, i = 0; used < this.uniformOffset; used += UNIFORM_CHUNK, i++) {
      const chunk = this.uniformChunks[i];
      this.device.queue.writeBuffer(chunk.buffer, 0, chunk.data, 0, Math.min(UNIFORM_CHUNK, this.uniformOffset - used));
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.submitCount++;
    this.encoder = null;
    this.uniformOffset = 0;
    this.commandsInSubmission = 0;
    for (const b of this.stagingToDestroy) b.destroy();
    this.stagingToDestroy.length = 0;
    this.pool.destroyDiscarded();
  }

  /** Submits, then resolves when the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    const created = this.bindGroupsCreated;
    await this.waitFor(() => this.device.queue.onSubmittedWorkDone());
    this.waitedFor(created);
    this.check();
  }

  /**
   * Records a copy of `bytes` bytes of `source` from `sourceOffset` (a multiple of 4) into a mappable
   * buffer; the returned function, called once the recording has been
   * submitted, reads them. The Trainer uses it to read a step's loss without a
   * second submission.
   */
  recordReadback(source: GPUBuffer, bytes: number, sourceOffset = 0): () => Promise<ArrayBuffer> {
    this.check();
    const size = align4(bytes);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copyEncoder('readback', size).copyBufferToBuffer(source, sourceOffset, staging, 0, size);
    const created = this.bindGroupsCreated;
    return async () => {
      try {
        await this.waitFor(() => staging.mapAsync(GPUMapMode.READ));
      } catch (e) {
        this.check();
        throw e;
      }
      this.waitedFor(created);
      const result = staging.getMappedRange().slice(0, bytes);
      staging.unmap();
      staging.destroy();
      this.check();
      return result;
    };
  }

  /** Submits and reads back `bytes` bytes of `source` from `sourceOffset`. */
  async read(source: GPUBuffer, bytes: number, sourceOffset = 0): Promise<ArrayBuffer> {
    const readback = this.recordReadback(source, bytes, sourceOffset);
    this.flush();
    return readback();
  }

  /** Awaits a GPU promise that `start` creates; on a CPU adapter without a busy main thread. */
  private waitFor<T>(start: () => Promise<T>): Promise<T> {
    return this.softwareAdapter ? politeWait(start) : start();
  }

  /** Called when another runtime replaces this one or the device is closed. */
  release(): void {
    this.released = true;
  }

  private check(): void {
    if (this.released) throw new Error('this WebGPU runtime was closed (closeDevice() or useDevice() replaced it)');
    if (this.lostMessage) throw new Error(this.lostMessage);
    if (this.firstError) {
      const message = this.firstError;
      this.firstError = null;
      throw new Error(`WebGPU validation error: ${message}`);
    }
  }

  /** Submits what is recorded first when the submission is full. */
  private beginCommand(): void {
    if (this.commandsInSubmission >= this.maxCommandsPerSubmission) this.flush();
    this.commandsInSubmission++;
  }

  /** Refuses a bind group past the adapter's bound for the work recorded since the GPU was last waited for. */
  private countBindGroup(kernel: Kernel): void {
    if (this.maxBindGroupsInFlight !== null && this.bindGroupsCreated - this.bindGroupsWaitedFor >= this.maxBindGroupsInFlight) {
      throw new Error(
        `${kernelName(kernel)}: more than ${this.maxBindGroupsInFlight} dispatches recorded without waiting for the GPU; ` +
          `${this.adapter.name} frees their bind groups only after such a wait and crashes past about 64,000 (vm.max_map_count). ` +
          'Record less per step (a smaller num_hidden_layers, batch or sequence) or await gpu().sync() between parts',
      );
    }
    this.bindGroupsCreated++;
  }

  private waitedFor(created: number): void {
    this.bindGroupsWaitedFor = Math.max(this.bindGroupsWaitedFor, created);
  }

  private commandEncoder(): GPUCommandEncoder {
    this.endPass();
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass(this.timing ? { timestampWrites: this.timestampWrites(this.timing) } : undefined);
      this.passCount++;
    }
    return this.pass;
  }

  /** The encoder for an upload, copy, readback or clear of `bytes` (counted; noted by the profiler when profiling). */
  private copyEncoder(kind: Exclude<ProfileKind, 'dispatch'>, bytes: number): GPUCommandEncoder {
    const encoder = this.commandEncoder();
    this.recorded[kind]++;
    this.profiler?.copy(encoder, kind, bytes);
    return encoder;
  }

  /** Profiling: a pass of the dispatch's own, its start and end timed. */
  private profiledPass(profiler: Profiler, kernel: Kernel, product: ProductTransposes | undefined, batch: number): GPUComputePassEncoder {
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    const timestampWrites = profiler.dispatch(this.encoder, kernel, product, batch);
    this.pass = this.encoder.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
    this.passCount++;
    return this.pass;
  }

  /**
   * Starts profiling (src/gpu/profile.ts): from now on each dispatch runs in a pass of its own,
   * timed with timestamp queries where the device has 'timestamp-query' (else only counted), and
   * uploads and copies are timed between marker passes.
   */
  startProfile(): void {
    if (this.profiler || this.timing) throw new Error('startProfile(): a profile or startTimestamps() is already running');
    this.endPass();
    this.profiler = new Profiler(this.device, this.features.has('timestamp-query'));
  }

  /** Submits, waits, and returns what was recorded since startProfile(). */
  async stopProfile(): Promise<Profile> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('stopProfile() without startProfile()');
    this.flush();
    const stopped = performance.now();
    this.profiler = null;
    const resolved = profiler.resolve(this.commandEncoder());
    const timestamps = resolved ? new BigUint64Array(await this.read(resolved.buffer, resolved.bytes)) : (await this.sync(), null);
    resolved?.buffer.destroy();
    return profiler.finish(timestamps, stopped, performance.now());
  }

  /** The first timed pass writes the start (query 0); every timed pass writes its end (query 1), so the last one's stays. */
  private timestampWrites(timing: { querySet: GPUQuerySet; begun: boolean }): GPUComputePassTimestampWrites {
    const writes: GPUComputePassTimestampWrites = { querySet: timing.querySet, endOfPassWriteIndex: 1 };
    if (!timing.begun) writes.beginningOfPassWriteIndex = 0;
    timing.begun = true;
    return writes;
  }

  /**
   * Starts timing the compute passes recorded from now on with timestamp
   * queries (the benchmark's clock); false when the device lacks 'timestamp-query'.
   */
  startTimestamps(): boolean {
    if (!this.features.has('timestamp-query')) return false;
    if (this.profiler) throw new Error('startTimestamps() while profiling');
    this.endPass();
    this.timing = { querySet: (this.querySet ??= this.device.createQuerySet({ type: 'timestamp', count: 2 })), begun: false };
    return true;
  }

  /** Submits and returns the GPU milliseconds from the first timed pass's start to the last one's end. */
  async stopTimestamps(): Promise<number> {
    if (!this.timing) throw new Error('stopTimestamps() without startTimestamps()');
    const { querySet, begun } = this.timing;
    this.endPass();
    this.timing = null;
    if (!begun) return 0;
    const resolved = this.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.commandEncoder().resolveQuerySet(querySet, 0, 2, resolved, 0);
    const [start, end] = new BigUint64Array(await this.read(resolved, 16));
    resolved.destroy();
    return Number(end - start) / 1e6;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private workgroups(kernel: Kernel, options: DispatchOptions): [number, number?, number?] {
    const given = (['invocations', 'elements', 'workgroups'] as const).filter((k) => k in options);
    if (given.length !== 1) {
      throw new Error(`${kernelName(kernel)}: a dispatch takes exactly one of invocations, elements or workgroups; got ${given.length ? given.join(' and ') : 'none'}`);
    }
    if ('invocations' in options) return grid(Math.ceil(options.invocations / workgroupInvocations(kernel)), this.maxWorkgroupsPerDimension);
    if ('elements' in options) {
      const groups = Math.min(Math.ceil(options.elements / workgroupInvocations(kernel)), this.gridStrideWorkgroups);
      return grid(groups, this.maxWorkgroupsPerDimension);
    }
    return typeof options.workgroups === 'number' ? grid(options.workgroups, this.maxWorkgroupsPerDimension) : options.workgroups;
  }

  private writeUniforms(kernel: Kernel, params: Readonly<Record<string, number | readonly number[]>>): GPUBufferBinding {
    const chunkIndex = Math.floor(this.uniformOffset / UNIFORM_CHUNK);
    const offset = this.uniformOffset % UNIFORM_CHUNK;
    if (chunkIndex === this.uniformChunks.length) {
      // STORAGE too: a kernel may read its params as var<storage, read> (Kernel.paramsIn).
      const buffer = this.device.createBuffer({ size: UNIFORM_CHUNK, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      this.uniformChunks.push({ buffer, data: new ArrayBuffer(UNIFORM_CHUNK) });
    }
    const chunk = this.uniformChunks[chunkIndex];
    const size = uniformSize(kernel);
    if (size > UNIFORM_SLOT) throw new Error(`${kernelName(kernel)}: a uniform struct of ${size} bytes is over the ${UNIFORM_SLOT}-byte slot`);
    packUniforms(kernel, params, new DataView(chunk.data, offset, UNIFORM_SLOT));
    this.uniformOffset += UNIFORM_SLOT;
    return { buffer: chunk.buffer, offset, size: Math.max(16, align16(size)) };
  }
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}
