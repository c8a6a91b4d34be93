// training_curves.svg: one small chart per logged quantity against the step
// (training loss, learning rate, then each evaluation metric), in a grid of
// panels, as plain SVG that any browser or the Hub's Markdown shows. Written
// by the Trainer at each log line, linked from the model card.

import type { LogEntry } from './checkpoint-files.js';

export const CURVES_NAME = 'training_curves.svg';

const PANEL = { width: 320, height: 200, left: 56, right: 12, top: 28, bottom: 32 };
const COLUMNS = 3;
/** Evaluation keys that describe the run, not the model. */
const BOOKKEEPING = /_(runtime|samples_per_second|steps_per_second)$/;

/** The series to draw, each as [step, value] points in log order: loss, learning_rate, then eval_* keys as first met. */
export function curveSeries(logHistory: readonly LogEntry[]): { name: string; points: [number, number][] }[] {
  const series = new Map<string, [number, number][]>([['loss', []], ['learning_rate', []]]);
  for (const entry of logHistory) {
    if ('train_runtime' in entry) continue;
    for (const [key, value] of Object.entries(entry)) {
      const wanted = key === 'loss' || key === 'learning_rate' || (key.startsWith('eval_') && !BOOKKEEPING.test(key));
      if (!wanted || !Number.isFinite(value) || !Number.isFinite(entry.step)) continue;
      if (!series.has(key)) series.set(key, []);
      series.get(key)!.push([entry.step, value]);
    }
  }
  return [...series].filter(([, points]) => points.length > 0).map(([name, points]) => ({ name, points }));
}

/** The SVG document for `logHistory` (a note in place of charts when nothing was logged yet). */
export function renderCurves(logHistory: readonly LogEntry[]): string {
  const series = curveSeries(logHistory);
  const rows = Math.max(1, Math.ceil(series.length / COLUMNS));
  const width = PANEL.width * Math.min(COLUMNS, Math.max(1, series.length));
  const height = PANEL.height * rows;
  const panels = series.map((s, i) => panel(s.name, s.points, (i % COLUMNS) * PANEL.width, Math.floor(i / COLUMNS) * PANEL.height));
  const body = panels.length ? panels.join('\n') : `<text x="${width / 2}" y="${height / 2}" text-anchor="middle">nothing logged yet</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}

function panel(name: string, points: [number, number][], x0: number, y0: number): string {
  const w = PANEL.width - PANEL.left - PANEL.right;
  const h = PANEL.height - PANEL.top - PANEL.bottom;
  const [xMin, xMax] = range(points.map((p) => p[0]));
  const [yMin, yMax] = range(points.map((p) => p[1]));
  const px = (x: number) => x0 + PANEL.left + ((x - xMin) / (xMax - xMin)) * w;
  const py = (y: number) => y0 + PANEL.top + h - ((y - yMin) / (yMax - yMin)) * h;
  const path = points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
  const dots = points.length <= 40 ? points.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2" fill="#1f77b4"/>`) : [];
  const left = x0 + PANEL.left;
  const bottom = y0 + PANEL.top + h;
  return [
    `<g>`,
    `<text x="${left}" y="${y0 + 16}" font-weight="bold">${escape(name)}</text>`,
    `<rect x="${left}" y="${y0 + PANEL.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
    `<text x="${left - 4}" y="${y0 + PANEL.top + 4}" text-anchor="end">${tick(yMax)}</text>`,
    `<text x="${left - 4}" y="${bottom}" text-anchor="end">${tick(yMin)}</text>`,
    `<text x="${left}" y="${bottom + 14}">${tick(xMin)}</text>`,
    `<text x="${left + w}" y="${bottom + 14}" text-anchor="end">${tick(xMax)}</text>`,
    `<text x="${left + w / 2}" y="${bottom + 26}" text-anchor="middle">step</text>`,
    `<polyline points="${path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>`,
    ...dots,
    `</g>`,
  ].join('\n');
}

/** [min, max] of the values, widened when they are all equal so that a flat line sits mid-panel. */
function range(values: number[]): [number, number] {
  const min = values.reduce((a, b) => Math.min(a, b), Infinity);
  const max = values.reduce((a, b) => Math.max(a, b), -Infinity);
  if (min !== max) return [min, max];
  const pad = Math.abs(min) * 0.1 || 1;
  return [min - pad, max + pad];
}

function tick(v: number): string {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
