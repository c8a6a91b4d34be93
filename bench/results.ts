// Node only: writes a benchmark's results (Report.body) to
// bench/results/<adapter>.json, to a temporary name first, then renamed. A run
// replaces only the groups it measured (npm run bench -- --only profile leaves
// the matmul rows as they were); `groupDates` says when each group was measured.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultsFile } from './harness.js';

export function writeResults(body: ResultsFile, dir = 'bench/results'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${body.adapter.name}.json`);
  const groups = new Set(body.results.map((r) => r.group));
  const groupDates: Record<string, string> = {};
  let kept: ResultsFile['results'] = [];
  if (existsSync(path)) {
    const old = JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
    kept = old.results.filter((r) => !groups.has(r.group));
    const oldDates = (old.groupDates ?? {}) as Record<string, string>;
    for (const r of kept) groupDates[r.group] = oldDates[r.group] ?? old.date;
  }
  for (const g of groups) groupDates[g] = body.date;
  writeFileSync(`${path}.tmp`, JSON.stringify({ ...body, groupDates, results: [...kept, ...body.results] }, null, 2));
  renameSync(`${path}.tmp`, path);
  return path;
}
