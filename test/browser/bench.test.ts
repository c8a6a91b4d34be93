// The benchmarks' page (bench/browser/) in Chromium on SwiftShader, kept small:
// the matmul variant is tuned on the first load (a small shape) and kept in
// localStorage, a 256³ product is checked and timed, and a second load of the
// page reuses the stored choice without measuring. The full run is
// `npm run bench -- --browser`.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { benchInPage } from '../../bench/browser/run-page.js';

test('bench page: a 256³ matmul on SwiftShader gives positive GFLOP/s; the tuned variant is stored and reused on reload', async () => {
  const lines: string[] = [];
  const run = await benchInPage({ phase: 'quick', timeoutMs: 60_000, onLine: (l) => lines.push(l) });
  const where = `\npage printed:\n${lines.join('\n')}`;
  assert.match(`${run.info.adapter.description} ${run.info.adapter.architecture} ${run.info.adapter.device}`.toLowerCase(), 'swiftshader', `page adapter ${JSON.stringify(run.info.adapter)}`);
  // The bench's own files import no Node module (src/'s Node-only loaders are stubbed; see issue 12 item 1).
  const fromBench = Object.entries(run.nodeImports).flatMap(([m, files]) => files.filter((f) => f.startsWith('bench/')).map((f) => `${f}: ${m}`));
  assert.equal(fromBench, [], 'bench files in the page bundle import Node modules');
  const rows = run.results?.results ?? [];
  assert.is(rows.length, 1, where);
  assert.ok(rows[0].gflops !== undefined && rows[0].gflops > 0 && Number.isFinite(rows[0].gflops), `GFLOP/s ${rows[0].gflops}${where}`);
  assert.is(run.results?.adapter.name, run.info.adapter.name);
  const [first, second] = run.tuning;
  assert.ok(first && Object.keys(first.timings).length >= 1, `first load measures the candidates: ${JSON.stringify(first)}`);
  assert.ok(second, 'second load tuned');
  assert.equal(second.timings, {}, 'second load measures nothing');
  assert.is(second.variant, first.variant);
  assert.ok(rows[0].name.endsWith(first.variant), `the product ran on the tuned variant: ${rows[0].name}`);
});

test.run();
