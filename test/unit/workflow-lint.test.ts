import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(__dirname, '../..');

interface LintMessage {
  ruleId: string | null;
  message: string;
}

/**
 * Lints each snippet as a file of its own at the given path, in one run of the project's real ESLint
 * config (a child process: ESLint loads its config through a dynamic import, which Jest's VM refuses).
 * The files live in a scratch folder under workflows/ and activities/ because type-aware lint only
 * sees files inside the tsconfig project.
 */
function lintFiles(files: Record<string, string>): Record<string, LintMessage[]> {
  const scratch = `__lint_probe_${process.pid}__`;
  const paths = Object.keys(files).map((rel) => rel.replace('/', `/${scratch}/`));
  Object.entries(files).forEach(([, code], i) => {
    const p = join(root, paths[i]!);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, code);
  });
  try {
    let out: string;
    try {
      out = execFileSync(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', ...paths], { cwd: root, encoding: 'utf8' });
    } catch (e) {
      out = (e as { stdout: string }).stdout; // exit code 1 = lint errors found
    }
    const results = JSON.parse(out) as { filePath: string; messages: LintMessage[] }[];
    return Object.fromEntries(
      Object.keys(files).map((rel, i) => {
        const r = results.find((x) => x.filePath === join(root, paths[i]!));
        if (!r) throw new Error(`ESLint did not report on ${paths[i]}`);
        const fatal = r.messages.find((m) => m.ruleId === null);
        if (fatal) throw new Error(`ESLint could not parse ${paths[i]}: ${fatal.message}`);
        return [rel, r.messages.filter((m) => m.ruleId === 'no-restricted-imports')];
      }),
    );
  } finally {
    for (const top of ['workflows', 'activities']) rmSync(join(root, top, scratch), { recursive: true, force: true });
  }
}

/** The lint fence that keeps workflow code deterministic and free of I/O (eslint.config.mjs). */
describe('workflow lint fence', () => {
  const rejected: [string, string][] = [
    ['fs', "import { readFile } from 'fs';\nexport const x = readFile;\n"],
    ['node:fs/promises', "import { readFile } from 'node:fs/promises';\nexport const x = readFile;\n"],
    ['axios', "import axios from 'axios';\nexport const x = axios;\n"],
    ['@tensorflow/tfjs', "import * as tf from '@tensorflow/tfjs';\nexport const x = tf;\n"],
    ['@temporalio/client', "import { Client } from '@temporalio/client';\nexport const x = Client;\n"],
    ['a value import of activities', "import { createActivities } from '../activities';\nexport const x = createActivities;\n"],
  ];
  const allowed = [
    "import { proxyActivities } from '@temporalio/workflow';",
    "import type { Activities } from '../activities';",
    "export const acts = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });",
    '',
  ].join('\n');
  let report: Record<string, LintMessage[]>;
  beforeAll(() => {
    report = lintFiles({
      ...Object.fromEntries(rejected.map(([, code], i) => [`workflows/rejected${i}.ts`, code])),
      'workflows/allowed.ts': allowed,
      'activities/outside.ts': "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
    });
  });

  it.each(rejected.map(([what], i) => [what, i] as const))('rejects %s in workflow code', (_what, i) => {
    expect(report[`workflows/rejected${i}.ts`]).toHaveLength(1);
  });

  it('allows the workflow API and type-only imports of activities', () => {
    expect(report['workflows/allowed.ts']).toEqual([]);
  });

  it('does not fence code outside workflows/', () => {
    expect(report['activities/outside.ts']).toEqual([]);
  });
});
