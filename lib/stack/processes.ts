import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { MissingBinaryError, PortInUseError, ServiceStartError } from './errors';
import { isPortFree } from './net';
import type { ServiceSpec } from './services';

/** What a started service leaves in `<runDir>/<name>.pid`, so another command can find and stop it. */
export interface ServiceRecord {
  pid: number;
  command: string;
  startedAt: string;
  logFile: string;
  /** Extra state a service needs to be probed later (the worker's Temporal identity). */
  identity?: string;
}

export interface StackDirs {
  runDir: string;
  logDir: string;
}

export type ServiceState =
  | { state: 'running'; record: ServiceRecord; healthy: boolean }
  | { state: 'external'; healthy: true }
  | { state: 'stopped' };

const pidFile = (dirs: StackDirs, name: string) => join(dirs.runDir, `${name}.pid`);

export function readRecord(dirs: StackDirs, name: string): ServiceRecord | undefined {
  const file = pidFile(dirs, name);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ServiceRecord;
  } catch {
    return undefined;
  }
}

/** True while any process of the group led by pid lives (services start in their own group). */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A pid file is ours only while its process lives and still runs the command we started (pids are reused). */
function recordAlive(record: ServiceRecord): boolean {
  if (!groupAlive(record.pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8');
    return cmdline.includes(record.command);
  } catch {
    return true; // no /proc (macOS): trust the live pid
  }
}

export async function serviceState(spec: ServiceSpec, dirs: StackDirs): Promise<ServiceState> {
  const record = readRecord(dirs, spec.name);
  if (record && recordAlive(record)) return { state: 'running', record, healthy: await spec.probe() };
  if (record) rmSync(pidFile(dirs, spec.name), { force: true });
  if (await spec.probe()) return { state: 'external', healthy: true };
  return { state: 'stopped' };
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface StartOptions {
  /** Also copy the service's output to this process's stdout/stderr (foreground `npm start`). */
  echo?: boolean;
  onProgress?: (message: string) => void;
  /** Extra record fields kept in the pid file. */
  identity?: string;
}

/**
 * Starts a service in its own process group, its output in `<logDir>/<name>.log`, and waits until
 * its probe passes. A taken port fails at once with {@link PortInUseError}; an early exit or a probe
 * that never passes fails with {@link ServiceStartError} and the log's last lines, and the process is stopped.
 */
export async function startService(spec: ServiceSpec, dirs: StackDirs, opts: StartOptions = {}): Promise<ServiceRecord> {
  if (!existsSync(spec.command)) throw new MissingBinaryError(spec.command);
  for (const p of spec.ports) {
    if (!(await isPortFree(p.host, p.port))) throw new PortInUseError(spec.title, p.host, p.port, p.hint);
  }
  mkdirSync(dirs.runDir, { recursive: true });
  mkdirSync(dirs.logDir, { recursive: true });
  const logFile = join(dirs.logDir, `${spec.name}.log`);
  const out = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', opts.echo ? 'pipe' : out, opts.echo ? 'pipe' : out],
      env: { ...process.env, ...spec.env },
    });
  } finally {
    if (!opts.echo) closeSync(out);
  }
  if (opts.echo) {
    const fd = out;
    const copy = (chunk: Buffer, to: NodeJS.WriteStream) => {
      to.write(chunk);
      writeFileSync(fd, chunk);
    };
    child.stdout?.on('data', (c: Buffer) => copy(c, process.stdout));
    child.stderr?.on('data', (c: Buffer) => copy(c, process.stderr));
    child.once('close', () => closeSync(fd));
  }
  if (child.pid === undefined) throw new ServiceStartError(spec.title, 'spawn failed', logFile);
  const record: ServiceRecord = {
    pid: child.pid,
    command: spec.command,
    startedAt: new Date().toISOString(),
    logFile,
    identity: opts.identity,
  };
  writeFileSync(pidFile(dirs, spec.name), JSON.stringify(record, null, 2));
  let exited: number | null | undefined;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : null)));
  if (!opts.echo) child.unref();

  const started = Date.now();
  let lastNote = started;
  while (Date.now() - started < spec.startTimeoutMs) {
    if (exited !== undefined) {
      rmSync(pidFile(dirs, spec.name), { force: true });
      throw new ServiceStartError(spec.title, `it exited with code ${exited}:\n${tail(logFile)}`, logFile);
    }
    if (await spec.probe()) return record;
    if (Date.now() - lastNote > 10_000) {
      opts.onProgress?.(`still waiting for ${spec.title} (${Math.round((Date.now() - started) / 1000)} s)…`);
      lastNote = Date.now();
    }
    await sleep(250);
  }
  await stopRecord(record);
  rmSync(pidFile(dirs, spec.name), { force: true });
  throw new ServiceStartError(spec.title, `not healthy after ${spec.startTimeoutMs / 1000} s:\n${tail(logFile)}`, logFile);
}

/** Stops a whole process group: SIGTERM, then SIGKILL after the grace period. */
export async function stopRecord(record: ServiceRecord, graceMs = 15_000): Promise<void> {
  if (!groupAlive(record.pid)) return;
  try {
    process.kill(-record.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!groupAlive(record.pid)) return;
    await sleep(100);
  }
  try {
    process.kill(-record.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  while (groupAlive(record.pid)) await sleep(50);
}

/** Stops the service this directory's pid file names, if it still runs; true when something was stopped. */
export async function stopService(name: string, dirs: StackDirs): Promise<boolean> {
  const record = readRecord(dirs, name);
  if (!record) return false;
  const alive = recordAlive(record);
  if (alive) await stopRecord(record);
  rmSync(pidFile(dirs, name), { force: true });
  return alive;
}
