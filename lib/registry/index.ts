export * from './registry';
export * from './from-config';
