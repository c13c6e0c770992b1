import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '../..');

/** A missing prerequisite ends the bootstrap with one sentence saying what to install. */
describe('bootstrap prerequisites', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'bootstrap-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const bootstrap = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, [join(root, 'scripts/bootstrap.mjs')], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });

  it('names Python 3.10+ when no Python is on PATH', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = bootstrap({ PATH: bin, HOME: dir, VENV_DIR: join(dir, 'venv') });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[lines.length - 1]).toMatch(/^\[bootstrap\] No Python 3\.10\+ .*install Python 3\.10 or newer/);
  });

  it('says PyPI cannot be reached when pip cannot download', () => {
    const r = bootstrap({
      ...process.env,
      VENV_DIR: join(dir, 'venv'),
      PIP_INDEX_URL: 'http://127.0.0.1:9/simple', // nothing listens on the discard port
      PIP_RETRIES: '0',
      PIP_TIMEOUT: '2',
      PIP_NO_CACHE_DIR: '1',
    });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[lines.length - 1]).toMatch(/^\[bootstrap\] pip could not download the pinned packages from PyPI/);
  });
});
