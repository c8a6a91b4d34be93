// Per-adapter kernel choice. A family of interchangeable kernels (e.g. the
// matmul variants) is timed once per adapter on a representative workload; the
// fastest is remembered in memory and, through an injectable store, on disk
// (src/node/tuning-store.ts in Node). Until a family is tuned, a default picked
// from the adapter's name is used. This file never touches `fs`, so the engine
// runs unchanged in a browser.

import type { AdapterDescription } from './adapter.js';
import type { Runtime } from './runtime.js';

/** Where tuning results persist between processes: a flat record of key -> variant. */
export interface TuningStore {
  load(): Record<string, string> | undefined;
  save(record: Record<string, string>): void;
}

let store: TuningStore | null = null;
/** The store's record, read once per setTuningStore (undefined: not read yet). */
let stored: Record<string, string> | undefined;
/** Choices made or loaded in this process, by tuning key. */
const choices = new Map<string, string>();
/** Explicit overrides by family (tests, benchmarks). */
const overrides = new Map<string, string>();

/** Persists tuning results through `s` (null: memory only). */
/**
 * A stored record's text as choices by key, or undefined when it is not a JSON object of strings
 * (a corrupt record is re-measured and rewritten, never fatal). The stores share this reading.
 */
export function parseTuningRecord(text: string): Record<string, string> | undefined {
  try {
    const record = JSON.parse(text) as unknown;
    if (record && typeof record === 'object' && !Array.isArray(record) && Object.values(record).every((v) => typeof v === 'string')) {
      return record as Record<string, string>;
    }
  } catch {
    // not JSON: as malformed
  }
  return undefined;
}

export function setTuningStore(s: TuningStore | null): void {
  store = s;
  stored = undefined;
}

function storedRecord(): Record<string, string> {
  stored ??= store?.load() ?? {};
  return stored;
}

/** The key of a family's choice on an adapter, e.g. "matmul@llvmpipe|Mesa/llvmpipe...". */
function tuningKey(family: string, adapter: AdapterDescription): string {
  return `${family}@${adapter.name}|${[adapter.vendor, adapter.architecture, adapter.device, adapter.description].join('/')}`;
}

/** Forces `variant` for a family, or clears the override (undefined). */
export function setVariantOverride(family: string, variant: string | undefined): void {
  if (variant === undefined) overrides.delete(family);
  else overrides.set(family, variant);
}

/** The variant to use now: the override, else the tuned (or stored) choice, else the default. */
export function chosenVariant(family: string, runtime: Runtime, fallback: (adapter: AdapterDescription) => string): string {
  const forced = overrides.get(family);
  if (forced !== undefined) return forced;
  const key = tuningKey(family, runtime.adapter);
  const known = choices.get(key) ?? loadStored(key);
  return known ?? fallback(runtime.adapter);
}

function loadStored(key: string): string | undefined {
  const value = storedRecord()[key];
  if (value !== undefined) choices.set(key, value);
  return value;
}

/**
 * Times each candidate with `measure` (milliseconds; it must sync the GPU) and
 * remembers the fastest for this adapter; a stored choice that is still a
 * candidate is reused without measuring. Returns the choice and the timings.
 * Must run outside a recording (it syncs the device).
 */
export async function tune(
  family: string,
  runtime: Runtime,
  candidates: readonly string[],
  measure: (variant: string) => Promise<number>,
): Promise<{ variant: string; timings: Record<string, number> }> {
  const key = tuningKey(family, runtime.adapter);
  const known = choices.get(key) ?? loadStored(key);
  if (known !== undefined && candidates.includes(known)) return { variant: known, timings: {} };
  const timings: Record<string, number> = {};
  for (const variant of candidates) timings[variant] = await measure(variant);
  const variant = candidates.reduce((best, v) => (timings[v] < timings[best] ? v : best));
  choices.set(key, variant);
  if (store) {
    // Re-read before writing, so choices another process saved meanwhile survive.
    stored = { ...(store.load() ?? {}), [key]: variant };
    store.save(stored);
  }
  return { variant, timings };
}

/** Forgets in-memory choices (tests); the store's file is untouched and is read again on next use. */
export function clearTuning(): void {
  choices.clear();
  stored = undefined;
}
