import { endQuietlyOnClosedPipes } from '../lib/cli/closed-pipes';
import { main } from '../lib/cli/main';

endQuietlyOnClosedPipes();
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
