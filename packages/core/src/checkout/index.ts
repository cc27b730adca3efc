export { planCheckout } from './plan.js';
export type { CheckoutPlan, PlanOptions, PresentFile } from './plan.js';
export { applyCheckout } from './apply.js';
export type { ApplyOptions, ApplyResult } from './apply.js';
export { Linker } from './link.js';
export { HeldObjects, HAND_OVER_MIN_SIZE } from './held.js';
