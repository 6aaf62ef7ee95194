export * from './errors';
export * from './validators';
export * from './portside-config';
export * from './load-config';
export * from './context-file';
export * from './fleet-config';
