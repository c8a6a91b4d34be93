// Waiting for the GPU in Node without spinning a core.
//
// Dawn's Node bindings (npm `webgpu`) settle every GPU promise (onSubmittedWorkDone, mapAsync)
// from a native callback that calls instance.ProcessEvents() and queues itself again with
// setImmediate while a promise is pending: for as long as the GPU works, the main thread polls at
// 100% of a core. On a CPU adapter (lavapipe, SwiftShader) that core is one the "GPU" itself
// needs: on a 2-core machine, lavapipe's two worker threads shared the cores with the poller.
// While a wait is pending, politeWait sends those native setImmediate callbacks through a 1 ms
// timer instead (everyone else's setImmediate is untouched): the promise settles at most about a
// millisecond later, and the poller sleeps in between. Measured on lavapipe (2 cores, shared and
// loaded machine), same process, 11 interleaved runs, medians: one 512×768×768 product 433 →
// 206 ms, 1024×768×768 746 → 389 ms.
//
// With a real GPU the polling costs a core the GPU does not need and buys latency, so it stays;
// in a browser there is no setImmediate and nothing to change.

type SetImmediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

const host = globalThis as { setImmediate?: SetImmediate };
let pending = 0;
let original: SetImmediate | undefined;

function isNative(f: unknown): boolean {
  return typeof f === 'function' && Function.prototype.toString.call(f).includes('[native code]');
}

/** Awaits `start()` (which creates the GPU promise), with Dawn's event polling on a 1 ms timer meanwhile. */
export async function politeWait<T>(start: () => Promise<T>): Promise<T> {
  if (typeof host.setImmediate !== 'function') return start();
  if (pending++ === 0) {
    const immediate = host.setImmediate;
    original = immediate;
    host.setImmediate = (callback, ...args) => (isNative(callback) ? setTimeout(callback, 1, ...args) : immediate(callback, ...args));
  }
  try {
    return await start();
  } finally {
    if (--pending === 0) host.setImmediate = original;
  }
}
