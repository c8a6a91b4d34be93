// float64 reference for matmul (with transposes, batches and a 2-D operand shared by the
// batch), forward and backward.

export interface MatmulShape {
  batch: number;
  M: number;
  N: number;
  K: number;
  transposeA?: boolean;
  transposeB?: boolean;
  /** B shared by every batch (2-D). */
  sharedB?: boolean;
}

function at(x: Float64Array, base: number, r: number, c: number, cols: number, transposed: boolean, rows: number): number {
  return transposed ? x[base + c * rows + r] : x[base + r * cols + c];
}

/** C[b] = op(A[b])·op(B[b]). A stored [M,K] or [K,M]; B [K,N] or [N,K]. */
export function matmulRef(a: Float64Array, b: Float64Array, s: MatmulShape): Float64Array {
  const { batch, M, N, K } = s;
  const c = new Float64Array(batch * M * N);
  for (let p = 0; p < batch; p++) {
    const aBase = p * M * K;
    const bBase = s.sharedB ? 0 : p * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          acc += at(a, aBase, i, k, K, !!s.transposeA, M) * at(b, bBase, k, j, N, !!s.transposeB, K);
        }
        c[p * M * N + i * N + j] = acc;
      }
    }
  }
  return c;
}

/** Gradients of sum(C * dC) with respect to A and B, in their stored layouts. */
export function matmulBackwardRef(a: Float64Array, b: Float64Array, dC: Float64Array, s: MatmulShape): [Float64Array, Float64Array] {
  const { batch, M, N, K } = s;
  const dA = new Float64Array(a.length);
  const dB = new Float64Array(b.length);
  for (let p = 0; p < batch; p++) {
    const aBase = p * M * K;
    const bBase = s.sharedB ? 0 : p * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        const g = dC[p * M * N + i * N + j];
        for (let k = 0; k < K; k++) {
          const aIdx = aBase + (s.transposeA ? k * M + i : i * K + k);
          const bIdx = bBase + (s.transposeB ? j * K + k : k * N + j);
          dA[aIdx] += g * b[bIdx];
          dB[bIdx] += g * a[aIdx];
        }
      }
    }
  }
  return [dA, dB];
}
