export * from './render-caddyfile';
export * from './hand-written';
