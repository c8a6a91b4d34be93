// Faults of the Hub client (src/io/hub.ts) against the local stand-in Hub
// (test/support/hub-server.ts): two processes downloading into one cache, a
// downloader killed while it holds the blob's lock, servers that lie (wrong
// bytes, wrong sizes, malformed ETags, listings that loop, are HTML or not an
// array, files that clash), an unreachable Hub, a broken shard index, and the
// refs file, and a Hub that hangs (no answer, or a download that stops). Each bad case must fail with one message naming the repository,
// the file and the URL, leave no bad blob behind, and never show the token.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveModelFiles, resolvePretrainedFiles, snapshotDownload } from '../../src/io/hub.js';
import { startHubServer, gitBlobSha1, sha256, type HubServer } from '../support/hub-server.js';
import { rejectsNaming } from '../helpers.js';

const MODEL = 'org/model';
const MODEL_COMMIT = '3333333333333333333333333333333333333333';
const DATA = 'org/data';
const DATA_COMMIT = '4444444444444444444444444444444444444444';
const CLASH = 'org/clash';
const TOKEN = 'hf_never_shown_0123456789';

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

const config = JSON.stringify({ model_type: 'bert', hidden_size: 8 });
const weights = bytes(300_000, 7);
const weightsSha = sha256(weights);

let server: HubServer;
let root: string;

test.before(async () => {
  server = await startHubServer([
    { id: MODEL, type: 'model', commit: MODEL_COMMIT, files: { 'config.json': config, 'model.safetensors': weights }, lfs: ['model.safetensors'] },
    { id: DATA, type: 'dataset', commit: DATA_COMMIT, files: { 'train.csv': 'text,label\nhi,1\n', 'valid.csv': 'text,label\nho,0\n' } },
    { id: CLASH, type: 'dataset', commit: DATA_COMMIT, files: { 'topic_train.csv': 'text,label\nhi,1\n', 'topic_train.csv/evil.csv': 'x\n' } },
    { id: 'org/bad-index', type: 'model', commit: MODEL_COMMIT, files: { 'config.json': config, 'model.safetensors.index.json': '{"weight_map": {"a": ' } },
    { id: 'org/no-map', type: 'model', commit: MODEL_COMMIT, files: { 'config.json': config, 'model.safetensors.index.json': '{"metadata": {}}' } },
  ]);
  root = mkdtempSync(join(tmpdir(), 'hub-faults-'));
});

test.after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

let homes = 0;

/** Runs `fn` with a fresh HF_HOME pointed at `server` and HF_TOKEN set; the server tells the truth again afterwards. */
async function withHub(fn: (hfHome: string) => Promise<void>): Promise<void> {
  const hfHome = join(root, `home-${homes++}`);
  const vars = { HF_HOME: hfHome, HF_ENDPOINT: server.endpoint, HF_TOKEN: TOKEN, HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined, HF_HUB_OFFLINE: undefined };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  server.requests.length = 0;
  try {
    await fn(hfHome);
  } finally {
    set(saved);
    server.lyingBody.clear();
    server.lyingEtag.clear();
    server.unanswered.clear();
    server.listing = 'honest';
  }
}

/** The error `promise` rejects with, after checking that it names every pattern and never the token. */
async function rejects(promise: Promise<unknown>, patterns: (string | RegExp)[], what: string): Promise<Error> {
  const error = await rejectsNaming(promise, patterns, what);
  assert.not.ok(error.message.includes(TOKEN), `${what}: the token appears in '${error.message}'`);
  assert.not.ok(error.message.includes('\n'), `${what}: not one line: '${error.message}'`);
  return error;
}

const modelStorage = (hfHome: string) => join(hfHome, 'hub', 'models--org--model');
const lockFile = (hfHome: string) => join(hfHome, 'hub', '.locks', 'models--org--model', `${weightsSha}.lock`);

