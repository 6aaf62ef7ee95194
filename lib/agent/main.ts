// The agent's entry: scripts/build.js bundles it (with everything it imports) into dist/server/agent.js,
// which the server runs with plain Node. The agent is being moved here from assets/server (#11).
require('../../assets/server/agent.js');
