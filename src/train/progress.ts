// Progress and logs. On a terminal: one line redrawn in place (steps, loss,
// learning rate, tokens/s, ETA). Elsewhere (CI, a pipe): a plain line per
// logged step. Every logged step and evaluation is also appended to
// outputDir/trainer_log.jsonl, one JSON object per line.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const LOG_FILE_NAME = 'trainer_log.jsonl';

/** Seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A number for a log line: 4 significant digits, exponent form for small learning rates. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

export interface StepInfo {
  step: number;
  /** The last logged training loss, if any yet. */
  loss?: number;
  learningRate: number;
  /** Non-padding tokens processed since training (or resuming) started. */
  tokens: number;
}

interface Stream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** Progress bar or plain lines, chosen by whether `stream` is a terminal. */
export class Progress {
  private readonly tty: boolean;
  private startTime = 0;
  private startStep = 0;
  private totalSteps = 0;
  private lastDraw = 0;
  private lineOpen = false;

  constructor(private readonly stream: Stream = process.stderr, options: { disableBar?: boolean } = {}) {
    this.tty = Boolean(stream.isTTY) && !options.disableBar;
  }

  start(totalSteps: number, fromStep: number): void {
    this.totalSteps = totalSteps;
    this.startStep = fromStep;
    this.startTime = performance.now();
  }

  /** After each optimizer step: redraws the bar on a terminal (at most 10 times a second). */
  update(info: StepInfo): void {
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && info.step < this.totalSteps) return;
    this.lastDraw = now;
    this.stream.write(`\r${this.fit(this.describe(info, true))}\x1b[K`);
    this.lineOpen = true;
  }

  /** A message on its own line (logged losses, evaluations, checkpoints), the bar redrawn below it. */
  log(message: string): void {
    if (this.lineOpen) this.stream.write('\r\x1b[K');
    this.stream.write(`${message}\n`);
    this.lineOpen = false;
  }

  /** The plain line for a logged step when there is no bar. */
  logStep(info: StepInfo): void {
    if (!this.tty) this.log(this.describe(info, false));
  }

  end(): void {
    if (this.lineOpen) this.stream.write('\n');
    this.lineOpen = false;
  }

  private describe(info: StepInfo, bar: boolean): string {
    const elapsed = (performance.now() - this.startTime) / 1000;
    const done = info.step - this.startStep;
    const eta = done > 0 ? (elapsed / done) * (this.totalSteps - info.step) : NaN;
    const tokensPerSecond = elapsed > 0 ? info.tokens / elapsed : 0;
    const fraction = this.totalSteps > 0 ? info.step / this.totalSteps : 1;
    const parts = [
      bar ? `${renderBar(fraction, 20)} ${info.step}/${this.totalSteps}` : `step ${info.step}/${this.totalSteps}`,
      info.loss === undefined ? null : `loss ${formatNumber(info.loss)}`,
      `lr ${formatNumber(info.learningRate)}`,
      `${Math.round(tokensPerSecond)} tok/s`,
      `${formatDuration(elapsed)}<${formatDuration(eta)}`,
    ];
    return parts.filter((p) => p !== null).join(' | ');
  }

  private fit(line: string): string {
    const width = this.stream.columns ?? 120;
    return line.length < width ? line : line.slice(0, width - 1);
  }
}

function renderBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Appends one JSON object per line to outputDir/trainer_log.jsonl. */
export class JsonLinesLog {
  readonly path: string;

  constructor(outputDir: string) {
    mkdirSync(outputDir, { recursive: true });
    this.path = join(outputDir, LOG_FILE_NAME);
  }

  write(entry: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify({ ...entry, time: new Date().toISOString() })}\n`);
  }
}
