// A local stand-in for the Hugging Face Hub (node:http on 127.0.0.1, random
// port) serving the URLs that src/io/hub.ts asks for, with the headers the
// real Hub sends:
//   HEAD|GET /{repo}/resolve/{revision}/{file}            (models)
//   HEAD|GET /datasets/{repo}/resolve/{revision}/{file}   (data sets)
//     small file: 200, ETag "<git blob sha1>", X-Repo-Commit, Content-Length
//     LFS file:   302 to /cdn/<sha256> (absolute), X-Linked-Etag "<sha256>", X-Linked-Size, X-Repo-Commit
//     missing:    404 with X-Error-Code EntryNotFound (file) or RepoNotFound (repository)
//   GET /cdn/<sha256>                                      LFS bytes, with Range support
//   GET /api/{models|datasets}/{repo}/tree/{revision}      file list, paginated with a Link header
// It records every request and can drop or stall the connection halfway
// through a file, ignore Range headers, or require a token; and it can lie:
// send bytes that are not the file's, a malformed ETag, or a file listing
// that links to itself, is HTML or is not an array.
// `pages` are served at their paths too (a test page that loads from this Hub,
// same origin: test/browser/hub-opfs.test.ts).

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixtureRepo {
  id: string;
  type: 'model' | 'dataset';
  commit: string;
  files: Record<string, Uint8Array | string>;
  /** Files served as Git LFS objects (redirect to the CDN path). */
  lfs?: string[];
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface HubServer {
  endpoint: string;
  requests: RecordedRequest[];
  /** The next GET of this file's bytes sends half of them, then destroys the socket. */
  dropNext(file: string): void;
  /** Answer Range requests with the whole file (200), as some servers do. */
  ignoreRange: boolean;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  requiredToken: string | null;
  /** Requests (HEAD or GET) for these files are never answered: a Hub that hangs. */
  unanswered: Set<string>;
  /** The next GET of this file's bytes sends half of them and waits until the returned function is called. */
  stallNext(file: string): () => void;
  /** GETs of a file's bytes send these instead (HEAD still announces the true size and ETag). */
  lyingBody: Map<string, Uint8Array>;
  /** The ETag header (X-Linked-Etag for an LFS file) sent for a file instead of its digest, quotes included. */
  lyingEtag: Map<string, string>;
  /** How the tree API lies: every page's Link: next is the page itself, an HTML page, or a JSON object. */
  listing: 'honest' | 'self-link' | 'html' | 'not-array';
  close(): Promise<void>;
}

/** The id git gives a blob: sha1 of "blob <size>\0" + bytes (the Hub's ETag for a small file). */
export function gitBlobSha1(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const asBytes = (content: Uint8Array | string): Uint8Array =>
  typeof content === 'string' ? new TextEncoder().encode(content) : content;

export async function startHubServer(repos: FixtureRepo[], pageSize = 1000, pages: Record<string, string> = {}): Promise<HubServer> {
  const requests: RecordedRequest[] = [];
  const drops = new Set<string>();
  const stalls = new Map<string, Promise<void>>();
  const lfsObjects = new Map<string, { bytes: Uint8Array; file: string }>();
  for (const repo of repos) {
    for (const file of repo.lfs ?? []) {
      const bytes = asBytes(repo.files[file]);
      lfsObjects.set(sha256(bytes), { bytes, file });
    }
  }

  function sendBytes(req: IncomingMessage, res: ServerResponse, trueBytes: Uint8Array, file: string, headers: Record<string, string>): void {
    const bytes = req.method === 'GET' ? server.lyingBody.get(file) ?? trueBytes : trueBytes;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range && !server.ignoreRange) {
      start = Number(range[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-length': String(bytes.length - start), 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(bytes.length) });
    }
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (drops.delete(file)) {
      // Half of the file's bytes, then the connection is cut (after the client has read them).
      res.write(bytes.subarray(start, Math.max(start, bytes.length >> 1)), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    const stall = stalls.get(file);
    if (stall) {
      stalls.delete(file);
      const half = Math.max(start, bytes.length >> 1);
      res.write(bytes.subarray(start, half));
      void stall.then(() => {
        if (!res.destroyed) res.end(bytes.subarray(half));
      });
      return;
    }
    res.end(bytes.subarray(start));
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', server.endpoint);
    const path = decodeURIComponent(url.pathname);
    if (path in pages) {
      const type = path.endsWith('.js') ? 'text/javascript' : 'text/html';
      res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(pages[path]);
      return;
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      const object = lfsObjects.get(cdn[1]);
      if (!object) res.writeHead(404).end();
      else sendBytes(req, res, object.bytes, object.file, { etag: `"${cdn[1]}"` });
      return;
    }
    if (server.requiredToken && req.headers.authorization !== `Bearer ${server.requiredToken}`) {
      res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end();
      return;
    }
    const tree = /^\/api\/(models|datasets)\/(.+)\/tree\/([^/]+)$/.exec(path);
    const resolve = /^\/(datasets\/)?(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const type = tree ? (tree[1] === 'models' ? 'model' : 'dataset') : resolve?.[1] ? 'dataset' : 'model';
    const repo = repos.find((r) => r.type === type && r.id === (tree?.[2] ?? resolve?.[2]));
    if (!repo || !(tree || resolve)) {
      res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
      return;
    }
    const revision = (tree?.[3] ?? resolve?.[3]) as string;
    if (revision !== 'main' && revision !== repo.commit) {
      res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
      return;
    }
    if (tree) {
      const names = Object.keys(repo.files).sort();
      const page = Number(url.searchParams.get('cursor') ?? 0);
      const entries = names.slice(page * pageSize, (page + 1) * pageSize).map((name) => {
        const bytes = asBytes(repo.files[name]);
        return { type: 'file', oid: gitBlobSha1(bytes), size: bytes.length, path: name };
      });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (server.listing === 'self-link') {
        headers.link = `<${url.href}>; rel="next"`;
      } else if ((page + 1) * pageSize < names.length) {
        const next = new URL(url.href);
        next.searchParams.set('cursor', String(page + 1));
        headers.link = `<${next.href}>; rel="next"`;
      }
      if (server.listing === 'html') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Sign in</title>');
      else if (server.listing === 'not-array') res.writeHead(200, headers).end(JSON.stringify({ error: 'Invalid cursor' }));
      else res.writeHead(200, headers).end(JSON.stringify(entries));
      return;
    }
    const file = (resolve as RegExpExecArray)[4];
    if (server.unanswered.has(file)) return; // the connection stays open, silent, until close()
    const commitHeader = { 'x-repo-commit': repo.commit };
    if (!(file in repo.files)) {
      res.writeHead(404, { ...commitHeader, 'x-error-code': 'EntryNotFound' }).end();
      return;
    }
    const bytes = asBytes(repo.files[file]);
    if (repo.lfs?.includes(file)) {
      const oid = sha256(bytes);
      res.writeHead(302, {
        ...commitHeader,
        location: `${server.endpoint}/cdn/${oid}`,
        'x-linked-etag': server.lyingEtag.get(file) ?? `"${oid}"`,
        'x-linked-size': String(bytes.length),
      }).end();
      return;
    }
    sendBytes(req, res, bytes, file, { ...commitHeader, etag: server.lyingEtag.get(file) ?? `"${gitBlobSha1(bytes)}"` });
  }

  const http = createServer(handle);
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  const server: HubServer = {
    endpoint: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    requests,
    dropNext: (file) => drops.add(file),
    ignoreRange: false,
    requiredToken: null,
    stallNext: (file) => {
      let resume = () => {};
      stalls.set(file, new Promise((done) => (resume = done)));
      return () => resume();
    },
    unanswered: new Set(),
    lyingBody: new Map(),
    lyingEtag: new Map(),
    listing: 'honest',
    close: () => new Promise((done) => {
      http.closeAllConnections();
      http.close(() => done());
    }),
  };
  return server;
}
