// The command line as the fault tests run it: a tiny model folder and a CSV data set written
// into temporary folders, and `src/train.ts` spawned through tsx (its kernel-tuning file in a
// temporary cache shared by the file's runs, holding the default matmul variant).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BertForMaskedLM } from '../../src/models/bert/modeling.js';
import { setInitSeed } from '../../src/nn/module.js';
import { SYNTHETIC_TOKENIZER_CONFIG, SYNTHETIC_VOCAB_TXT, syntheticRows, tempDir, tinyConfig } from '../train/synthetic.js';
import '../../src/node/sources.js'; // fromPretrained and savePretrained on local folders

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The temporary cache the CLI runs share (its tuning file holds the stored matmul choice). */
export const CACHE_ENV = { XDG_CACHE_HOME: tempDir('faults-cache') };

/**
 * Stores the default matmul variant as the tuned choice in that cache: otherwise each run would
 * first time every variant (tens of seconds on lavapipe). In a child, so this process's own
 * choices are untouched.
 */
export function storeMatmulChoice(): void {
  const script = `
    const { init } = await import('./src/gpu/device.ts');
    const { setTuningStore, tune } = await import('./src/gpu/autotune.ts');
    const { nodeTuningStore } = await import('./src/node/tuning-store.ts');
    const { matmulVariant, MATMUL_TUNING_FAMILY } = await import('./src/ops/matmul.ts');
    const runtime = await init();
    setTuningStore(nodeTuningStore());
    await tune(MATMUL_TUNING_FAMILY, runtime, [matmulVariant()], async () => 0);
    process.exit(0);`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...CACHE_ENV } });
  if (result.status !== 0) throw new Error(`storing the matmul choice failed: ${result.stderr}`);
}

/** Starts `node <script> ...args` through tsx (script: src/train.ts, or a link to it); the child's PID is the CLI's. */
export function spawnCli(args: string[], env: Record<string, string> = {}, script = 'src/train.ts'): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...CACHE_ENV, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runCli(args: string[], env: Record<string, string> = {}, script?: string): Promise<CliResult> {
  return spawnCli(args, env, script).done;
}

/** A tiny model folder (random weights, the synthetic vocabulary) and a CSV data set with train/valid splits in `dataDir`. */
export async function tinyModelAndData(dataDir = tempDir('faults-data')): Promise<{ modelDir: string; dataDir: string }> {
  const modelDir = tempDir('faults-model');
  setInitSeed(3);
  await new BertForMaskedLM(tinyConfig(SYNTHETIC_VOCAB_TXT.trim().split('\n').length, 2)).savePretrained(modelDir);
  writeFileSync(join(modelDir, 'vocab.txt'), SYNTHETIC_VOCAB_TXT);
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(SYNTHETIC_TOKENIZER_CONFIG));
  const csv = (rows: { text: string; label: number }[]) => `text,label\n${rows.map((r) => `${r.text},${r.label}`).join('\n')}\n`;
  writeFileSync(join(dataDir, 'topic_train.csv'), csv(syntheticRows(16, 1)));
  writeFileSync(join(dataDir, 'topic_valid.csv'), csv(syntheticRows(4, 2)));
  return { modelDir, dataDir };
}
