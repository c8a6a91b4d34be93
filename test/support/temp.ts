// Temporary folders for tests: made under the OS's temp folder, removed when the test process
// exits (passed or failed), so a run of `npm test` leaves nothing behind.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder named shadergrad-<prefix>-XXXXXX, removed at exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `shadergrad-${prefix}-`));
  made.push(dir);
  return dir;
}
