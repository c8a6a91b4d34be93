// npm run bench: kernel throughput and whole training steps.
// Usage: npm run bench [-- --only <group,...>] [--large]

import { parseArgs } from 'node:util';
import { init, closeDevice } from '../src/gpu/device.js';
import { Report, clockName } from './harness.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, large: { type: 'boolean', default: false } } });
const only = values.only?.split(',');

// Each suite: a name and a module exporting `run(report, options)`.
const suites: [string, () => Promise<{ run(report: Report, options: { large: boolean }): Promise<void> }>][] = [
  ['matmul', () => import('./matmul.js')],
  ['kernels-a', () => import('./kernels-a.js')],
  ['kernels-b', () => import('./kernels-b.js')],
  ['training-step', () => import('./training-step.js')],
  ['job', () => import('./job.js')],
];

const runtime = await init();
console.log(`adapter: ${runtime.adapter.name} (${runtime.adapter.description || runtime.adapter.vendor}); kernel times: ${clockName()}`);
const report = new Report();
for (const [name, load] of suites) {
  if (only && !only.includes(name)) continue;
  await (await load()).run(report, { large: values.large ?? false });
}
console.log(`\nwrote ${report.write()}`);
closeDevice();
process.exit(0);
