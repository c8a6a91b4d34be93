// browserTuningStore (src/gpu/browser-tuning-store.ts) against a stand-in for
// localStorage, in Node: the page's own round trip (tune, reload, reuse) is
// test/browser/bench.test.ts.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { browserTuningStore, BROWSER_TUNING_KEY } from '../../src/gpu/browser-tuning-store.js';

function memoryStorage(initial: Record<string, string> = {}) {
  const items = new Map(Object.entries(initial));
  return { items, getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v) };
}

function quietly<T>(f: () => T): { value: T; warnings: string[] } {
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (m: string) => void warnings.push(m);
  try {
    return { value: f(), warnings };
  } finally {
    console.warn = warn;
  }
}

test('browser tuning store: untuned reads undefined; a save is read back whole under its key', () => {
  const storage = memoryStorage();
  const store = browserTuningStore(storage);
  assert.is(store.load(), undefined);
  const record = { 'matmul-v2@swiftshader|google/swiftshader//': 'register', 'matmul-v2@llvmpipe|mesa/...': 'subgroup' };
  store.save(record);
  assert.equal(JSON.parse(storage.items.get(BROWSER_TUNING_KEY)!), record);
  assert.equal(browserTuningStore(storage).load(), record);
});

test('browser tuning store: a malformed record reads as untuned, with a warning; refused storage keeps choices in memory, never throws', () => {
  for (const bad of ['{not json', '[1,2]', '{"k": 3}']) {
    const { value, warnings } = quietly(() => browserTuningStore(memoryStorage({ [BROWSER_TUNING_KEY]: bad })).load());
    assert.is(value, undefined, bad);
    assert.match(warnings.join('\n'), 'malformed tuning record');
  }
  const refusing = { getItem: () => { throw new Error('SecurityError'); }, setItem: () => { throw new Error('QuotaExceededError'); } };
  const { value, warnings } = quietly(() => {
    const store = browserTuningStore(refusing);
    store.save({ a: 'b' });
    return store.load();
  });
  assert.is(value, undefined);
  assert.match(warnings.join('\n'), 'QuotaExceededError');
  const none = quietly(() => browserTuningStore(null).save({ a: 'b' }));
  assert.match(none.warnings.join('\n'), 'no localStorage');
});

test.run();
