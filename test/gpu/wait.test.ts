// politeWait (src/gpu/wait.ts): while a wait is pending, native setImmediate callbacks (Dawn's
// event polling) run from a timer and every other callback as before; nested waits share one
// patch; setImmediate is restored when the last wait settles, rejected ones included; and a
// CPU adapter's sync and readback still settle through it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { politeWait } from '../../src/gpu/wait.js';
import { gpu } from '../../src/gpu/device.js';
import { tensor } from '../../src/tensor.js';
import { setupDevice } from '../helpers.js';

test.before(setupDevice);

test('politeWait routes native setImmediate callbacks to a timer, passes others through, restores it', async () => {
  const before = globalThis.setImmediate;
  const seen: string[] = [];
  await politeWait(async () => {
    assert.is.not(globalThis.setImmediate, before, 'patched while pending');
    const nested = politeWait(async () => {
      await new Promise<void>((resolve) => setImmediate(() => { seen.push('js'); resolve(); }));
    });
    // A native function (bound natives print as [native code]) goes through the timer and still runs.
    await new Promise<void>((resolve) => setImmediate(Function.prototype.call.bind(() => { seen.push('native'); resolve(); }) as () => void));
    await nested;
    assert.is.not(globalThis.setImmediate, before, 'still patched while the outer wait is pending');
  });
  assert.is(globalThis.setImmediate, before, 'restored');
  assert.equal(seen.sort(), ['js', 'native']);
  await politeWait(() => Promise.reject(new Error('lost'))).catch((e: Error) => assert.is(e.message, 'lost'));
  assert.is(globalThis.setImmediate, before, 'restored after a rejection');
});

test('sync and readback settle on this device through the same waits', async () => {
  const before = globalThis.setImmediate;
  const t = tensor(new Float32Array([1, 2, 3]), [3]);
  await gpu().sync();
  assert.equal(Array.from(await t.toArray()), [1, 2, 3]);
  assert.is(globalThis.setImmediate, before);
  t.dispose();
});

test.run();
