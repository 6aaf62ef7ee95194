export * from './rehearse-boot';
export * from './steps';
