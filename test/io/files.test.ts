// src/io/files.ts and src/io/lock.ts: atomic writes, per-process temporary names and the sweep
// of a dead writer's leftovers, reads that refuse what is not a regular file or not valid
// UTF-8/JSON (naming the file), and lock files (held, stale, waited for).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  copyFileAtomic, processAlive, readJsonFile, readJsonFileSync, readRegularFile, sweepStaleTemporaries, temporaryName,
  writeFileAtomic, writeFileAtomicSync,
} from '../../src/io/files.js';
import { LockedError, acquireLock } from '../../src/io/lock.js';
import { tempDir } from '../train/synthetic.js';
import { rejects } from '../helpers.js';

/** The PID of a process that has exited (free, so not alive). */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

test('writeFileAtomic, writeFileAtomicSync, copyFileAtomic: the whole file under its name, no temporary left; a failure names the file', async () => {
  const dir = tempDir('atomic');
  const path = join(dir, 'a.json');
  await writeFileAtomic(path, '{"v": 1}');
  writeFileAtomicSync(join(dir, 'b.bin'), Uint8Array.of(1, 2, 3));
  await copyFileAtomic(path, join(dir, 'c.json'));
  assert.equal(readdirSync(dir).sort(), ['a.json', 'b.bin', 'c.json']);
  assert.is(readFileSync(join(dir, 'c.json'), 'utf8'), '{"v": 1}');
  const missing = join(dir, 'no-such-folder', 'x');
  await rejects(writeFileAtomic(missing, 'x'), (e) => e.message.startsWith(`writing ${missing} failed`), 'a write into a missing folder');
  assert.throws(() => writeFileAtomicSync(missing, 'x'), (e: Error) => e.message.startsWith(`writing ${missing} failed`));
});

