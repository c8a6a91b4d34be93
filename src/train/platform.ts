// What the Trainer asks of the platform it runs on: how a base model's name is
// told to be a local folder (for the model card), where progress goes, and the
// runtime named on the card. The defaults import nothing (they look for
// Node's `process` global, else use the console); the Node entry sets the
// local-folder test (src/node/trainer-storage.ts).

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export interface TrainerPlatform {
  /** Whether a base model name is a local folder rather than a Hub id. */
  isLocalPath(idOrDir: string): boolean;
  /** Where progress bars and log lines go when the Trainer is given no progressStream. */
  progressStream: ProgressStream;
  /** The model card's "Node.js" version, or null off Node. */
  runtimeVersion: string | null;
}

const node = (globalThis as { process?: { version?: string; stderr?: ProgressStream } }).process;

let current: TrainerPlatform = {
  isLocalPath: (s) => /^(\.{1,2}|~)?[\\/]/.test(s) || s === '.',
  progressStream: node?.stderr ?? { write: (s: string) => s.trim() && console.info(s.replace(/\n$/, '')) },
  runtimeVersion: node?.version ?? null,
};

export function setTrainerPlatform(platform: Partial<TrainerPlatform>): void {
  current = { ...current, ...platform };
}

export function trainerPlatform(): TrainerPlatform {
  return current;
}
