// The doctor's facts script. scripts/build.js bundles it (with the layout it imports) into
// dist/doctor/remote-facts.js; `portside doctor` runs that text on the server as
// `node -e <script> <mode> [json]`, so nothing of Portside needs to be installed there, and doctor
// changes nothing on the server (the agent would first have to be uploaded). It only reads: files,
// pm2's list (never starting its daemon), HTTP and TLS answers on loopback, disk and memory.
// Prints one JSON object on stdout: RemoteRead or ProbeAnswers (./messages.ts).
import type { ProbeRequest, RemoteMode } from './messages';
import { probe } from './probe';
import { readFacts } from './read';

async function main(mode: RemoteMode | string, arg: string | undefined): Promise<unknown> {
  if (mode === 'read') return readFacts();
  if (mode === 'probe') return probe(JSON.parse(arg as string) as ProbeRequest);
  throw new Error(`unknown mode ${mode}`);
}

// Under `node -e`, argv[1] is the first argument after the script.
main(process.argv[1], process.argv[2]).then((r) => process.stdout.write(JSON.stringify(r) + '\n'), (e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
