export { AdamW, hfParameterGroups } from './adamw.js';
export type { AdamWOptions, AdamWStepOptions, ParamGroup, ResolvedGroup, AdamWState } from './adamw.js';
export { clipGradNorm } from './clip.js';
export { linearSchedule, cosineSchedule, constantSchedule, constantScheduleWithWarmup, getScheduler, applySchedule, LambdaLR, get_scheduler, get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup, get_constant_schedule_with_warmup } from './schedules.js';
export type { Schedule, ScheduleName, ScheduleOptions, ScheduledOptimizer } from './schedules.js';
export { GradScaler } from './grad-scaler.js';
export type { GradScalerOptions, GradScalerState, ScaledOptimizer } from './grad-scaler.js';
