/**
 * jest globalSetup: bring the shared local stand-in server up once, before any worker starts, when
 * the run selects an e2e suite (test/e2e/). Unit-only runs (`jest test/unit`) and PORTSIDE_E2E=0 skip it.
 * Add to jest.config.js:  globalSetup: '<rootDir>/test/support/global-setup.ts'
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '@jest/types';
import { ensureLocalServer, localServerUnavailable } from './local-server';

function e2eSelected(config: Config.GlobalConfig): boolean {
  const dir = join(config.rootDir, 'test', 'e2e');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f));
  } catch {
    return false;
  }
  const patterns = (config.testPathPatterns as unknown as { patterns?: string[] } | undefined)?.patterns ?? [];
  if (patterns.length === 0) return files.length > 0;
  return files.some((file) => patterns.some((p) => new RegExp(p, 'i').test(file)));
}

export default async function globalSetup(config: Config.GlobalConfig): Promise<void> {
  if (process.env.PORTSIDE_E2E === '0' || !e2eSelected(config)) return;
  const why = localServerUnavailable();
  if (why) {
    process.stderr.write(`\n[portside] not starting the local server: ${why}; e2e suites that need it will skip or fail.\n`);
    return;
  }
  const started = Date.now();
  const server = await ensureLocalServer();
  process.stderr.write(`\n[portside] local server ready at ${server.user}@${server.address} (${Date.now() - started} ms)\n`);
}
