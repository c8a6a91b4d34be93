// `npm run bench -- --browser`, after Node's suites: runs the page's
// (run-page.ts), writes its results to bench/results/<page adapter>.json, and
// prints its figures beside Node's from the same run, row by row.

import type { Measurement, ResultsFile } from '../harness.js';
import { writeResults } from '../results.js';
import { benchInPage } from './run-page.js';
import { BENCH_TUNE } from './settings.js';

/** SwiftShader is slow: the page's matmul suite takes minutes; past this a load is stuck. */
const PAGE_TIMEOUT_MS = 60 * 60_000;

export interface BrowserBenchOptions {
  suites: string[];
  /** Suites asked for that do not run in the page. */
  notInPage: string[];
  large: boolean;
  nodeResults: ResultsFile;
  nodeAdapter: string;
}

export async function runBrowserBench({ suites, notInPage, large, nodeResults, nodeAdapter }: BrowserBenchOptions): Promise<void> {
  console.log(`\n--- in the page: Chromium (headless shell) on SwiftShader's WebGPU adapter ---`);
  if (notInPage.length) console.log(`not run in the page: ${notInPage.join(', ')} (the page runs ${['matmul', 'training-step'].join(' and ')} only)`);
  if (!suites.length) return;
  if (suites.includes('training-step')) {
    console.log(`training-step in the page: bert-small 8x64${large ? ' and bert-base 8x64 (--large)' : ' only (bert-base takes minutes per step on SwiftShader: --large adds it)'}; never 32x128`);
  }
  if (suites.includes('matmul')) {
    console.log(`matmul in the page: ${large ? "bench/matmul.ts's full suite (--large; most of an hour on SwiftShader)" : "the three products of a 768x768 linear layer at 512 tokens only (bench/matmul.ts's linearProducts; --large: its full suite, most of an hour)"}; ` +
      'tfjs-backend-webgpu bundled into the page, on its own device on the same adapter');
  }
  console.log(`matmul tuning in the page: ${large ? "the Trainer's shape, 512x768x768" : `${BENCH_TUNE.rows}x${BENCH_TUNE.inF}x${BENCH_TUNE.outF} (the Trainer's 512 rows with --large)`}, stored in localStorage`);
  const started = Date.now();
  const run = await benchInPage({
    phase: 'bench',
    suites,
    large,
    base: large,
    timeoutMs: PAGE_TIMEOUT_MS,
    onLine: (line) => console.log(line.split('\n').map((l) => `[page] ${l}`).join('\n')),
  });
  const a = run.info.adapter;
  const pageAdapter = `${a.name} (${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ')})`;
  console.log(`page: ${run.browser}, adapter ${pageAdapter}${run.info.subgroupSizes ? `, subgroups ${run.info.subgroupSizes.join('-')}` : ''}; kernel times: ${run.info.clock}; ` +
    `${((Date.now() - started) / 1000).toFixed(0)} s; bundle ${(run.bundleBytes / 2 ** 20).toFixed(1)} MiB`);
  const importers = [...new Set(Object.values(run.nodeImports).flat())];
  const fromBench = importers.filter((f) => f.startsWith('bench/'));
  if (fromBench.length) console.log(`warning: bench files in the page bundle import Node modules (stubbed there): ${fromBench.join(', ')}`);
  else if (importers.length) console.log(`page bundle: Node built-ins stubbed for ${importers.length} modules outside bench/ (e.g. ${importers.slice(0, 3).join(', ')}); never called on the bench's path`);
  const [first, second] = run.tuning;
  const timings = (t: Record<string, number>) => Object.entries(t).map(([v, ms]) => `${v} ${ms.toFixed(0)} ms`).join(', ');
  const second_ = !second ? 'not reported'
    : Object.keys(second.timings).length ? `measured again (${timings(second.timings)}): the choice was not kept`
    : `${second.variant} reused from localStorage, nothing measured (${second.ms.toFixed(0)} ms)`;
  console.log(`matmul tuning in the page: first load measured ${timings(first.timings) || 'nothing'} -> ${first.variant} ` +
    `(${(first.ms / 1000).toFixed(1)} s), kept in localStorage; second load: ${second_}`);
  if (!run.results) throw new Error('the page sent no results');
  const body = { ...run.results, browser: run.browser, tuning: first.variant, tuningTimingsMs: first.timings };
  console.log(`wrote ${writeResults(body)}`);

  console.log(`\n--- side by side, same run: Node = ${nodeAdapter}, ${nodeResults.node ?? 'Node'}; page = ${pageAdapter}, ${run.browser} ---`);
  console.log(sideBySide(nodeResults.results.filter((r) => suites.includes(r.group)), run.results.results));
}

const rate = (m: Measurement | undefined): string => {
  if (!m) return '-';
  if (m.gflops !== undefined) return `${m.gflops.toFixed(2)} GFLOP/s`;
  const tokens = m.extra?.['tokens/s'];
  return typeof tokens === 'number' ? `${tokens.toFixed(1)} tok/s` : '';
};
const ms = (m: Measurement | undefined) => (m ? m.ms.toFixed(1) : '-');

/** A row's identity: group, name and shape (bench/matmul.ts gives some products of different shapes the same name). */
const rowKey = (m: Measurement) => `${m.group}\u0000${m.name}\u0000${m.extra?.MxNxK ?? ''}`;
/** The product a row measures: a matmul row's name less its last word (the variant or tfjs-webgpu), and its shape. */
const productKey = (m: Measurement) => `${m.group}\u0000${m.group === 'matmul' ? m.name.slice(0, m.name.lastIndexOf(' ')) : m.name}\u0000${m.extra?.MxNxK ?? ''}`;

/**
 * The products the page ran, with every contender on either side, in Node's order (the page's
 * own rows after the page row before them): ms, rate, and the page's speed over Node's.
 * Below, what Node ran that the page did not.
 */
export function sideBySide(nodeRows: Measurement[], page: Measurement[]): string {
  const ran = new Set(page.map(productKey));
  const node = nodeRows.filter((m) => ran.has(productKey(m)));
  const nodeOnly = nodeRows.filter((m) => !ran.has(productKey(m)));
  const key = rowKey;
  const nodeBy = new Map(node.map((m) => [key(m), m]));
  const pageBy = new Map(page.map((m) => [key(m), m]));
  const order = node.map(key);
  let after = -1;
  for (const k of page.map(key)) {
    const at = order.indexOf(k);
    if (at >= 0) after = at;
    else order.splice(++after, 0, k);
  }
  const header = ['group', 'name', 'Node ms', 'Node', 'page ms', 'page', 'page/Node'];
  const lines = order.map((k) => {
    const n = nodeBy.get(k);
    const p = pageBy.get(k);
    const m = (n ?? p)!;
    const chosen = [n?.extra?.chosen === 'yes' && 'N', p?.extra?.chosen === 'yes' && 'P'].filter(Boolean).join('');
    return [m.group, `${m.name}${chosen ? ` [chosen ${chosen}]` : ''}`, ms(n), rate(n), ms(p), rate(p), n && p ? `${(n.ms / p.ms).toFixed(2)}x` : '-'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const groups = [...new Set(nodeOnly.map((m) => m.group))];
  const notInPage = groups.map((g) => {
    const rows = nodeOnly.filter((m) => m.group === g);
    return rows.length <= 3 ? rows.map((m) => `${g} ${m.name} ${m.ms.toFixed(1)} ms (${rate(m)})`).join('; ') : `${rows.length} ${g} rows`;
  });
  return [
    fmt(header),
    ...lines.map(fmt),
    "(page/Node: the page's speed over Node's, above 1 faster in the page; [chosen N/P]: the variant the engine uses in Node / in the page)",
    ...(notInPage.length ? [`Node only, not run in the page (--large runs more there): ${notInPage.join('; ')}`] : []),
  ].join('\n');
}