test('temporary names carry the PID and are unique; processAlive', () => {
  const a = temporaryName('/x/model.safetensors');
  assert.match(a, new RegExp(`^/x/\\.model\\.safetensors\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
  assert.is.not(a, temporaryName('/x/model.safetensors'));
  assert.ok(processAlive(process.pid));
  assert.not.ok(processAlive(deadPid()));
  assert.not.ok(processAlive(0));
  assert.not.ok(processAlive(-1));
});

test("sweepStaleTemporaries removes a dead PID's temporary files and folders and keeps a live one's and everything else", async () => {
  const dir = tempDir('sweep');
  const dead = deadPid();
  const deadFile = `.model.safetensors.${dead}.0123abcd.tmp`;
  const deadFolder = `.checkpoint-4.${dead}.89abcdef.tmp`;
  const liveFile = `.config.json.${process.pid}.00000000.tmp`;
  writeFileSync(join(dir, deadFile), 'half');
  mkdirSync(join(dir, deadFolder));
  writeFileSync(join(dir, deadFolder, 'model.safetensors'), 'half');
  writeFileSync(join(dir, liveFile), 'in progress');
  for (const other of ['notes.tmp', 'checkpoint-3', '.hidden']) writeFileSync(join(dir, other), 'keep');
  assert.equal(sweepStaleTemporaries(dir).sort(), [join(dir, deadFolder), join(dir, deadFile)].sort());
  assert.equal(readdirSync(dir).sort(), [liveFile, '.hidden', 'checkpoint-3', 'notes.tmp'].sort());
  assert.equal(sweepStaleTemporaries(join(dir, 'missing')), []);
  // The next atomic write into the folder sweeps too.
  writeFileSync(join(dir, deadFile), 'half');
  await writeFileAtomic(join(dir, 'a'), 'x');
  assert.not.ok(existsSync(join(dir, deadFile)));
});

test('readJsonFile refuses /dev/zero, a FIFO, a folder, invalid UTF-8, bad JSON and an oversized file, naming the file', async () => {
  const dir = tempDir('read');
  const fifo = join(dir, 'fifo.json');
  assert.is(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  const invalid = join(dir, 'latin1.json');
  writeFileSync(invalid, Uint8Array.of(0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d)); // {"a":"é"} in Latin-1
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"a": ');
  const cases: [string, RegExp][] = [
    ['/dev/zero', /^config\.json: \/dev\/zero is not a regular file/],
    [fifo, new RegExp(`^config\\.json: ${fifo} is not a regular file`)],
    [dir, new RegExp(`^config\\.json: ${dir} is not a regular file`)],
    [invalid, new RegExp(`^config\\.json \\(${invalid}\\): not valid UTF-8 \\(first bad byte at offset 6\\)`)],
    [bad, new RegExp(`^config\\.json: ${bad} is not valid JSON`)],
    [join(dir, 'missing.json'), /^config\.json: cannot read .*missing\.json/],
  ];
  for (const [path, message] of cases) {
    await rejects(readJsonFile(path, { what: 'config.json' }), (e) => message.test(e.message), path);
    assert.throws(() => readJsonFileSync(path, { what: 'config.json' }), (e: Error) => message.test(e.message), path);
  }
  writeFileSync(join(dir, 'big.json'), '[1, 2, 3]');
  await rejects(readRegularFile(join(dir, 'big.json'), { maxBytes: 4 }), (e) => e.message.endsWith('is 9 bytes, over the limit of 4 bytes for this kind of file'), 'over the cap');
  assert.equal(await readJsonFile(join(dir, 'big.json')), [1, 2, 3]);
});

test('a lock held by a live process: the second taker fails at once, naming the folder and the PID; release frees it', async () => {
  const path = join(tempDir('lock'), '.train.lock');
  const first = await acquireLock(path, { what: 'output folder weights/x' });
  await rejects(
    acquireLock(path, { what: 'output folder weights/x' }),
    (e) => e instanceof LockedError && e.owner?.pid === process.pid &&
      e.message.startsWith(`output folder weights/x is in use by process ${process.pid} on ${hostname()}`) && e.message.includes(`lock file ${path}`),
    'a second taker',
  );
  await first.release();
  assert.not.ok(existsSync(path));
  const again = await acquireLock(path);
  await again.release();
});

test('a re-entrant take of a lock this process holds nests (refcounted: the file goes with the last release); a plain take still fails', async () => {
  const path = join(tempDir('reentrant'), '.train.lock');
  const outer = await acquireLock(path);
  const inner = await acquireLock(path, { reentrant: true });
  await rejects(acquireLock(path), (e) => e instanceof LockedError, 'a plain second take');
  await inner.release();
  await inner.release(); // idempotent: does not release the outer handle's count
  assert.ok(existsSync(path), 'held by the outer handle');
  await outer.release();
  assert.not.ok(existsSync(path));
  const alone = await acquireLock(path, { reentrant: true }); // nothing held: an ordinary take
  assert.is(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  await alone.release();
  assert.not.ok(existsSync(path));
});

test('a stale lock is broken: a dead PID on this host, or a lock file left empty for long; a live PID on another host is not', async () => {
  const dir = tempDir('stale');
  const dead = join(dir, 'dead.lock');
  writeFileSync(dead, JSON.stringify({ pid: deadPid(), host: hostname(), since: '2020-01-01T00:00:00.000Z' }));
  const a = await acquireLock(dead);
  assert.is(JSON.parse(readFileSync(dead, 'utf8')).pid, process.pid);
  await a.release();

  const empty = join(dir, 'empty.lock'); // its owner killed between creating and writing it
  writeFileSync(empty, '');
  await rejects(acquireLock(empty), (e) => e instanceof LockedError && e.message.includes('in use by another process'), 'a fresh empty lock');
  const old = new Date(Date.now() - 60_000);
  utimesSync(empty, old, old);
  await (await acquireLock(empty)).release();

  const remote = join(dir, 'remote.lock');
  writeFileSync(remote, JSON.stringify({ pid: deadPid(), host: 'some-other-host', since: '2020-01-01T00:00:00.000Z' }));
  await rejects(acquireLock(remote), (e) => e instanceof LockedError && e.message.includes('on some-other-host'), 'a lock of another host');
});

test('wait mode waits for the holder to let go (and gives up after timeoutMs)', async () => {
  const path = join(tempDir('wait'), 'blob.lock');
  const holder = await acquireLock(path);
  await rejects(acquireLock(path, { wait: true, timeoutMs: 150, pollMs: 20 }), (e) => e instanceof LockedError && /after waiting 150 ms; lock file/.test(e.message), 'a short wait');
  let released = 0;
  setTimeout(() => {
    released = Date.now();
    void holder.release();
  }, 200);
  const waiter = await acquireLock(path, { wait: true, pollMs: 20 });
  assert.ok(released > 0 && Date.now() >= released, 'taken only after the release');
  await waiter.release();
});

test.run();
