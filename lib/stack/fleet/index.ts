export * from './fleet';
export * from './fleet-load-balancer';
export * from './fleet-permissions';
export * from './fleet-servers';
export * from './releases-bucket';