async function until(what: string, done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 20_000; !done(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** A separate Node process that downloads `file` of MODEL into the cache of this test's environment. */
function downloader(file: string): { child: ChildProcess; result: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const script = `
    const { resolveModelFiles } = await import(process.env.HUB_MODULE);
    try {
      process.stdout.write(JSON.stringify(await resolveModelFiles(process.env.REPO, [process.env.FILE], { progress: 'off' })));
    } catch (e) {
      process.stderr.write(e.message);
      process.exit(1);
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, HUB_MODULE: pathToFileURL(resolve('src/io/hub.ts')).href, REPO: MODEL, FILE: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return { child, result: new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr }))) };
}

const cdnGets = () => server.requests.filter((r) => r.method === 'GET' && r.url === `/cdn/${weightsSha}`);

test('two processes downloading one file into one cache: one waits on the lock, one correct blob, both succeed', async () => {
  await withHub(async (hfHome) => {
    const resume = server.stallNext('model.safetensors');
    const processes = [downloader('model.safetensors'), downloader('model.safetensors')];
    const heads = () => server.requests.filter((r) => r.method === 'HEAD' && r.url.endsWith('/model.safetensors')).length;
    await until('one download started and both HEADs', () => cdnGets().length === 1 && heads() === 2);
    await new Promise((r) => setTimeout(r, 300)); // the other is now polling the lock
    const owner = JSON.parse(readFileSync(lockFile(hfHome), 'utf8')).pid;
    assert.ok(processes.some((p) => p.child.pid === owner), 'the downloading process holds the blob lock');
    resume();
    const [a, b] = await Promise.all(processes.map((p) => p.result));
    assert.is(a.code, 0, a.stderr);
    assert.is(b.code, 0, b.stderr);
    assert.equal(JSON.parse(a.stdout), JSON.parse(b.stdout));
    assert.ok(Buffer.from(readFileSync(JSON.parse(a.stdout)['model.safetensors'])).equals(weights), 'the blob holds the right bytes');
    assert.is(cdnGets().length, 1, 'the waiting one found the blob and downloaded nothing');
    assert.equal(readdirSync(join(modelStorage(hfHome), 'blobs')), [weightsSha]);
    assert.not.ok(existsSync(lockFile(hfHome)), 'the lock is released');
  });
});

test('a downloader killed while it holds the lock: the next call breaks the stale lock and resumes the partial file', async () => {
  await withHub(async (hfHome) => {
    server.stallNext('model.safetensors');
    const killed = downloader('model.safetensors');
    const incomplete = join(modelStorage(hfHome), 'blobs', `${weightsSha}.incomplete`);
    await until('half of the file on disk', () => existsSync(incomplete) && statSync(incomplete).size >= weights.length >> 1);
    killed.child.kill('SIGKILL');
    await killed.result;
    assert.ok(existsSync(lockFile(hfHome)), 'the dead process left its lock');
    const path = (await resolveModelFiles(MODEL, ['model.safetensors'], { progress: 'off' }))['model.safetensors'];
    assert.ok(Buffer.from(readFileSync(path)).equals(weights));
    assert.is(cdnGets().at(-1)?.headers.range, `bytes=${weights.length >> 1}-`, 'resumed, not restarted');
    assert.not.ok(existsSync(lockFile(hfHome)));
  });
});

const lies: [string, string, Uint8Array, (string | RegExp)[]][] = [
  ['LFS file, same size, other bytes', 'model.safetensors', bytes(weights.length, 99), ['sha256', sha256(bytes(weights.length, 99)), `expected ${weightsSha}`]],
  ['regular file, same size, other bytes', 'config.json', new TextEncoder().encode(config.replace('bert', 'BERT')),
    ['git blob sha1', gitBlobSha1(new TextEncoder().encode(config.replace('bert', 'BERT'))), `expected ${gitBlobSha1(new TextEncoder().encode(config))}`]],
  ['longer than announced', 'model.safetensors', new Uint8Array([...weights, 1, 2, 3]), [`more than the ${weights.length} bytes announced`]],
  ['shorter than announced', 'model.safetensors', weights.subarray(0, 1000), ['refused to resume at byte 1000']],
];

for (const [name, file, body, patterns] of lies) {
  test(`a lying server (${name}) fails naming the repository, file and URL, and leaves no bad blob`, async () => {
    await withHub(async (hfHome) => {
      server.lyingBody.set(file, body);
      const url = file === 'model.safetensors' ? `${server.endpoint}/cdn/${weightsSha}` : `${server.endpoint}/${MODEL}/resolve/main/${file}`;
      await rejects(resolveModelFiles(MODEL, [file], { progress: 'off' }), [`model ${MODEL}, file ${file}`, url, ...patterns], name);
      const blobs = join(modelStorage(hfHome), 'blobs');
      assert.equal(readdirSync(blobs), [], 'no blob and no partial file');
      assert.not.ok(existsSync(join(modelStorage(hfHome), 'snapshots', MODEL_COMMIT, file)), 'no snapshot entry');
      // The cache is not poisoned: once the server tells the truth the file downloads.
      server.lyingBody.clear();
      const path = (await resolveModelFiles(MODEL, [file], { progress: 'off' }))[file];
      assert.ok(Buffer.from(readFileSync(path)).equals(file === 'config.json' ? new TextEncoder().encode(config) : weights));
    });
  });
}

test('an ETag that is not a 40- or 64-hex digest is refused, naming the repository, file and ETag; nothing is stored', async () => {
  for (const etag of ['".."', '"../../.."', 'W/"5a-1b2c3d"', '""', `"${'a'.repeat(63)}"`, `"${'A'.repeat(40)}"`]) {
    await withHub(async (hfHome) => {
      for (const file of ['config.json', 'model.safetensors']) {
        server.lyingEtag.set(file, etag);
        await rejects(resolveModelFiles(MODEL, [file], { progress: 'off' }), [`model ${MODEL}, file ${file}`, `'${etag}'`, '40- or 64-hex', `/${MODEL}/resolve/main/${file}`], `ETag ${etag}`);
      }
      assert.not.ok(existsSync(modelStorage(hfHome)), `nothing in the cache for ETag ${etag}`);
    });
  }
  // A weak or quoted digest is fine.
  await withHub(async () => {
    server.lyingEtag.set('config.json', `W/"${gitBlobSha1(new TextEncoder().encode(config))}"`);
    await resolveModelFiles(MODEL, ['config.json'], { progress: 'off' });
  });
});

test('a file listing whose Link: next points at itself fails at once, naming the repository and URL', async () => {
  await withHub(async () => {
    server.listing = 'self-link';
    await rejects(snapshotDownload(DATA, { repoType: 'dataset', progress: 'off' }),
      [`data set ${DATA}`, 'loops', `${server.endpoint}/api/datasets/${DATA}/tree/main?recursive=true`], 'self link');
    assert.is(server.requests.length, 1);
  });
});

test('a file listing that is HTML or not an array fails naming the repository and URL', async () => {
  for (const [listing, pattern] of [['html', 'is not JSON (content-type text/html)'], ['not-array', 'is not a JSON array of files']] as const) {
    await withHub(async () => {
      server.listing = listing;
      await rejects(snapshotDownload(DATA, { repoType: 'dataset', progress: 'off' }),
        [`data set ${DATA}`, pattern, `${server.endpoint}/api/datasets/${DATA}/tree/main`, 'HF_ENDPOINT'], listing);
    });
  }
});

test("a listing with a file that is also a folder ('topic_train.csv/evil.csv') is refused before any download", async () => {
  await withHub(async (hfHome) => {
    await rejects(snapshotDownload(CLASH, { repoType: 'dataset', progress: 'off' }),
      [`data set ${CLASH}`, "'topic_train.csv' and 'topic_train.csv/evil.csv' clash"], 'clash');
    assert.not.ok(server.requests.some((r) => r.url.includes('/resolve/')));
    // A path that does not exist is taken for a Hub id: the answer says it is neither.
    await rejects(snapshotDownload('topic_train.csv/evil.csv', { repoType: 'dataset', progress: 'off' }),
      ['data set topic_train.csv/evil.csv', 'repository not found', 'no local path either', `${server.endpoint}/api/datasets/topic_train.csv/evil.csv/tree/main`], 'not a repository');
    // Asked for one at a time (either order), the second meets the first in the snapshot folder.
    const snapshot = join(hfHome, 'hub', 'datasets--org--clash', 'snapshots', DATA_COMMIT);
    for (const [first, second] of [['topic_train.csv', 'topic_train.csv/evil.csv'], ['topic_train.csv/evil.csv', 'topic_train.csv']]) {
      rmSync(snapshot, { recursive: true, force: true });
      await snapshotDownload(CLASH, { repoType: 'dataset', files: [first], progress: 'off' });
      await rejects(snapshotDownload(CLASH, { repoType: 'dataset', files: [second], progress: 'off' }),
        [`data set ${CLASH}, file ${second}: ${join(snapshot, second)} clashes with a file or folder already in the snapshot`], `clash on disk, ${first} first`);
    }
  });
});

test('an unreachable Hub: errors name the repository, file, URL and cause; a cached snapshot is used', async () => {
  const closed = await startHubServer([]);
  await closed.close();
  await withHub(async (hfHome) => {
    const cached = await snapshotDownload(DATA, { repoType: 'dataset', progress: 'off' });
    process.env.HF_ENDPOINT = closed.endpoint;
    assert.is(await snapshotDownload(DATA, { repoType: 'dataset', progress: 'off' }), cached);
    process.env.HF_HOME = join(hfHome, 'empty');
    await rejects(snapshotDownload(DATA, { repoType: 'dataset', progress: 'off' }),
      [`data set ${DATA}`, `${closed.endpoint}/api/datasets/${DATA}/tree/main`, 'ECONNREFUSED', join(hfHome, 'empty')], 'listing');
    await rejects(resolveModelFiles(MODEL, ['config.json'], { progress: 'off' }),
      [`model ${MODEL}, file config.json`, `${closed.endpoint}/${MODEL}/resolve/main/config.json`, 'ECONNREFUSED'], 'file');
  });
});

test('a broken model.safetensors.index.json is an error naming the repository and file', async () => {
  await withHub(async () => {
    await rejects(resolvePretrainedFiles('org/bad-index', { progress: 'off' }), ['model org/bad-index, file model.safetensors.index.json', 'not valid JSON'], 'truncated');
    await rejects(resolvePretrainedFiles('org/no-map', { progress: 'off' }), ['model org/no-map, file model.safetensors.index.json', 'no weight_map'], 'no weight_map');
  });
});

test('refs/<revision> is replaced atomically (a rename, not a write through), and a damaged one is not trusted', async () => {
  await withHub(async (hfHome) => {
    const refs = join(modelStorage(hfHome), 'refs');
    mkdirSync(refs, { recursive: true });
    const outside = join(hfHome, 'outside.txt');
    writeFileSync(outside, 'keep');
    symlinkSync(outside, join(refs, 'main'));
    await resolveModelFiles(MODEL, ['config.json'], { progress: 'off' });
    assert.is(readFileSync(outside, 'utf8'), 'keep', 'the old file was not written through');
    assert.ok(lstatSync(join(refs, 'main')).isFile());
    assert.is(readFileSync(join(refs, 'main'), 'utf8'), MODEL_COMMIT);
    assert.equal(readdirSync(refs), ['main'], 'no temporary left');
    // An empty ref (a crash of an older version) or one pointing outside: offline says "not in the cache".
    process.env.HF_HUB_OFFLINE = '1';
    for (const damaged of ['', '../../../..']) {
      writeFileSync(join(refs, 'main'), damaged);
      await rejects(resolveModelFiles(MODEL, ['config.json']), [`model ${MODEL}, file config.json`, 'not in the cache'], `ref '${damaged}'`);
    }
  });
});

test('a revision that would leave refs/ is refused', async () => {
  await withHub(async () => {
    await rejects(resolveModelFiles(MODEL, ['config.json'], { revision: '../../escape', progress: 'off' }), [`model ${MODEL}`, "invalid revision '../../escape'"], 'revision');
    assert.is(server.requests.length, 0);
  });
});


/** Runs fn with the Hub client's timeouts set to `seconds`. */
async function withTimeouts(seconds: string, fn: () => Promise<void>): Promise<void> {
  process.env.HF_HUB_ETAG_TIMEOUT = seconds;
  process.env.HF_HUB_DOWNLOAD_TIMEOUT = seconds;
  try {
    await fn();
  } finally {
    delete process.env.HF_HUB_ETAG_TIMEOUT;
    delete process.env.HF_HUB_DOWNLOAD_TIMEOUT;
  }
}

test('a Hub that never answers: the call gives up after HF_HUB_ETAG_TIMEOUT naming the file and URL; a cached file is used', async () => {
  await withHub(async () => withTimeouts('0.3', async () => {
    server.unanswered.add('config.json');
    const started = Date.now();
    const error = await resolveModelFiles(MODEL, ['config.json']).then(() => null, (e: Error) => e);
    assert.ok(error, 'refused');
    assert.ok(Date.now() - started < 5000, `gave up in ${Date.now() - started} ms`);
    assert.match(error!.message, /org\/model, file config\.json/);
    assert.match(error!.message, /resolve\/main\/config\.json/);
    assert.match(error!.message, /no answer within 0\.3 s \(HF_HUB_ETAG_TIMEOUT/);
    assert.not.match(error!.message, new RegExp(TOKEN));
    server.unanswered.clear();
    await resolveModelFiles(MODEL, ['config.json']); // into the cache
    server.unanswered.add('config.json');
    const cached = await resolveModelFiles(MODEL, ['config.json']);
    assert.is(readFileSync(Object.values(cached)[0] as string, 'utf8'), config, 'the cached file, as huggingface_hub falls back to it');
  }));
});

test('a download that stops sending is cut after HF_HUB_DOWNLOAD_TIMEOUT and resumed; the blob is whole', async () => {
  await withHub(async (hfHome) => withTimeouts('0.3', async () => {
    const release = server.stallNext('model.safetensors');
    try {
      const files = await resolveModelFiles(MODEL, ['model.safetensors']);
      const path = Object.values(files)[0] as string;
      assert.is(sha256(readFileSync(path)), weightsSha, 'the resumed blob is the file');
      const gets = server.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/cdn/'));
      assert.ok(gets.some((r) => typeof r.headers.range === 'string'), 'the second GET resumed with a Range');
      assert.ok(existsSync(hfHome));
    } finally {
      release();
    }
  }));
});

test.run();
