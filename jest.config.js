/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'], '^.+\\.js$': ['@swc/jest'] },
  // ESM-only packages in Fastify's tree (cookie via light-my-request, content-disposition via
  // @fastify/static): compiled to CommonJS for jest's module runtime; Node itself loads them as they are.
  transformIgnorePatterns: ['/node_modules/(?!(cookie|content-disposition)/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // One Temporal and one MLflow server for the whole run, on free ports, state in a temp dir.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFiles: ['<rootDir>/test/support/setup-temporal-logs.ts'],
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // Real servers, workflow bundling and model training on a shared 2-core machine: be generous.
  testTimeout: 180_000,
  maxWorkers: 2,
};
