/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // The synthesized templates are validated by `cdk synth`; here it only costs seconds per file.
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  testTimeout: 30000,
};
