export { planCheckout } from './plan.js';
export type { CheckoutPlan, PlanOptions, PresentFile } from './plan.js';
export { applyCheckout } from './apply.js';
export type { ApplyOptions, ApplyResult } from './apply.js';
export { Linker } from './link.js';
