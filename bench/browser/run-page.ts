// Node's side of the benchmarks in a browser page: bundles bench/browser/page.ts
// for the browser (test/browser/launch.ts, as the op tests are), serves it, runs it in
// Chromium on SwiftShader, then loads the page a second time to show the matmul
// choice reused from localStorage. Prints what the page prints, prefixed.

import { join } from 'node:path';
import { ROOT, bundlePage, pageHtml, runPage } from '../../test/browser/launch.js';
import type { ResultsFile } from '../harness.js';
import type { PageInfo, TuneResult } from './page.js';


export interface PageBenchOptions {
  /** phase=bench's suites; phase=quick runs the tests' small check. */
  phase: 'bench' | 'quick';
  suites?: string[];
  large?: boolean;
  /** BERT-base in the page's training step. */
  base?: boolean;
  /** Per load of the page. */
  timeoutMs: number;
  /** Each line the page prints (its table as it goes). */
  onLine(text: string): void;
}

export interface PageBench {
  browser: string;
  info: PageInfo;
  /** First load (measured), then second load (from localStorage). */
  tuning: TuneResult[];
  results?: ResultsFile;
  /** Node built-ins the page bundle imports (stubbed): none expected. */
  nodeImports: Record<string, string[]>;
  bundleBytes: number;
}

export async function benchInPage(options: PageBenchOptions): Promise<PageBench> {
  const bundle = await bundlePage(`import ${JSON.stringify(join(ROOT, 'bench/browser/page.ts'))};`, 'bench-page.ts');
  let info: PageInfo | undefined;
  const tuning: TuneResult[] = [];
  let results: ResultsFile | undefined;
  const query = options.phase === 'quick'
    ? 'phase=quick'
    : `phase=bench&suites=${(options.suites ?? ['matmul', 'training-step']).join(',')}&large=${options.large ? 1 : 0}&base=${options.base ? 1 : 0}`;
  const browser = await runPage({
    files: { '/': pageHtml('shadergrad benchmarks'), '/page.js': bundle.script },
    expose: {
      sgInfo: (i: PageInfo) => void (info = i),
      sgTuned: (t: TuneResult) => void tuning.push(t),
      sgResults: (body: ResultsFile) => void (results = body),
    },
    onConsole: options.onLine,
    visits: [query, `phase=tune${options.phase === 'quick' ? '-quick' : ''}`],
    timeoutMs: options.timeoutMs,
  });
  if (!info) throw new Error('the page reported no adapter');
  return { browser, info, tuning, results, nodeImports: bundle.nodeImports, bundleBytes: bundle.bytes };
}
