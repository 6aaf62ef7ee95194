/**
 * A test hook (FaultHook, from the CLI's PORTSIDE_ADOPT_TEST_CADDY_REFUSES): the first Caddyfile adopt
 * loads during the given step gains a site with a directive Caddy does not know, so the real Caddy
 * refuses it, as it would refuse a kept directive it cannot load. Nothing else changes.
 */
import { AdoptServer } from '../server-ops';
import type { FaultHook } from './messages';

/** The site appended; Caddy's adapter stops at its unknown directive. */
export const REFUSED_SITE = '\n:1 {\n\tportside_test_refused_directive\n}\n';

class CaddyRefusesAt extends AdoptServer {
  private fired = false;

  constructor(base: AdoptServer, private readonly step: number, private readonly currentStep: () => number) {
    super(base.cmd, base.node, base.pm2Bin, base.caddy);
  }

  override async reloadCaddy(file: string): Promise<void> {
    if (!this.fired && this.currentStep() === this.step) {
      this.fired = true;
      await this.sh('cat >> "$1"', [file], REFUSED_SITE);
    }
    return super.reloadCaddy(file);
  }
}

/** `ops`, with Caddy refusing the first configuration loaded during step `fault.caddyRefusesAtStep`. */
export function withCaddyRefusal(ops: AdoptServer, fault: FaultHook, currentStep: () => number): AdoptServer {
  return new CaddyRefusesAt(ops, fault.caddyRefusesAtStep, currentStep);
}
