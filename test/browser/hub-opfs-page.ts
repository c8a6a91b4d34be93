// The page of hub-opfs.test.ts: what a browser user calls, from the browser entry only,
// as functions on window.sg that the Node side calls with page.evaluate. Models and
// tokenizers come from a Hub id on the test's Hub (test/support/hub-server.ts, which
// serves this page too); the Trainer keeps its checkpoints in memory or in OPFS.

import {
  init, noGrad, tidy, AutoTokenizer, BertForSequenceClassification, Dataset, DataCollatorWithPadding, tokenizeDataset,
  Trainer, memoryStorage, opfsStorage, latestCheckpoint, setTuningStore, browserTuningStore, tuneMatmul, type TrainerStorage,
} from '../../src/browser.js';
import { MANIFEST_NAME } from '../../src/train/checkpoints.js';

export interface TrainRequest {
  repo: string;
  hub: HubOptions;
  rows: { text: string; label: number }[];
  storage: 'memory' | 'opfs';
  resume: boolean;
  /** Stop inside the save of this step's checkpoint, before its manifest is written, and tell Node (sgSaving). */
  hangInSaveOf?: number;
  text: string;
}

export interface TrainResult {
  /** The global step the run started from (the checkpoint's when resuming). */
  startStep: number;
  globalStep: number;
  /** Every logged training loss, [step, loss], the resumed run's history included. */
  losses: [number, number][];
  logits: number[];
  /** SHA-256 of the trained model's model.safetensors. */
  weights: string;
}

export const OUTPUT_DIR = 'run';

declare global {
  interface Window {
    sg: typeof sg;
    /** Exposed by the Node side: the page is inside the save it was told to stop in. */
    sgSaving(path: string): Promise<void>;
  }
}

// Kernel choices persist in localStorage, so every load of this page runs the same matmul variant
// (without it each load measures anew, and a resumed run could differ in the last bits).
setTuningStore(browserTuningStore());
/** The linear layers' products at this model's size (batches of 4 up to 32 tokens; hidden 16, intermediate 32). */
const TUNE_SHAPE = { rows: 128, inF: 16, outF: 32 };

const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** The Hub options a page passes: the Hub's address, and whether to read Cache Storage only. */
export interface HubOptions {
  endpoint: string;
  offline?: boolean;
}

function load(repo: string, hub: HubOptions) {
  return Promise.all([
    AutoTokenizer.fromPretrained(repo, { hub }),
    BertForSequenceClassification.fromPretrained(repo, { hub, log: null }),
  ]);
}

async function logitsOf(model: BertForSequenceClassification, tokenizer: Awaited<ReturnType<typeof AutoTokenizer.fromPretrained>>, text: string): Promise<number[]> {
  model.eval();
  const logits = noGrad(() => tidy(() => model.forward(tokenizer([text], { padding: true })).logits));
  const values = Array.from(await logits.toArray());
  logits.dispose();
  return values;
}

/** `storage` that never finishes the save of checkpoint-`step`: it waits, its files written, before the manifest. */
function hangingInSave(storage: TrainerStorage, step: number): TrainerStorage {
  const manifest = new RegExp(`/\\.checkpoint-${step}\\.[0-9a-z]+\\.tmp/${MANIFEST_NAME}$`);
  return {
    ...storage,
    async writeFile(path, data) {
      if (manifest.test(path)) {
        await window.sgSaving(path);
        await new Promise<never>(() => {}); // until the page goes away
      }
      return storage.writeFile(path, data);
    },
  };
}

const sg = {
  async adapter(): Promise<string> {
    const { adapter } = await init();
    return adapter.description || adapter.name;
  },

  /** Loads the model and tokenizer from the Hub id; the logits of `text`. */
  async logits(repo: string, hub: HubOptions, text: string): Promise<number[]> {
    const [tokenizer, model] = await load(repo, hub);
    return logitsOf(model, tokenizer, text);
  },

  /** The message of the error loading `repo` gives (null: it loaded). */
  async loadError(repo: string, hub: HubOptions): Promise<string | null> {
    try {
      await load(repo, hub);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  },

  async train(request: TrainRequest): Promise<TrainResult> {
    const [tokenizer, model] = await load(request.repo, request.hub);
    // Measured at this model's size: the Trainer's own measure is at BERT-base's, some 40 s on SwiftShader.
    await tuneMatmul(TUNE_SHAPE);
    let storage = request.storage === 'opfs' ? opfsStorage() : memoryStorage();
    if (request.hangInSaveOf !== undefined) storage = hangingInSave(storage, request.hangInSaveOf);
    let startStep = 0;
    const trainer = new Trainer({
      model, tokenizer, storage,
      args: {
        outputDir: OUTPUT_DIR, numTrainEpochs: 2, perDeviceTrainBatchSize: 4, learningRate: 1e-3, loggingSteps: 1,
        saveStrategy: 'steps', saveSteps: 2, evalStrategy: 'no', seed: 42, disableTqdm: true,
      },
      trainDataset: tokenizeDataset(new Dataset(request.rows), tokenizer, { maxLength: 32 }),
      dataCollator: new DataCollatorWithPadding(tokenizer, { maxLength: 32 }),
      callbacks: [{ onTrainBegin: ({ state }) => { startStep = state.globalStep; } }],
    });
    const out = await trainer.train(request.resume ? { resumeFromCheckpoint: true } : undefined);
    const files = await model.pretrainedFiles();
    return {
      startStep,
      globalStep: out.globalStep,
      losses: trainer.state.logHistory.flatMap((e) => ('loss' in e ? [[e.step, e.loss as number] as [number, number]] : [])),
      logits: await logitsOf(model, tokenizer, request.text),
      weights: hex(await crypto.subtle.digest('SHA-256', files['model.safetensors'] as Uint8Array<ArrayBuffer>)),
    };
  },

  /** What the OPFS output folder holds, and which checkpoint a resume takes. */
  async opfsRun(): Promise<{ entries: string[]; latest: string | null }> {
    const storage = opfsStorage();
    return {
      entries: (await storage.list(OUTPUT_DIR)).map((e) => e.name).sort(),
      latest: await latestCheckpoint(OUTPUT_DIR, storage),
    };
  },
};

window.sg = sg;
