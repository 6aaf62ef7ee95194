export * from './facts';
export * from './plan-types';
export { planAdoption } from './plan';
export { refusalOf } from './refusal';
export { readServer } from './read-server';
export { formatPlan, formatRefusal } from './format-plan';
export { probeOutside } from './probe-outside';
export { applyAdoption, applyRefusal } from './apply';
export { undoAdoption } from './undo';
