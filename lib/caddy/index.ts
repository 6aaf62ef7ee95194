export * from './render-caddyfile';
