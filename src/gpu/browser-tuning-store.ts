// The browser's tuning store: kernel choices (e.g. the matmul variant) per
// adapter in the origin's localStorage, one JSON record under one key, whose
// entries are keyed by family and adapter as in Node's file
// (src/node/tuning-store.ts), so a page tunes once and later loads reuse the
// choice. localStorage because TuningStore is synchronous (IndexedDB is not).
// Where storage is missing or refused (a sandboxed frame, a full quota), choices
// stay in memory for the page's life: never an error.
// Register it with setTuningStore(browserTuningStore()).

import { parseTuningRecord, type TuningStore } from './autotune.js';

/** The localStorage key of the record. */
export const BROWSER_TUNING_KEY = 'shadergrad:tuning';

type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** The origin's localStorage, or null where reading it throws (opaque origins, storage blocked). */
function localStore(): KeyValueStorage | null {
  try {
    return (globalThis as { localStorage?: KeyValueStorage }).localStorage ?? null;
  } catch {
    return null;
  }
}

/** `storage`: localStorage by default (tests pass their own); `key`: where the record lives. */
export function browserTuningStore(storage: KeyValueStorage | null = localStore(), key = BROWSER_TUNING_KEY): TuningStore {
  let warned = false;
  const warn = (message: string) => {
    if (!warned) console.warn(`shadergrad: ${message}`);
    warned = true;
  };
  return {
    load() {
      let text: string | null;
      try {
        text = storage?.getItem(key) ?? null;
      } catch (e) {
        warn(`cannot read tuning choices from localStorage (${(e as Error).message}); they are kept in memory only`);
        return undefined;
      }
      if (text === null) return undefined; // not tuned yet
      const record = parseTuningRecord(text);
      if (record) return record;
      console.warn(`shadergrad: ignoring malformed tuning record in localStorage['${key}']; it will be re-measured`);
      return undefined;
    },
    save(record) {
      if (!storage) {
        warn('no localStorage here; tuning choices are kept in memory only');
        return;
      }
      try {
        storage.setItem(key, JSON.stringify(record));
      } catch (e) {
        warn(`cannot save tuning choices to localStorage (${(e as Error).message}); they are kept in memory only`);
      }
    },
  };
}
