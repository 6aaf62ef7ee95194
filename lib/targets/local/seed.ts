import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCaddyfile } from '../../caddy';
import { contextFromCdkJson, loadConfig } from '../../config';
import { Registry, registryFromConfig, renderRegistry } from '../../registry';
import { DOMAIN, PATHS, REPO_ROOT } from './constants';

/** The stand-in's first registry: the repository's declared services, served at portside.test by Caddy's own CA. */
export function standInRegistry(repoRoot = REPO_ROOT): Registry {
  const config = loadConfig(contextFromCdkJson(repoRoot, {}));
  return {
    ...registryFromConfig(config, { www: PATHS.www, caddyfile: PATHS.caddyfile }),
    domain: DOMAIN,
    routing: 'subdomain',
    tls: 'internal',
  };
}

const FALLBACK_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Portside</title></head>
<body><h1>Portside</h1><p>This server is up. Deploy a site or a service to it with <code>npx portside</code>.</p></body>
</html>
`;

/** The files the bootstrap reads from PORTSIDE_SEED_DIR (pure: name → content). */
export function seedFiles(repoRoot = REPO_ROOT): Record<string, string> {
  const registry = standInRegistry(repoRoot);
  const page = join(repoRoot, 'assets', 'www', 'index.html');
  return {
    'registry.json': renderRegistry(registry),
    Caddyfile: renderCaddyfile(registry),
    'index.html': existsSync(page) ? readFileSync(page, 'utf8') : FALLBACK_PAGE,
  };
}

/** Write a fresh seed dir; resolves to its path. */
export function writeSeedDir(dir = PATHS.seedDir): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // The registry lists every service and its port: readable by root (the bootstrap) only, like the live one.
  for (const [name, content] of Object.entries(seedFiles())) writeFileSync(join(dir, name), content, { mode: name === 'registry.json' ? 0o600 : 0o644 });
  return dir;
}
