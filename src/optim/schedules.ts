// Learning-rate schedules as functions of the step: the factor that
// multiplies the initial learning rate, as transformers' get_scheduler
// builds them (LambdaLR): the optimizer's k-th step (k = 1, 2, …) uses
// factor(k − 1).

import { checkOptions, type WithSnakeCase } from '../options.js';

export type Schedule = (step: number) => number;
/** transformers' SchedulerType names that getScheduler builds. */
export const SCHEDULE_NAMES = ['linear', 'cosine', 'constant', 'constant_with_warmup'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleOptions {
  numTrainingSteps: number;
  /** Warmup steps; or warmupRatio × numTrainingSteps, rounded up, as TrainingArguments does. */
  numWarmupSteps?: number;
  warmupRatio?: number;
}

function warmupSteps({ numTrainingSteps, numWarmupSteps, warmupRatio }: ScheduleOptions): number {
  if (numWarmupSteps !== undefined && warmupRatio !== undefined) throw new Error('give numWarmupSteps or warmupRatio, not both');
  const w = numWarmupSteps ?? Math.ceil((warmupRatio ?? 0) * numTrainingSteps);
  if (!Number.isInteger(w) || w < 0) throw new Error(`invalid number of warmup steps ${w}`);
  return w;
}

/** Linear warmup from 0, then linear decay to 0 at numTrainingSteps (get_linear_schedule_with_warmup). */
export function linearSchedule(options: ScheduleOptions): Schedule {
  const warmup = warmupSteps(options);
  const total = options.numTrainingSteps;
  return (step) => (step < warmup ? step / Math.max(1, warmup) : Math.max(0, (total - step) / Math.max(1, total - warmup)));
}

/** Linear warmup, then half a cosine from 1 to 0 (get_cosine_schedule_with_warmup, num_cycles 0.5). */
export function cosineSchedule(options: ScheduleOptions): Schedule {
  const warmup = warmupSteps(options);
  const total = options.numTrainingSteps;
  return (step) => {
    if (step < warmup) return step / Math.max(1, warmup);
    const progress = (step - warmup) / Math.max(1, total - warmup);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
  };
}

/** 1 throughout (get_constant_schedule). */
export function constantSchedule(): Schedule {
  return () => 1;
}

/** Linear warmup, then 1 (get_constant_schedule_with_warmup). */
export function constantScheduleWithWarmup(options: ScheduleOptions): Schedule {
  const warmup = warmupSteps(options);
  return (step) => (step < warmup ? step / Math.max(1, warmup) : 1);
}

/** The schedule by its transformers name (TrainingArguments.lr_scheduler_type). */
export function getScheduler(name: ScheduleName, given: WithSnakeCase<Partial<ScheduleOptions>>): Schedule {
  // transformers' get_scheduler(name, optimizer, num_warmup_steps, num_training_steps) spelling is taken too.
  const options = checkOptions<Partial<ScheduleOptions>>('getScheduler', given, ['numTrainingSteps', 'numWarmupSteps', 'warmupRatio']) as ScheduleOptions;
  if (name !== 'constant' && !(Number.isInteger(options.numTrainingSteps) && options.numTrainingSteps >= 0)) {
    throw new Error(`getScheduler('${name}'): numTrainingSteps (num_training_steps) must be a non-negative integer, got ${JSON.stringify(options.numTrainingSteps)}`);
  }
  switch (name) {
    case 'linear': return linearSchedule(options);
    case 'cosine': return cosineSchedule(options);
    case 'constant': return constantSchedule();
    case 'constant_with_warmup': return constantScheduleWithWarmup(options);
    default: throw new Error(`unknown learning-rate schedule '${name as string}' (linear, cosine, constant, constant_with_warmup)`);
  }
}

/** Sets each group's lr to initialLr × schedule(step) before the optimizer's (step + 1)-th step. */
export function applySchedule(optimizer: { groups: { lr: number; initialLr: number }[] }, schedule: Schedule, step: number): void {
  const factor = schedule(step);
  for (const g of optimizer.groups) g.lr = g.initialLr * factor;
}
