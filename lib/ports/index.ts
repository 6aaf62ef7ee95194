export * from './ranges';
export * from './rules';
export * from './exposure';
