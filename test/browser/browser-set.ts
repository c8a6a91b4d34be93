// Which test files run in the browser page, and which of their tests do not.
// Imported by the Node runner (to bundle the files) and by the page (to leave
// the named tests out). Pure: no Node module, no DOM.

/**
 * Test files run in the page, in this order, as well as every test/ops/*.test.ts
 * (found by the runner, so a new op test runs in the browser without being listed).
 * adamw, grad-scaler: the optimizer's and the loss scaler's kernels, so that every compute entry
 * point in shaders/ runs on the browser's adapter too.
 */
export const EXTRA_FILES = ['test/autograd.test.ts', 'test/optim/adamw.test.ts', 'test/optim/grad-scaler.test.ts'];

/**
 * Tests that need Node APIs, by file and exact name, with the reason. They run in
 * Node; in the page they are reported as skipped (never as passed). Their files'
 * Node imports resolve to stubs that throw when called, so a Node-only test not
 * listed here fails in the page with a message naming the API.
 */
export const NODE_ONLY: Record<string, Record<string, string>> = {
  'test/ops/matmul.test.ts': {
    'node tuning store: missing and malformed files read as untuned; saves replace the file whole':
      'writes tuning files with node:fs in a temporary folder (the browser keeps tuning in its own store)',
  },
};
