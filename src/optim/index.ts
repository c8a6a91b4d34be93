export { AdamW, hfParameterGroups } from './adamw.js';
export type { AdamWOptions, AdamWStepOptions, ParamGroup, ResolvedGroup, AdamWState } from './adamw.js';
export { clipGradNorm } from './clip.js';
export { linearSchedule, cosineSchedule, constantSchedule, constantScheduleWithWarmup, getScheduler, applySchedule } from './schedules.js';
export type { Schedule, ScheduleName, ScheduleOptions } from './schedules.js';
export { GradScaler } from './grad-scaler.js';
export type { GradScalerOptions, GradScalerState, ScaledOptimizer } from './grad-scaler.js';
