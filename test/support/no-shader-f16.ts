// Run by test/train/fp16.test.ts in a child process: hands the engine a device of the machine's
// adapter opened WITHOUT the shader-f16 feature (useDevice), as an adapter lacking it would give
// (Chromium's SwiftShader), then asks for float16 and prints what it is told. A separate process
// keeps the test run's shared device intact.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { useDevice, closeDevice, autocast } from '../../src/index.js';
import { describeAdapter } from '../../src/gpu/adapter.js';
import { setInitSeed } from '../../src/nn/index.js';
import { BertForSequenceClassification } from '../../src/models/bert/modeling.js';
import { DataCollatorWithPadding } from '../../src/data/collator.js';
import { Trainer } from '../../src/train/index.js';
import { syntheticDataset, syntheticTokenizer, tinyConfig } from '../train/synthetic.js';

Object.assign(globalThis, globals);
// Held for the whole run: Dawn frees the instance (and crashes later) once its GPU object is collected.
const instance = create([]);
const adapter = await instance.requestAdapter();
const device = await adapter!.requestDevice({ requiredFeatures: [] });
if (device.features.has('shader-f16')) throw new Error('the device has shader-f16 although none was requested');
useDevice(device, describeAdapter(adapter!.info));

try {
  autocast(() => 0);
  console.log('autocast: no error');
} catch (e) {
  console.log(`autocast: ${(e as Error).message}`);
}

const tokenizer = syntheticTokenizer();
setInitSeed(3);
const outputDir = mkdtempSync(join(tmpdir(), 'shadergrad-no-f16-'));
const trainer = new Trainer({
  model: new BertForSequenceClassification(tinyConfig(tokenizer.vocabSize, 8)),
  args: { outputDir, fp16: true, maxSteps: 2, disableTqdm: true },
  trainDataset: syntheticDataset(8, 11, tokenizer),
  dataCollator: new DataCollatorWithPadding(tokenizer),
  progressStream: { write: () => true },
});
try {
  await trainer.train();
  console.log('train: no error');
} catch (e) {
  console.log(`train: ${(e as Error).message}`);
}
const left = readdirSync(outputDir).filter((n) => n === 'trainer_log.jsonl' || n.startsWith('checkpoint-'));
console.log(`output folder after: ${left.length ? left.join(', ') : 'no log, no checkpoint'}`);
rmSync(outputDir, { recursive: true, force: true });
closeDevice();
process.exit(existsSync(outputDir) ? 1 : 0);
