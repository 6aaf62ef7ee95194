import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The dependency-free sample service every e2e suite deploys (assets/samples/simon). */
export const SAMPLE_APP = join(__dirname, '..', '..', 'assets', 'samples', 'simon');

/**
 * A maker of copies of the sample service in folders under `work`, each saying `text` instead of
 * "Simon says hello", so each version is recognisable through Caddy; `extra` may add files to a copy.
 */
export function sampleAppSaying(work: string): (text: string, extra?: (dir: string) => void) => string {
  return (text, extra) => {
    const dir = mkdtempSync(join(work, 'app-'));
    cpSync(SAMPLE_APP, dir, { recursive: true });
    const file = join(dir, 'index.js');
    writeFileSync(file, readFileSync(file, 'utf8').replace('Simon says hello', text));
    extra?.(dir);
    return dir;
  };
}
