// The Hub client against a local server (test/support/hub-server.ts): the
// huggingface_hub cache layout, 404s, a connection dropped mid-file, servers
// that ignore Range, offline runs, HF_TOKEN, data set listing, and
// `npm run weights`. Every test gets its own empty cache folder and sets the
// HF_* variables it needs, restoring them afterwards.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLocalPath, resolveModelFiles, snapshotDownload, type DownloadProgress } from '../../src/io/hub.js';
import { fetchWeights } from '../../scripts/weights.js';
import { startHubServer, gitBlobSha1, sha256, type HubServer } from '../support/hub-server.js';
import { rejectsNaming } from '../helpers.js';

const BERT = 'google-bert/bert-base-cased';
const BERT_COMMIT = 'cd5ef92a9fb2f889e972770a36d4ed042daf221e';
const SHARDED = 'org/sharded-bert';
const SHARDED_COMMIT = '1111111111111111111111111111111111111111';
const TWEETS = 'zeroshot/twitter-financial-news-topic';
const TWEETS_COMMIT = '2222222222222222222222222222222222222222';

/** Seeded bytes, big enough that half a file is many TCP packets. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

const config = JSON.stringify({ model_type: 'bert', hidden_size: 8 });
const vocab = '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n';
const weights = bytes(300_000, 1);
const shards = [bytes(50_000, 2), bytes(40_000, 3)];
const index = JSON.stringify({ weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' } });

let server: HubServer;
let cacheRoot: string;

test.before(async () => {
  server = await startHubServer([
    { id: BERT, type: 'model', commit: BERT_COMMIT, files: { 'config.json': config, 'vocab.txt': vocab, 'model.safetensors': weights }, lfs: ['model.safetensors'] },
    {
      id: SHARDED, type: 'model', commit: SHARDED_COMMIT,
      files: { 'config.json': config, 'vocab.txt': vocab, 'model.safetensors.index.json': index, 'model-00001-of-00002.safetensors': shards[0], 'model-00002-of-00002.safetensors': shards[1] },
      lfs: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'],
    },
    { id: TWEETS, type: 'dataset', commit: TWEETS_COMMIT, files: { 'README.md': '# tweets', 'topic_train.csv': 'text,label\nhi,1\n', 'data/topic_valid.csv': 'text,label\nho,2\n' } },
  ], 2);
  cacheRoot = mkdtempSync(join(tmpdir(), 'hub-test-'));
});

test.after(async () => {
  await server.close();
  rmSync(cacheRoot, { recursive: true, force: true });
});

let cacheCount = 0;

/** Runs `fn` with a fresh HF_HOME pointed at `server`, other HF_* variables unset unless given; restores them after. */
async function withHub(vars: Record<string, string | undefined>, fn: (hfHome: string) => Promise<void>): Promise<void> {
  const hfHome = join(cacheRoot, `home-${cacheCount++}`);
  const all: Record<string, string | undefined> = {
    HF_HOME: hfHome, HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined,
    HF_HUB_OFFLINE: undefined, HF_TOKEN: undefined, ...vars,
  };
  const saved = Object.fromEntries(Object.keys(all).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(all);
  server.requests.length = 0;
  server.ignoreRange = false;
  server.requiredToken = null;
  try {
    await fn(hfHome);
  } finally {
    set(saved);
  }
}

const bertStorage = (hfHome: string) => join(hfHome, 'hub', 'models--google-bert--bert-base-cased');

test('downloads into the huggingface_hub cache layout: blobs, refs, relative snapshot symlinks', async () => {
  await withHub({}, async (hfHome) => {
    const events: DownloadProgress[] = [];
    const paths = await resolveModelFiles(BERT, ['config.json', 'model.safetensors'], { progress: (p) => events.push({ ...p }) });
    const storage = bertStorage(hfHome);
    const snapshot = join(storage, 'snapshots', BERT_COMMIT);
    assert.equal(paths, { 'config.json': join(snapshot, 'config.json'), 'model.safetensors': join(snapshot, 'model.safetensors') });
    assert.is(readFileSync(join(storage, 'refs', 'main'), 'utf8'), BERT_COMMIT);
    // Small files are named by their git blob sha1 (ETag), LFS files by their sha256 (X-Linked-Etag).
    const configBlob = gitBlobSha1(new TextEncoder().encode(config));
    const weightsBlob = sha256(weights);
    assert.equal(readdirSync(join(storage, 'blobs')).sort(), [configBlob, weightsBlob].sort());
    assert.ok(lstatSync(paths['config.json']).isSymbolicLink());
    assert.is(readlinkSync(paths['config.json']), `../../blobs/${configBlob}`);
    assert.is(readlinkSync(paths['model.safetensors']), `../../blobs/${weightsBlob}`);
    assert.is(readFileSync(paths['config.json'], 'utf8'), config);
    assert.ok(Buffer.from(readFileSync(paths['model.safetensors'])).equals(weights));
    // The LFS file was fetched from the redirect target, after a HEAD of the resolve URL
    // at the commit that the first file came from (so all files are of one snapshot).
    assert.ok(server.requests.some((r) => r.method === 'HEAD' && r.url === `/${BERT}/resolve/main/config.json`));
    assert.ok(server.requests.some((r) => r.method === 'HEAD' && r.url === `/${BERT}/resolve/${BERT_COMMIT}/model.safetensors`));
    assert.ok(server.requests.some((r) => r.method === 'GET' && r.url === `/cdn/${weightsBlob}`));
    const last = events.filter((e) => e.file === 'model.safetensors').at(-1);
    assert.equal(last, { repo: BERT, file: 'model.safetensors', received: weights.length, total: weights.length, done: true });
    // A second run finds the snapshot and downloads nothing.
    server.requests.length = 0;
    assert.equal(await resolveModelFiles(BERT, ['config.json', 'model.safetensors'], { progress: 'off' }), paths);
    assert.not.ok(server.requests.some((r) => r.method === 'GET'));
    // A commit hash revision already cached needs no request at all.
    server.requests.length = 0;
    await resolveModelFiles(BERT, ['config.json'], { revision: BERT_COMMIT, progress: 'off' });
    assert.is(server.requests.length, 0);
  });
});

test('a missing file is an error naming the repository and the file; a missing optional file is skipped', async () => {
  await withHub({}, async (hfHome) => {
    await rejectsNaming(resolveModelFiles(BERT, ['config.json', 'tokenizer.json'], { progress: 'off' }), [BERT, 'tokenizer.json', '404'], 'missing file');
    await rejectsNaming(resolveModelFiles('nobody/nothing', ['config.json'], { progress: 'off' }), ['nobody/nothing', 'config.json', 'not found'], 'missing repository');
    await rejectsNaming(resolveModelFiles(BERT, ['config.json'], { revision: 'v9', progress: 'off' }), [BERT, "revision 'v9' not found"], 'missing revision');
    const paths = await resolveModelFiles(BERT, ['config.json'], { optional: ['tokenizer.json', 'vocab.txt'], progress: 'off' });
    assert.equal(Object.keys(paths).sort(), ['config.json', 'vocab.txt']);
    // Remembered as huggingface_hub does, so an offline run knows it is absent.
    assert.ok(existsSync(join(bertStorage(hfHome), '.no_exist', BERT_COMMIT, 'tokenizer.json')));
  });
});

test('a connection dropped mid-file leaves only an .incomplete blob; the next call resumes it with Range', async () => {
  await withHub({}, async (hfHome) => {
    server.dropNext('model.safetensors');
    await rejectsNaming(resolveModelFiles(BERT, ['model.safetensors'], { progress: 'off', retries: 0 }), [BERT, 'model.safetensors', 'interrupted'], 'dropped');
    const blob = join(bertStorage(hfHome), 'blobs', sha256(weights));
    const partial = statSync(`${blob}.incomplete`).size;
    assert.ok(partial > 0 && partial < weights.length, `partial size ${partial}`);
    assert.not.ok(existsSync(blob), 'no complete blob from a dropped download');
    assert.not.ok(existsSync(join(bertStorage(hfHome), 'snapshots', BERT_COMMIT, 'model.safetensors')), 'no snapshot entry');

    const path = (await resolveModelFiles(BERT, ['model.safetensors'], { progress: 'off', retries: 0 }))['model.safetensors'];
    const get = server.requests.filter((r) => r.method === 'GET').at(-1);
    assert.is(get?.headers.range, `bytes=${partial}-`);
    assert.ok(Buffer.from(readFileSync(path)).equals(weights), 'resumed file is complete and correct');
    assert.not.ok(existsSync(`${blob}.incomplete`));
  });
});

test('within one call, a dropped download is resumed automatically', async () => {
  await withHub({}, async () => {
    server.dropNext('model.safetensors');
    const path = (await resolveModelFiles(BERT, ['model.safetensors'], { progress: 'off' }))['model.safetensors'];
    assert.ok(Buffer.from(readFileSync(path)).equals(weights));
    assert.ok(server.requests.some((r) => r.headers.range !== undefined));
  });
});

test('two concurrent calls for the same file share one download', async () => {
  await withHub({}, async () => {
    const [a, b] = await Promise.all([0, 1].map(() => resolveModelFiles(BERT, ['model.safetensors'], { revision: BERT_COMMIT, progress: 'off' })));
    assert.equal(a, b);
    assert.ok(Buffer.from(readFileSync(a['model.safetensors'])).equals(weights));
    assert.is(server.requests.filter((r) => r.method === 'GET').length, 1);
  });
});

test('a server that ignores Range gets a clean restart from byte 0', async () => {
  await withHub({}, async () => {
    server.dropNext('model.safetensors');
    await rejectsNaming(resolveModelFiles(BERT, ['model.safetensors'], { progress: 'off', retries: 0 }), ['interrupted'], 'dropped');
    server.ignoreRange = true;
    const path = (await resolveModelFiles(BERT, ['model.safetensors'], { progress: 'off' }))['model.safetensors'];
    assert.ok(Buffer.from(readFileSync(path)).equals(weights));
  });
});

test('HF_HUB_OFFLINE=1 resolves from the cache without any request', async () => {
  await withHub({}, async () => {
    const online = await resolveModelFiles(BERT, ['config.json'], { optional: ['tokenizer.json'], progress: 'off' });
    server.requests.length = 0;
    process.env.HF_HUB_OFFLINE = '1';
    assert.equal(await resolveModelFiles(BERT, ['config.json'], { optional: ['tokenizer.json'] }), online);
    assert.is(server.requests.length, 0);
  });
});

test('offline, a cache written by Python (HF_HUB_CACHE) is found', async () => {
  const hubCache = join(cacheRoot, 'python-cache');
  const storage = join(hubCache, 'models--google-bert--bert-base-cased');
  mkdirSync(join(storage, 'blobs'), { recursive: true });
  mkdirSync(join(storage, 'refs'), { recursive: true });
  mkdirSync(join(storage, 'snapshots', BERT_COMMIT), { recursive: true });
  writeFileSync(join(storage, 'blobs', 'abc123'), config);
  writeFileSync(join(storage, 'refs', 'main'), BERT_COMMIT);
  symlinkSync('../../blobs/abc123', join(storage, 'snapshots', BERT_COMMIT, 'config.json'));
  await withHub({ HF_HUB_CACHE: hubCache, HF_HUB_OFFLINE: '1' }, async () => {
    const paths = await resolveModelFiles(BERT, ['config.json']);
    assert.is(paths['config.json'], join(storage, 'snapshots', BERT_COMMIT, 'config.json'));
    assert.is(readFileSync(paths['config.json'], 'utf8'), config);
    assert.is(await snapshotDownload(BERT), join(storage, 'snapshots', BERT_COMMIT));
  });
});

test('offline with an empty cache fails naming the repository, the file and the cache folder', async () => {
  await withHub({ HF_HUB_OFFLINE: '1' }, async (hfHome) => {
    await rejectsNaming(resolveModelFiles(BERT, ['config.json']), [BERT, 'config.json', bertStorage(hfHome), 'HF_HUB_OFFLINE'], 'offline');
    await rejectsNaming(snapshotDownload(TWEETS, { repoType: 'dataset' }), [TWEETS, join(hfHome, 'hub', 'datasets--zeroshot--twitter-financial-news-topic')], 'offline data set');
    assert.is(server.requests.length, 0);
  });
});

test('an unreachable Hub falls back to the cache', async () => {
  await withHub({}, async () => {
    const online = await resolveModelFiles(BERT, ['config.json'], { progress: 'off' });
    const closed = await startHubServer([]);
    await closed.close();
    process.env.HF_ENDPOINT = closed.endpoint;
    assert.equal(await resolveModelFiles(BERT, ['config.json']), online);
    await rejectsNaming(resolveModelFiles(BERT, ['vocab.txt']), [BERT, 'vocab.txt', 'cannot be reached'], 'unreachable, not cached');
  });
});

test('HF_TOKEN is sent as a Bearer token', async () => {
  await withHub({}, async () => {
    server.requiredToken = 'hf_secret';
    await rejectsNaming(resolveModelFiles(BERT, ['config.json'], { progress: 'off' }), [BERT, 'HF_TOKEN'], 'no token');
    process.env.HF_TOKEN = 'hf_secret';
    const paths = await resolveModelFiles(BERT, ['config.json'], { progress: 'off' });
    assert.is(readFileSync(paths['config.json'], 'utf8'), config);
    const resolves = server.requests.filter((r) => r.url.includes('/resolve/'));
    assert.ok(resolves.length > 0 && resolves.slice(1).every((r) => r.headers.authorization === 'Bearer hf_secret'));
  });
});

test('a data set snapshot lists its files with the tree API (paginated) and downloads them', async () => {
  await withHub({}, async (hfHome) => {
    const dir = await snapshotDownload(TWEETS, { repoType: 'dataset', progress: 'off' });
    assert.is(dir, join(hfHome, 'hub', 'datasets--zeroshot--twitter-financial-news-topic', 'snapshots', TWEETS_COMMIT));
    assert.is(readFileSync(join(dir, 'topic_train.csv'), 'utf8'), 'text,label\nhi,1\n');
    assert.is(readFileSync(join(dir, 'data', 'topic_valid.csv'), 'utf8'), 'text,label\nho,2\n');
    assert.ok(readlinkSync(join(dir, 'data', 'topic_valid.csv')).startsWith('../../../blobs/'));
    assert.ok(server.requests.some((r) => r.url.startsWith(`/api/datasets/${TWEETS}/tree/main`) && r.url.includes('cursor=1')), 'second page fetched');
    assert.ok(server.requests.some((r) => r.url === `/datasets/${TWEETS}/resolve/main/README.md`));
    assert.ok(server.requests.some((r) => r.url === `/datasets/${TWEETS}/resolve/${TWEETS_COMMIT}/topic_train.csv`));
    // An explicit file list, pinned to the commit.
    const one = await snapshotDownload(TWEETS, { repoType: 'dataset', files: ['topic_train.csv'], revision: TWEETS_COMMIT, progress: 'off' });
    assert.is(one, dir);
  });
});

test('a local folder is used as is', async () => {
  const dir = join(cacheRoot, 'local-model');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), config);
  assert.ok(isLocalPath(dir) && isLocalPath('./weights/x') && !isLocalPath(BERT));
  assert.equal(await resolveModelFiles(dir, ['config.json'], { optional: ['vocab.txt'] }), { 'config.json': join(dir, 'config.json') });
  await rejectsNaming(resolveModelFiles(dir, ['model.safetensors']), [dir, 'model.safetensors'], 'local missing');
});

test('weights script: sharded safetensors placed in a folder as hard links to the cache', async () => {
  await withHub({}, async (hfHome) => {
    const outDir = join(hfHome, 'weights', 'sharded-bert');
    const { dir, files } = await fetchWeights(SHARDED, { outDir, progress: 'off' });
    assert.is(dir, outDir);
    assert.equal(files.sort(), ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'vocab.txt']);
    const shard = join(outDir, 'model-00002-of-00002.safetensors');
    assert.ok(Buffer.from(readFileSync(shard)).equals(shards[1]));
    const blob = join(hfHome, 'hub', 'models--org--sharded-bert', 'blobs', sha256(shards[1]));
    assert.is(statSync(shard).ino, statSync(blob).ino, 'hard link to the cached blob');
    assert.not.ok(lstatSync(shard).isSymbolicLink());
  });
});

test.run();
