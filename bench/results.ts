// Node only: writes a benchmark's results (Report.body) to
// bench/results/<adapter>.json, to a temporary name first, then renamed.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultsFile } from './harness.js';

export function writeResults(body: ResultsFile, dir = 'bench/results'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${body.adapter.name}.json`);
  writeFileSync(`${path}.tmp`, JSON.stringify(body, null, 2));
  renameSync(`${path}.tmp`, path);
  return path;
}
