// What `import { test } from 'uvu'` resolves to in the browser bundle: uvu's
// suite API (test, suite, before/after hooks, only, skip, run) with uvu's
// order of hooks, except that `test.run()` hands the suite to the page
// harness (page.ts), which runs it and reports every test by name, instead of
// printing dots. `uvu/assert` is uvu's own.

type Hook = (state: Record<string, unknown>) => unknown;

interface Case {
  name: string;
  handler: Hook;
}

/** A suite as `test.run()` left it: its tests and hooks, from one test file. */
export interface RegisteredSuite {
  file: string;
  name: string;
  tests: Case[];
  only: Case[];
  before: Hook[];
  after: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
  /** The names of tests written with test.skip. */
  skips: string[];
  state: Record<string, unknown>;
}

interface Test {
  (name: string, handler: Hook): void;
  before: ((hook: Hook) => void) & { each(hook: Hook): void };
  after: ((hook: Hook) => void) & { each(hook: Hook): void };
  only(name: string, handler: Hook): void;
  skip(name?: string, handler?: Hook): void;
  run(): void;
}

const registered: RegisteredSuite[] = [];
let currentFile = '';

/** The harness names the test file it is about to import; suites it registers carry that name. */
export function beginFile(file: string): void {
  currentFile = file;
}

/** The suites registered since the last call. */
export function takeSuites(): RegisteredSuite[] {
  return registered.splice(0);
}

function fresh(name: string, state: Record<string, unknown>): RegisteredSuite {
  return { file: currentFile, name, tests: [], only: [], before: [], after: [], beforeEach: [], afterEach: [], skips: [], state };
}

export function suite(name = '', state: Record<string, unknown> = {}): Test {
  let ctx = fresh(name, state);
  const test = ((testName: string, handler: Hook) => void ctx.tests.push({ name: testName, handler })) as Test;
  test.before = Object.assign((hook: Hook) => void ctx.before.push(hook), { each: (hook: Hook) => void ctx.beforeEach.push(hook) });
  test.after = Object.assign((hook: Hook) => void ctx.after.push(hook), { each: (hook: Hook) => void ctx.afterEach.push(hook) });
  test.only = (testName, handler) => void ctx.only.push({ name: testName, handler });
  test.skip = (name?: string) => void ctx.skips.push(name ?? '(unnamed)');
  test.run = () => {
    registered.push({ ...ctx, file: currentFile });
    ctx = fresh(name, { ...state });
  };
  return test;
}

export const test = suite();

/** uvu's exec: the harness runs the suites, so there is nothing to do here. */
export async function exec(): Promise<void> {}
