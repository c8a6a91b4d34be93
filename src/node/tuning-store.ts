// Node's tuning store: kernel choices per adapter in ~/.cache/shadergrad/tuning.json
// (or $XDG_CACHE_HOME/shadergrad/tuning.json), written to a temporary file and
// renamed so a crash never leaves half a file. Register it with
// setTuningStore(nodeTuningStore()).

import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../io/files.js';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseTuningRecord, type TuningStore } from '../gpu/autotune.js';

function defaultTuningPath(): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'shadergrad', 'tuning.json');
}

export function nodeTuningStore(path = defaultTuningPath()): TuningStore {
  return {
    load() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return undefined; // not tuned yet
      }
      const record = parseTuningRecord(text);
      if (record) return record;
      console.warn(`shadergrad: ignoring malformed tuning cache ${path}; it will be re-measured`);
      return undefined;
    },
    save(record) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileAtomicSync(path, `${JSON.stringify(record, null, 2)}\n`);
    },
  };
}
