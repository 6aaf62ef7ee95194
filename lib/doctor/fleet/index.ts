export * from './types';
export { diagnoseFleet, fleetChecks } from './fleet-checks';
export { gatherFleetFacts } from './gather-fleet';
export type { FleetGatherOptions, FleetGatherServer } from './gather-fleet';
export { allResults, formatFleetReport } from './fleet-report';
