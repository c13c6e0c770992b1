// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * What workflow code may not import. Workflows run in Temporal's deterministic sandbox:
 * Node built-ins, I/O clients and ML libraries belong in activities, which workflows
 * reach only through `proxyActivities` and `import type`.
 */
const workflowForbiddenModules = [
  ...builtinModules.filter((m) => m !== 'assert').flatMap((m) => [m, `node:${m}`]),
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/testing',
  'axios',
  'pino',
  'koffi',
  'ml-xgboost',
  'ml-random-forest',
  'onnxruntime-node',
];
const workflowForbiddenPatterns = [
  { group: ['@tensorflow/*'], message: 'TensorFlow.js runs in activities, never in workflows.' },
  {
    group: ['**/activities', '**/activities/**', '**/lib/**'],
    allowTypeImports: true,
    message: 'Workflows import activities and library code as types only (`import type`).',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', '.venv/', '.data/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Forgetting to await an activity, a Temporal API or an HTTP call is always a bug here.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: workflowForbiddenModules.map((name) => ({
            name,
            message: 'Not allowed in workflow code: it is not deterministic or it does I/O. Use an activity.',
          })),
          patterns: workflowForbiddenPatterns,
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', module: 'writable', require: 'readonly', __dirname: 'readonly', setInterval: 'readonly' } },
  },
);
