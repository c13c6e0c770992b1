#!/usr/bin/env node
/**
 * The package's `fraud-models` bin (`npx fraud-models --check`). TypeScript is compiled on the fly
 * by tsx, registered from here so that it resolves from this package and not from the caller's
 * working directory (where `node --import tsx` would look for it).
 */
import { createRequire } from 'node:module';
import 'tsx/cjs';

createRequire(import.meta.url)('../../scripts/models.ts');
