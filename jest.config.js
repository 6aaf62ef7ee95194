/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // The synthesized templates are validated by `cdk synth`; here it only costs seconds per file.
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  // expect(result).toExitWith(0): prints the command's output when it fails.
  setupFilesAfterEnv: ['<rootDir>/test/support/matchers.ts'],
  // One local stand-in server for every e2e suite, brought up before the workers start.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 30000,
  // The e2e suites share one stand-in server and its deploy lock: one test file at a time.
  maxWorkers: 1,
};
