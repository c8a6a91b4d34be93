// Settings shared by the bench page (page.ts) and Node's side (compare.ts); pure.

/** The page bench's tuning shape: a BERT-base linear layer on 128 tokens (the Trainer's 512 take minutes on SwiftShader; large=1 uses them). */
export const BENCH_TUNE = { rows: 128, inF: 768, outF: 768 };

/** The tests' tuning shape: small enough to take a second on SwiftShader. */
export const QUICK_TUNE = { rows: 64, inF: 64, outF: 64 };
