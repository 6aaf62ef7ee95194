import { HTTP_PORT } from '../../remote/layout';
import { DoctorFacts, failed } from '../types';

/**
 * Whether the server sits behind a load balancer (a fleet server: its registry has `loadBalancer`). Then
 * Caddy serves plain HTTP on port 80 only and TLS ends at the load balancer, so the checks that expect
 * 443, a certificate or names resolving to this server look at the load balancer instead (the fleet's
 * own checks, lib/doctor/fleet) and say so here rather than report a problem that is the design.
 */
export const behindLoadBalancer = (f: DoctorFacts): boolean => !failed(f.registry) && f.registry.loadBalancer !== undefined;

/** Why a per-server check of TLS, 443 or DNS does not apply to a fleet server, in one clause. */
export const LB_TERMINATES_TLS = `TLS ends at the load balancer, which sends plain HTTP to port ${HTTP_PORT} of each server`;
