// The default display of Hub downloads on stderr (Node).

/** One progress event of one file download; `total` is null when the server gave no size. */
export interface DownloadProgress {
  repo: string;
  file: string;
  received: number;
  total: number | null;
  done: boolean;
}

function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  for (; n >= 1000 && i < units.length - 1; i++) n /= 1000;
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * The default progress display on stderr: one line rewritten in place on a
 * TTY (at most 10 times a second), otherwise a line every 10 seconds and one
 * at the end.
 */
export function consoleProgress(): (p: DownloadProgress) => void {
  const tty = process.stderr.isTTY === true;
  const started = new Map<string, { at: number; bytes: number; shown: number }>();
  return (p) => {
    const key = `${p.repo}/${p.file}`;
    const now = Date.now();
    let state = started.get(key);
    if (!state) started.set(key, (state = { at: now, bytes: p.received, shown: tty ? 0 : now }));
    if (!p.done && now - state.shown < (tty ? 100 : 10_000)) return;
    state.shown = now;
    const seconds = Math.max((now - state.at) / 1000, 1e-3);
    const line = `${p.repo} ${p.file}: ${formatBytes(p.received)} / ${p.total === null ? '?' : formatBytes(p.total)}`
      + `  ${formatBytes((p.received - state.bytes) / seconds)}/s`;
    if (tty) process.stderr.write(`\r\x1b[K${line}${p.done ? '\n' : ''}`);
    else process.stderr.write(`${p.done ? 'downloaded' : 'downloading'} ${line}\n`);
    if (p.done) started.delete(key);
  };
}
