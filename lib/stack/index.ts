export * from './server-tag';
export * from './ingress-rules';
export * from './pinned-ubuntu-image';
export * from './legacy-server';
export * from './upgrade-guard';
export * from './web-server';
export * from './portside-stack';
export * from './fleet';
