import { loadConfig, type AppConfig } from '../../lib/config';

/**
 * The configuration of the test run's servers (see global-setup.ts). Fails loudly when a test file
 * runs outside that setup, instead of silently talking to a developer's own stack.
 */
export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  if (!process.env.TEST_STACK_DIR) {
    throw new Error('The test servers are not running: run tests through jest (npm test), whose global setup starts them.');
  }
  return { ...loadConfig(), ...overrides };
}
