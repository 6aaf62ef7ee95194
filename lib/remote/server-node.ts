/**
 * How Portside runs Node on a server: with the Node recorded at NODE_LINK when the server has one
 * (`portside adopt` writes it where nvm's Node is off the non-interactive PATH), that Node's folder
 * first on the PATH so npm and pm2 are its own; else `node` from the PATH. One definition for the
 * agent, doctor and its tool check. The scripts are fixed text: paths come as positional parameters.
 */
import { NODE_LINK } from './layout';

/** Puts the recorded Node's folder first on the PATH when there is one ($1: the link); sets $b to it. */
const USE_RECORDED_NODE = 'n=$1; shift; b=; if [ -x "$n" ]; then b=$(readlink -f "$n"); PATH="${b%/*}:$PATH"; export PATH; fi; ';

/** argv that runs `node <args…>` on the server with the recorded Node, or the PATH's. */
export function withServerNode(args: readonly string[]): string[] {
  return ['sh', '-c', `${USE_RECORDED_NODE}if [ -n "$b" ]; then exec "$b" "$@"; fi; exec node "$@"`, 'sh', NODE_LINK, ...args];
}

/** argv that prints `node=…`, `npm=…`, `pm2=…` as Portside's commands find them (empty when missing). */
export function serverToolsCommand(): string[] {
  return ['sh', '-c', `${USE_RECORDED_NODE}for t in node npm pm2; do printf "%s=%s\\n" "$t" "$(command -v "$t")"; done`, 'sh', NODE_LINK];
}
