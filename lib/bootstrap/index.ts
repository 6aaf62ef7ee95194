export * from './render-user-data';
export * from './seed';
export * from './assets';
