// The op tests (test/ops/*.test.ts), autograd and AdamW, run again inside a
// real browser page on SwiftShader's WebGPU adapter: a second, independent
// implementation for every kernel, forward and backward against the same
// float64 references. Each test in the page counts once in test/run.ts's
// `N passed, N failed` line; a missing browser or adapter is a failure, never
// a skip. Node-only tests are listed, with reasons, in browser-set.ts.
//
// This file hands test/run.ts (and uvu's CLI) a suite runner through uvu's
// deferred queue, because the page's tests are known only once it has loaded them.

import { runInBrowser } from './runner.js';
import { COVERAGE_FILE, type FileResult, type PageInfo } from './page.js';

type SuiteRun = () => Promise<[string | true, number, number, number]>;
type Queue = [string | null, ...SuiteRun[]][];

/** SwiftShader takes about 2 minutes for the set on 2 cores; past this the page is stuck. */
const TIMEOUT_MS = 10 * 60_000;
/** Tests slower than this are named under their file, to show where the page's time goes. */
const SLOW_MS = 10_000;

// Colours as uvu's (kleur): only on a terminal, and never with NO_COLOR.
const colour = (process.stdout.isTTY && !('NO_COLOR' in process.env)) || !!process.env.FORCE_COLOR;
const red = (s: string) => (colour ? `\u001b[31m${s}\u001b[39m` : s);
const gray = (s: string) => (colour ? `\u001b[90m${s}\u001b[39m` : s);

async function runBrowserSuite(): Promise<[string | true, number, number, number]> {
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const errors: string[] = [];
  const fail = (what: string, note: string) => {
    failed++;
    errors.push(`${red('FAIL')}  browser  ${what}\n    ${note.replace(/\n/g, '\n    ')}`);
  };

  const onInfo = (info: PageInfo) => {
    const a = info.adapter;
    const adapter = a ? `${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ')} (${a.name})` : 'none';
    process.stdout.write(`  page: ${info.userAgent.match(/(HeadlessChrome|Chrome)\/[\d.]+/)?.[0] ?? info.userAgent}\n`);
    process.stdout.write(`  adapter: ${adapter}${info.subgroupSizes ? `, subgroups ${info.subgroupSizes.join('-')}` : ''}; features: ${info.features.join(' ') || 'none'}\n`);
    // The point of the page is a second adapter: Node's is Dawn on lavapipe.
    if (!a) fail("the page's WebGPU adapter", info.adapterError ?? 'no adapter');
    else if (!/swiftshader/i.test(`${a.architecture} ${a.description} ${a.device}`)) fail("the page's WebGPU adapter is SwiftShader", `got ${adapter}`);
    else passed++;
  };
  const onFile = ({ file, tests }: FileResult) => {
    const marks = tests.map((t) => (t.status === 'pass' ? '• ' : t.status === 'fail' ? red('✘ ') : gray('- '))).join('');
    const ran = tests.filter((t) => t.status !== 'skip');
    const ok = ran.filter((t) => t.status === 'pass').length;
    const seconds = tests.reduce((s, t) => s + t.ms, 0) / 1000;
    process.stdout.write(`  ${file}  ${marks} (${ok} / ${ran.length})${file === COVERAGE_FILE ? '' : gray(` ${seconds.toFixed(1)} s`)}\n`);
    for (const t of tests) {
      if (t.status === 'pass') passed++;
      else if (t.status === 'skip') {
        skipped++;
        process.stdout.write(`${gray(`    skipped in the browser: ${t.name}: ${t.note}`)}\n`);
      } else fail(`${file}  ${t.name}`, t.note ?? '');
    }
    if (file === COVERAGE_FILE) process.stdout.write(`${gray(`    ${tests.map((t) => t.name).join('; ')}`)}\n`);
    const slow = tests.filter((t) => t.ms >= SLOW_MS).map((t) => `${t.name} (${(t.ms / 1000).toFixed(1)} s)`);
    if (slow.length) process.stdout.write(`${gray(`    slowest: ${slow.join('; ')}`)}\n`);
  };
  const onConsole = (text: string) => process.stdout.write(`${text.split('\n').map((line) => gray(`    [page] ${line}`)).join('\n')}\n`);

  try {
    const version = await runInBrowser({ onInfo, onFile, onConsole }, TIMEOUT_MS);
    process.stdout.write(`${gray(`  Chromium ${version}, ${((Date.now() - started) / 1000).toFixed(0)} s in all`)}\n`);
  } catch (err) {
    fail('run', err instanceof Error ? err.message : String(err));
  }
  return [errors.length ? errors.join('\n\n') : true, passed, skipped, passed + failed];
}

const g = globalThis as { UVU_DEFER?: number; UVU_INDEX?: number; UVU_QUEUE?: Queue };
if (g.UVU_DEFER && g.UVU_QUEUE) {
  g.UVU_QUEUE[g.UVU_INDEX ?? 0].push(runBrowserSuite);
} else {
  const [errors, passed, skipped, total] = await runBrowserSuite();
  if (errors !== true) process.stdout.write(`\n${errors}\n`);
  console.log(`\n${passed} passed, ${total - passed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = errors === true && passed > 0 ? 0 : 1;
}
