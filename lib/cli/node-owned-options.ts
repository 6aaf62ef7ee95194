/**
 * Options that Node itself takes from anywhere in its argv, even after the script name, up to a `--`
 * (measured on Node 20.20; nodejs/node#54232): `--env-file FILE`, `--env-file=FILE` and the
 * `--env-file-if-exists` forms. Node loads that file's NODE_OPTIONS into the process before any of
 * Portside's code runs, so `portside deploy-service x --env-file f` started as `node bin/portside.js`
 * or through npx ran `NODE_OPTIONS=--require …` from the service's env file on the user's machine.
 * Portside's own option is therefore named differently (`--service-env`), and these are refused.
 */
const NODE_OWNED = /^--env-file(?:-if-exists)?(?:=|$)/;

/** The first argument Node would take for itself (before any `--`), or null. */
export function nodeOwnedOption(argv: readonly string[]): string | null {
  for (const arg of argv) {
    if (arg === '--') return null;
    if (NODE_OWNED.test(arg)) return arg.split('=')[0];
  }
  return null;
}

/** Why `flag` is refused and what to type instead. */
export function nodeOwnedOptionMessage(flag: string): { message: string; detail: string } {
  return {
    message: `${flag} is Node's own option, not Portside's: when portside is started as \`node bin/portside.js …\` or through npx, `
      + 'Node reads that file itself, even after the command name, and runs its NODE_OPTIONS on this machine before Portside starts',
    detail: 'Give the service\'s env file with --service-env FILE, e.g. npm run deploy-service simon -- --service-env .env.production',
  };
}
