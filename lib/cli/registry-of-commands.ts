import type { Command } from './command';

/** A command as `portside --help` lists it; its module (and what it imports) loads only when it runs. */
export interface CommandEntry {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The command's module: a dynamic import, so `portside --help` never loads ssh2, the AWS SDK or aws-cdk-lib. */
  readonly load: () => Promise<Command>;
}

/** Every `portside` command, in the order `--help` lists them. Add a command here and nowhere else. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'deploy-service', summary: 'deploy a Node service to its port, health-checked, with no downtime', load: async () => (await import('./commands/deploy-service')).deployServiceCommand },
  { name: 'deploy-files', summary: 'publish a static site to the root domain, atomically', load: async () => (await import('./commands/deploy-files')).deployFilesCommand },
  { name: 'services', summary: 'list services: port, URL, process state, health, release', load: async () => (await import('./commands/services')).servicesCommand },
  { name: 'rollback', summary: 'go back to the previous release, without uploading anything', load: async () => (await import('./commands/rollback')).rollbackCommand },
  { name: 'remove-service', summary: 'stop a service, remove its route, free its port', load: async () => (await import('./commands/remove-service')).removeServiceCommand },
  { name: 'sync-config', summary: 'adopt the configuration a later `cdk deploy` declared (domain, routing, email, service ports)', load: async () => (await import('./commands/sync-config')).syncConfigCommand },
  { name: 'logs', summary: 'show (or follow) a service\'s logs', load: async () => (await import('./commands/logs')).logsCommand },
  { name: 'local', summary: 'run a stand-in of the EC2 server on this machine (up, down, status)', load: async () => (await import('./commands/local')).localCommand },
  { name: 'demo', summary: 'bring up the local server, deploy the samples, fetch them through Caddy', load: async () => (await import('./commands/demo')).demoCommand },
  { name: 'ports', summary: 'explain a port, or print the server\'s port table', load: async () => (await import('./commands/ports')).portsCommand },
  { name: 'caddyfile', summary: 'print the Caddyfile the stack would install, for the current context', load: async () => (await import('./commands/caddyfile')).caddyfileCommand },
  { name: 'doctor', summary: 'check the live server: exposure, listeners, drift, health, TLS, DNS, capacity (reads only)', load: async () => (await import('./commands/doctor')).doctorCommand },
  { name: 'adopt', summary: 'read a server built by hand (Caddy, pm2) and print how Portside would take it over (--dry-run)', load: async () => (await import('./commands/adopt')).adoptCommand },
];
