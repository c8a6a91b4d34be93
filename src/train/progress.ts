// Progress and logs. On a terminal: one line redrawn in place (steps, loss,
// learning rate, tokens/s, ETA), and a second bar for evaluation batches.
// Elsewhere (CI, a pipe): a plain line per logged step, and one at least every
// HEARTBEAT_MS while training or evaluating runs without one. Every logged
// step and evaluation is also appended to outputDir/trainer_log.jsonl, one
// JSON object per line, through the Trainer's storage.

import { trainerPlatform, type ProgressStream } from './platform.js';
import { defaultStorage, type TrainerStorage } from './storage.js';

export const LOG_FILE_NAME = 'trainer_log.jsonl';

/** Without a terminal, the longest silence while training or evaluating runs. */
export const HEARTBEAT_MS = 30_000;

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

export interface ProgressOptions {
  disableBar?: boolean;
  /** Milliseconds; performance.now by default. */
  clock?: () => number;
}

/** Progress bar or plain lines, chosen by whether `stream` is a terminal. */
export class Progress {
  private readonly tty: boolean;
  private readonly clock: () => number;
  private startTime = 0;
  private startStep = 0;
  private totalSteps = 0;
  private lastDraw = -Infinity;
  /** When the last plain line was written. */
  private lastLine = 0;
  private lineOpen = false;
  private evalStart = 0;
  private evalTotal = 0;

  constructor(private readonly stream: ProgressStream = trainerPlatform().progressStream, options: ProgressOptions = {}) {
    this.tty = Boolean(stream.isTTY) && !options.disableBar;
    this.clock = options.clock ?? (() => performance.now());
  }

  start(totalSteps: number, fromStep: number): void {
    this.totalSteps = totalSteps;
    this.startStep = fromStep;
    this.startTime = this.lastLine = this.clock();
  }

  /** After each optimizer step: redraws the bar on a terminal (at most 10 times a second); elsewhere a line after a long silence. */
  update(info: StepInfo): void {
    this.draw(info.step >= this.totalSteps, () => this.describe(info, this.tty));
  }

  /** Before evaluating `totalBatches` batches. */
  startEvaluation(totalBatches: number): void {
    this.evalTotal = totalBatches;
    this.evalStart = this.clock();
  }

  /** After each evaluation batch: its own bar on a terminal, in place of the training bar until the results are logged. */
  updateEvaluation(doneBatches: number): void {
    this.draw(doneBatches >= this.evalTotal, () => {
      const elapsed = (this.clock() - this.evalStart) / 1000;
      const eta = doneBatches > 0 ? (elapsed / doneBatches) * (this.evalTotal - doneBatches) : NaN;
      const fraction = this.evalTotal > 0 ? doneBatches / this.evalTotal : 1;
      const count = `${doneBatches}/${this.evalTotal} batches`;
      return `evaluating ${this.tty ? `${renderBar(fraction, 20)} ${count}` : count} | ${formatDuration(elapsed)}<${formatDuration(eta)}`;
    });
  }

  /** A message on its own line (logged losses, evaluations, checkpoints), the bar redrawn below it. */
  log(message: string): void {
    if (this.lineOpen) this.stream.write('\r\x1b[K');
    this.stream.write(`${message}\n`);
    this.lineOpen = false;
    this.lastLine = this.clock();
  }

  /** The plain line for a logged step when there is no bar. */
  logStep(info: StepInfo): void {
    if (!this.tty) this.log(this.describe(info, false));
  }

  end(): void {
    if (this.lineOpen) this.stream.write('\n');
    this.lineOpen = false;
  }

  /** On a terminal: the bar, redrawn at most 10 times a second (and at the end); elsewhere: a line after HEARTBEAT_MS of silence. */
  private draw(last: boolean, line: () => string): void {
    const now = this.clock();
    if (!this.tty) {
      if (now - this.lastLine >= HEARTBEAT_MS) this.log(line());
      return;
    }
    if (now - this.lastDraw < 100 && !last) return;
    this.lastDraw = now;
    this.stream.write(`\r${this.fit(line())}\x1b[K`);
    this.lineOpen = true;
  }

  private describe(info: StepInfo, bar: boolean): string {
    const elapsed = (this.clock() - this.startTime) / 1000;
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

  /** Cut to the terminal's width less one column (no wrap); a terminal that reports 0 columns does not know its width. */
  private fit(line: string): string {
    const width = this.stream.columns || 120;
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

  constructor(private readonly outputDir: string, private readonly storage: TrainerStorage = defaultStorage()) {
    this.path = storage.join(outputDir, LOG_FILE_NAME);
  }

  async write(entry: Record<string, unknown>): Promise<void> {
    await this.storage.mkdir(this.outputDir);
    await this.storage.appendFile(this.path, `${JSON.stringify({ ...entry, time: new Date().toISOString() })}\n`);
  }
}
