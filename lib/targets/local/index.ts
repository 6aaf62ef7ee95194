/**
 * The local target: a stand-in for the EC2 server on this machine, made of real parts (a network
 * namespace, OpenSSH, Caddy with its own CA, pm2), laid out by the same bootstrap script as EC2.
 * See the README, "The local server".
 */
export { localUp } from './up';
export type { LocalUpOptions } from './up';
export { localDown } from './down';
export type { LocalDownOptions } from './down';
export { localStatus } from './status';
export type { LocalStatus } from './status';
export { readLocalServer, LocalServerNotUpError, sshFingerprint } from './local-server';
export type { LocalServer } from './local-server';
export { HostRequirementError, APT_PACKAGES, PM2_PACKAGE } from './host-requirements';
export type { PartHealth } from './netns';
export { DOMAIN as LOCAL_DOMAIN, SERVER_ADDRESS as LOCAL_SERVER_ADDRESS, STATE_DIR as LOCAL_STATE_DIR } from './constants';
export { localFleetUp, localFleetDown, localFleetRegister, localFleetStatus, fleetExists, checkServerCount } from './fleet';
export type { LocalFleetUpOptions, LocalFleetStatus, FleetServerStatus } from './fleet';
export { readLocalFleet, LocalFleetNotUpError, localStore } from './fleet-description';
export type { LocalFleet, LocalFleetServer, LocalStore } from './fleet-description';
export { s3Settings } from './fleet-store';
export { FLEET_DOMAIN as LOCAL_FLEET_DOMAIN, FLEET_JSON as LOCAL_FLEET_JSON, MAX_FLEET_SERVERS } from './fleet-constants';
