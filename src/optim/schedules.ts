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

/** What a scheduler drives: an optimizer's groups (AdamW's), each lr set from its initialLr. */
export interface ScheduledOptimizer {
  groups: { lr: number; initialLr: number }[];
}

/**
 * torch's LambdaLR over a schedule, as transformers' get_scheduler(name, optimizer, ...) returns:
 * built, it sets each group's lr to initialLr × schedule(0); each step() (after optimizer.step(),
 * as torch's loop calls it) moves to the next step's factor.
 */
export class LambdaLR {
  /** Steps taken: torch's last_epoch. */
  lastEpoch = 0;

  constructor(readonly optimizer: ScheduledOptimizer, readonly schedule: Schedule) {
    if (!optimizer || !Array.isArray(optimizer.groups)) throw new Error('LambdaLR: expected an optimizer (new AdamW(...)) with its parameter groups');
    applySchedule(optimizer, schedule, 0);
  }

  step(): void {
    this.lastEpoch++;
    applySchedule(this.optimizer, this.schedule, this.lastEpoch);
  }

  /** Each group's current learning rate (torch's get_last_lr()). */
  getLastLr(): number[] {
    return this.optimizer.groups.map((g) => g.lr);
  }

  get_last_lr(): number[] {
    return this.getLastLr();
  }

  state_dict(): { last_epoch: number } {
    return { last_epoch: this.lastEpoch };
  }

  /** Restores the step count (and the learning rates it gives). */
  load_state_dict(state: { last_epoch: number }): void {
    if (!Number.isInteger(state?.last_epoch) || state.last_epoch < 0) throw new Error(`LambdaLR.load_state_dict: last_epoch must be a non-negative integer, got ${JSON.stringify(state?.last_epoch)}`);
    this.lastEpoch = state.last_epoch;
    applySchedule(this.optimizer, this.schedule, this.lastEpoch);
  }
}

/**
 * The schedule by its transformers name (TrainingArguments.lr_scheduler_type), as a function of
 * the step; with an optimizer among the options, transformers' get_scheduler(name, optimizer,
 * num_warmup_steps, num_training_steps): a LambdaLR driving that optimizer's learning rates.
 */
export function getScheduler(name: ScheduleName, given: WithSnakeCase<Partial<ScheduleOptions>> & { optimizer: ScheduledOptimizer }): LambdaLR;
export function getScheduler(name: ScheduleName, given: WithSnakeCase<Partial<ScheduleOptions>>): Schedule;
export function getScheduler(name: ScheduleName, given: WithSnakeCase<Partial<ScheduleOptions>> & { optimizer?: ScheduledOptimizer }): Schedule | LambdaLR {
  const { optimizer, ...rest } = checkOptions<Partial<ScheduleOptions> & { optimizer?: ScheduledOptimizer }>('getScheduler', given, ['optimizer', 'numTrainingSteps', 'numWarmupSteps', 'warmupRatio']);
  const schedule = scheduleByName(name, rest);
  return optimizer === undefined ? schedule : new LambdaLR(optimizer, schedule);
}

/** transformers' spelling of getScheduler. */
export const get_scheduler = getScheduler;

/** transformers' get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps). */
export function get_linear_schedule_with_warmup(optimizer: ScheduledOptimizer, numWarmupSteps: number, numTrainingSteps: number): LambdaLR {
  return new LambdaLR(optimizer, scheduleByName('linear', { numWarmupSteps, numTrainingSteps }));
}

/** transformers' get_cosine_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps) (half a cosine). */
export function get_cosine_schedule_with_warmup(optimizer: ScheduledOptimizer, numWarmupSteps: number, numTrainingSteps: number): LambdaLR {
  return new LambdaLR(optimizer, scheduleByName('cosine', { numWarmupSteps, numTrainingSteps }));
}

/** transformers' get_constant_schedule_with_warmup(optimizer, num_warmup_steps). */
export function get_constant_schedule_with_warmup(optimizer: ScheduledOptimizer, numWarmupSteps: number): LambdaLR {
  return new LambdaLR(optimizer, scheduleByName('constant_with_warmup', { numWarmupSteps, numTrainingSteps: numWarmupSteps }));
}

function scheduleByName(name: ScheduleName, options: Partial<ScheduleOptions>): Schedule {
  if (options.numWarmupSteps !== undefined && !(Number.isInteger(options.numWarmupSteps) && options.numWarmupSteps >= 0)) {
    throw new Error(`getScheduler('${name}'): numWarmupSteps (num_warmup_steps) must be a non-negative integer, got ${JSON.stringify(options.numWarmupSteps)}`);
  }
  if (name !== 'constant' && !(Number.isInteger(options.numTrainingSteps) && options.numTrainingSteps! >= 0)) {
    throw new Error(`getScheduler('${name}'): numTrainingSteps (num_training_steps) must be a non-negative integer, got ${JSON.stringify(options.numTrainingSteps)}`);
  }
  const checked = options as ScheduleOptions;
  switch (name) {
    case 'linear': return linearSchedule(checked);
    case 'cosine': return cosineSchedule(checked);
    case 'constant': return constantSchedule();
    case 'constant_with_warmup': return constantScheduleWithWarmup(checked);
    default: throw new Error(`unknown learning-rate schedule '${name as string}' (linear, cosine, constant, constant_with_warmup)`);
  }
}

/** Sets each group's lr to initialLr × schedule(step) before the optimizer's (step + 1)-th step. */
export function applySchedule(optimizer: ScheduledOptimizer, schedule: Schedule, step: number): void {
  const factor = schedule(step);
  for (const g of optimizer.groups) g.lr = g.initialLr * factor;
}
