// The counter-based RNG behind dropout (shaders/lib/philox.wgsl, used by dropout.wgsl and the fused
// attention kernel in shaders/attention.wgsl): Philox-4x32-10 (Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC 2011). Element i of a call
// keyed by (seed, stream) takes word i % 4 of philox(counter = (i / 4, stream, 0, 0),
// key = (seed, 0)); it is kept when that word >= dropThreshold(p). Backward
// passes regenerate the same bits instead of storing a mask.
// This file holds the CPU twin (for tests and references) and the argument checks.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** Philox-4x32-10 of a 4-word counter and a 2-word key, as unsigned 32-bit words. */
export function philox4x32(counter: readonly number[], key: readonly number[]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((c) => c >>> 0);
  let [k0, k1] = key.map((k) => k >>> 0);
  for (let round = 0; round < 10; round++) {
    const p0 = BigInt(M0) * BigInt(c0);
    const p1 = BigInt(M1) * BigInt(c2);
    const hi0 = Number(p0 >> 32n);
    const lo0 = Number(p0 & 0xffffffffn);
    const hi1 = Number(p1 >> 32n);
    const lo1 = Number(p1 & 0xffffffffn);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** Random words below this are dropped: P(drop) = threshold / 2³² (p rounded to a multiple of 2⁻³²). */
export function dropThreshold(p: number): number {
  return Math.min(0xffffffff, Math.round(p * 2 ** 32));
}

/** Throws unless p is in [0, 1) and seed and stream are u32 integers. */
export function checkDropout(op: string, p: number, seed: number, stream: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`${op}: dropout probability ${p} is outside [0, 1)`);
  for (const [name, v] of [['seed', seed], ['stream', stream]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${op}: ${name} ${v} is not an integer in [0, 2^32)`);
  }
}

/** The keep mask (1 kept, 0 dropped) of `n` elements for (p, seed, stream), computed on the CPU. */
export function dropoutKeepMask(n: number, p: number, seed: number, stream: number): Uint8Array {
  const threshold = dropThreshold(p);
  const keepMask = new Uint8Array(n);
  for (let block = 0; block * 4 < n; block++) {
    const words = philox4x32([block, stream, 0, 0], [seed, 0]);
    for (let w = 0; w < 4 && block * 4 + w < n; w++) keepMask[block * 4 + w] = words[w] >= threshold ? 1 : 0;
  }
  return keepMask;
}
