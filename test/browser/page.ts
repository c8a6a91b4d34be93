// The harness inside the browser page: imports each test file of the browser
// set (their `uvu` is uvu-shim.ts), runs its suites with uvu's order of hooks,
// and reports every test by name to the Node runner (ops.test.ts) through the
// functions it exposed on window. Last, it checks that every compute entry
// point in shaders/ ran on the page's adapter, so forward and backward of every
// kernel were exercised by a second, independent WebGPU implementation.

import { beginFile, takeSuites, type RegisteredSuite } from './uvu-shim.js';
import { NODE_ONLY } from './browser-set.js';
import { init, gpu } from '../../src/gpu/device.js';
import { SHADER_SOURCES } from '../../src/gpu/shaders.generated.js';
import { matmulVariantSupported } from '../../src/ops/matmul.js';

export interface TestResult {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  ms: number;
  /** The error of a failed test, the reason a test was skipped. */
  note?: string;
}

export interface FileResult {
  file: string;
  tests: TestResult[];
}

export interface PageInfo {
  userAgent: string;
  /** The adapter as the engine describes it, or why none was opened. */
  adapter: { vendor: string; architecture: string; device: string; description: string; name: string } | null;
  adapterError?: string;
  features: string[];
  subgroupSizes?: [number, number];
}

/** What the Node runner exposes on the page's window. */
export interface Reporter {
  sgInfo(info: PageInfo): Promise<void>;
  sgFile(result: FileResult): Promise<void>;
  sgDone(): Promise<void>;
}

/** The pseudo-file under which the kernel coverage check is reported. */
export const COVERAGE_FILE = '(every kernel)';

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const details = (err as Error & { details?: unknown }).details;
  let text = err.name === 'Assertion' ? err.message : `${err.name}: ${err.message}`;
  if (typeof details === 'string' && details) text += `\n${details}`;
  // Frames point into the bundle; the first few still say which function threw.
  if (err.name !== 'Assertion' && err.stack) text += `\n${err.stack.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 4).join('\n')}`;
  return text;
}

async function runSuite(suite: RegisteredSuite): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const nodeOnly = NODE_ONLY[suite.file] ?? {};
  const selected = suite.only.length ? suite.only : suite.tests;
  for (const t of suite.only.length ? suite.tests : []) results.push({ name: t.name, status: 'skip', ms: 0, note: 'test.only elsewhere in the file' });
  for (const name of suite.skips) results.push({ name, status: 'skip', ms: 0, note: 'test.skip' });

  let beforeError: string | undefined;
  try {
    for (const hook of suite.before) await hook(suite.state);
  } catch (err) {
    beforeError = `before hook failed: ${describe(err)}`;
  }
  for (const t of selected) {
    if (t.name in nodeOnly) {
      results.push({ name: t.name, status: 'skip', ms: 0, note: `Node only: ${nodeOnly[t.name]}` });
      continue;
    }
    if (beforeError) {
      results.push({ name: t.name, status: 'fail', ms: 0, note: beforeError });
      continue;
    }
    suite.state.__test__ = t.name;
    const start = performance.now();
    try {
      for (const hook of suite.beforeEach) await hook(suite.state);
      await t.handler(suite.state);
      for (const hook of suite.afterEach) await hook(suite.state);
      results.push({ name: t.name, status: 'pass', ms: performance.now() - start });
    } catch (err) {
      const note = describe(err);
      try {
        for (const hook of suite.afterEach) await hook(suite.state);
      } catch {
        // The test's own error is the one to report.
      }
      results.push({ name: t.name, status: 'fail', ms: performance.now() - start, note });
    }
  }
  suite.state.__test__ = '';
  try {
    for (const hook of suite.after) await hook(suite.state);
  } catch (err) {
    results.push({ name: '(after hook)', status: 'fail', ms: 0, note: describe(err) });
  }
  return results;
}

/** Compute entry points declared in shaders/, as "shader.entry". */
function declaredEntryPoints(): string[] {
  return Object.entries(SHADER_SOURCES).flatMap(([shader, code]) =>
    [...code.replace(/\/\/.*$/gm, '').matchAll(/@compute\b[^;{]*?\bfn\s+(\w+)/g)].map((m) => `${shader}.${m[1]}`));
}

/** Runs the files in order; `files` pairs each name with its import. */
export async function runAll(files: [string, () => Promise<unknown>][]): Promise<void> {
  const reporter = window as unknown as Window & Reporter;
  const used = new Set<string>();
  const info: PageInfo = { userAgent: navigator.userAgent, adapter: null, features: [] };
  try {
    const runtime = await init();
    info.adapter = { ...runtime.adapter };
    info.features = [...runtime.features].map(String).sort();
    const adapterInfo = (runtime.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
    if (adapterInfo?.subgroupMinSize !== undefined) info.subgroupSizes = [adapterInfo.subgroupMinSize, adapterInfo.subgroupMaxSize ?? 0];
    // Record which kernels the tests create pipelines for (every dispatch gets its pipeline here).
    const cache = runtime.pipelines;
    const get = cache.get.bind(cache);
    cache.get = (kernel, constants) => {
      used.add(`${kernel.shader}.${kernel.entryPoint}`);
      return get(kernel, constants);
    };
  } catch (err) {
    // Every test's before hook (setupDevice) fails the same way and says so.
    info.adapterError = describe(err);
  }
  await reporter.sgInfo(info);

  for (const [file, load] of files) {
    beginFile(file);
    const tests: TestResult[] = [];
    try {
      await load();
    } catch (err) {
      tests.push({ name: '(loading the file)', status: 'fail', ms: 0, note: describe(err) });
    }
    const suites = takeSuites();
    if (!suites.length && !tests.length) tests.push({ name: '(test.run)', status: 'fail', ms: 0, note: 'the file registered no suite (no test.run())' });
    for (const suite of suites) tests.push(...(await runSuite(suite)));
    await reporter.sgFile({ file, tests });
  }

  // Kernel coverage: kernels the adapter cannot run are excused: matmul-subgroup needs subgroups of 8, and
  // matmul-stage (A staged transposed) and matmul-pack (the panel product's B) serve only the subgroup
  // variant; matmul-f16 needs shader-f16.
  const subgroupOnly = (entry: string) => ['matmul-subgroup.', 'matmul-stage.', 'matmul-pack.'].some((s) => entry.startsWith(s));
  const f16Only = (entry: string) => entry.startsWith('matmul-f16.');
  const excused = (entry: string) => info.adapter !== null &&
    ((subgroupOnly(entry) && !matmulVariantSupported('subgroup', gpu())) || (f16Only(entry) && !gpu().features.has('shader-f16')));
  const declared = declaredEntryPoints();
  const missing = declared.filter((e) => !used.has(e) && !excused(e));
  const skipped = declared.filter((e) => !used.has(e) && excused(e));
  await reporter.sgFile({
    file: COVERAGE_FILE,
    tests: [{
      name: `every compute entry point in shaders/ ran in the page (${declared.length - missing.length - skipped.length} of ${declared.length}${skipped.length ? `; not on this adapter: ${skipped.join(', ')}` : ''})`,
      status: declared.length > 0 && missing.length === 0 ? 'pass' : 'fail',
      ms: 0,
      ...(declared.length === 0 ? { note: 'no @compute entry point found in SHADER_SOURCES' } : missing.length ? { note: `never dispatched in the page: ${missing.join(', ')}` } : {}),
    }],
  });
  await reporter.sgDone();
}
