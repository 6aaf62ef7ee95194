process.env.CDK_VALIDATION = 'false';
// The kept SSH connection (lib/ssh/keeper) is off for the suite, so each test connects as it always did;
// its own tests turn it on. PORTSIDE_TEST_SSH_PERSIST runs the suite with it on (e.g. 5m).
process.env.PORTSIDE_SSH_PERSIST = process.env.PORTSIDE_TEST_SSH_PERSIST ?? '0';
