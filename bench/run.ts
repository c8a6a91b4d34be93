// npm run bench: kernel throughput and whole training steps.
// Usage: npm run bench [-- --only <group,...>] [--large] [--browser [--browser-only]]
//
// --browser: after Node (on its adapter, e.g. Dawn on lavapipe), the matmul and
// training-step suites run again in a page of Chromium on SwiftShader
// (bench/browser/), and both are printed side by side; each side is written to
// bench/results/<adapter>.json. --browser-only: the page alone, beside the Node
// figures last written for Node's adapter.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { init, closeDevice } from '../src/gpu/device.js';
import { matmulVariant } from '../src/ops/matmul.js';
import { Report, clockName, type ResultsFile } from './harness.js';
import { writeResults } from './results.js';
import type { Preset } from './training-step.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    large: { type: 'boolean', default: false },
    browser: { type: 'boolean', default: false },
    'browser-only': { type: 'boolean', default: false },
  },
});
const browser = values.browser || values['browser-only'];
/** The suites that run in the page; the others need Node or are not ported. */
const PAGE_SUITES = ['matmul', 'training-step'];
const only = values.only?.split(',') ?? (browser ? PAGE_SUITES : undefined);
const large = values.large ?? false;

interface SuiteOptions {
  large: boolean;
  pytorch?: typeof import('./pytorch.js');
  presets?: Preset[];
}

// Each suite: a name and a module exporting `run(report, options)`.
const suites: [string, () => Promise<{ run(report: Report, options: SuiteOptions): Promise<void> }>][] = [
  ['matmul', () => import('./matmul.js')],
  ['layers', () => import('./layers.js')],
  ['attention', () => import('./attention.js')],
  ['training-step', () => import('./training-step.js')],
  ['job', () => import('./job.js')],
  ['epoch', () => import('./epoch.js')],
  ['profile', () => import('./profile.js')],
];

const runtime = await init();
const nodeAdapter = `${runtime.adapter.name} (${runtime.adapter.description || runtime.adapter.vendor})`;
let nodeResults: ResultsFile;
if (values['browser-only']) {
  const path = `bench/results/${runtime.adapter.name}.json`;
  nodeResults = JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
  console.log(`Node: figures of ${nodeResults.date} from ${path} (--browser-only: Node not run now)`);
} else {
  console.log(`adapter: ${nodeAdapter}; kernel times: ${clockName()}${browser ? `; Node ${process.version}, matmul variant ${matmulVariant()}` : ''}`);
  const report = new Report();
  const options: SuiteOptions = { large, pytorch: await import('./pytorch.js') };
  for (const [name, load] of suites) {
    if (only && !only.includes(name)) continue;
    await (await load()).run(report, options);
  }
  nodeResults = report.body({ node: process.version });
  console.log(`\nwrote ${writeResults(nodeResults)}`);
}
closeDevice();

if (browser) {
  const { runBrowserBench } = await import('./browser/compare.js');
  const pageSuites = PAGE_SUITES.filter((s) => only!.includes(s));
  const notInPage = only!.filter((s) => !PAGE_SUITES.includes(s));
  await runBrowserBench({ suites: pageSuites, notInPage, large, nodeResults, nodeAdapter });
}
process.exit(0);
