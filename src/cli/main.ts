// The command line's main: parse, then --help or the job; exit status 2 for a
// bad command line, 1 for a failed job, 0 otherwise.

import { closeDevice } from '../gpu/device.js';
import { helpText } from './help.js';
import { runTrainingJob } from './job.js';
import { parseTrainOptions, type TrainOptions } from './options.js';

export async function main(argv: string[]): Promise<number> {
  let options: TrainOptions;
  try {
    options = parseTrainOptions(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (options.help) {
    console.log(helpText());
    return 0;
  }
  try {
    await runTrainingJob(options);
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  } finally {
    closeDevice();
  }
}
