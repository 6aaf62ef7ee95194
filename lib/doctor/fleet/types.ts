import type { FleetManifest } from '../../fleet/store-layout';
import type { CheckResult, DnsAnswer, DoctorFacts, HttpOutcome, SiteCertificate } from '../types';

/** One server of the fleet: its own facts (the single server's, gathered the same way), or why not. */
export interface FleetMemberFacts {
  /** `s1 (10.77.1.11)` locally, `i-0abc… (203.0.113.7)` on AWS: unique in the fleet. */
  readonly label: string;
  readonly address: string;
  readonly facts: DoctorFacts | { readonly error: string };
}

/** The load balancer as a user meets it: its certificates and the site through it. */
export interface LoadBalancerFacts {
  /** Where it was asked (the local LB's address, or the domain on AWS). */
  readonly address: string;
  /** The certificate it serves for each served name. */
  readonly certificates: readonly SiteCertificate[];
  /** `GET https://<domain>/` through it, verified (the local LB's own CA, else the system's). */
  readonly site: { readonly url: string; readonly outcome: HttpOutcome };
}

/** Everything `portside doctor` looks at for a fleet; the fleet checks are pure functions of this. */
export interface FleetFacts {
  readonly kind: 'local' | 'aws';
  readonly servers: readonly FleetMemberFacts[];
  /** The store's manifest: null when nothing was rolled out yet. */
  readonly manifest: FleetManifest | null | { readonly error: string };
  readonly loadBalancer: LoadBalancerFacts | { readonly error: string };
  /** What each served name resolves to (AWS: it should be the load balancer, never a server). */
  readonly dns: readonly DnsAnswer[] | { readonly skipped: string };
  readonly now: Date;
}

/** The doctor's answer for a fleet: each server's own checks, then the fleet's. */
export interface FleetReport {
  readonly servers: ReadonlyArray<{ readonly server: string; readonly address: string; readonly results: readonly CheckResult[] }>;
  readonly fleet: readonly CheckResult[];
}
