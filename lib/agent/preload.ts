// The preload every service runs with (`node --require`): bundled into dist/server/preload.js.
require('../../assets/server/preload.js');
