/**
 * The few file operations the store is built from. Each leaves either the old or the new state
 * on disk, never a mix, even if the process dies midway: write a scratch entry, fsync it, then
 * `rename()` it over the real name (atomic on POSIX filesystems) and fsync the directory so the
 * rename itself survives a power loss.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TEMP_PREFIX } from './layout';

/** A fresh scratch name next to `path`, ignored by every reader because of its prefix. */
export function tempSibling(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
}

/** Makes a file's data, or a directory's entries, durable. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on directories; the rename is still atomic there, just not durable.
    if (!['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/** Writes a file and fsyncs it (no rename: for files inside a scratch directory). */
export async function writeFileDurable(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` with `data` atomically: readers see the old or the new content, never a partial one. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = tempSibling(path);
  try {
    await writeFileDurable(temp, data);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(dirname(path));
}

/**
 * Points the symlink `linkPath` at `target` atomically: a new link is made under a scratch name
 * and renamed over the old one, so a reader resolving `linkPath` at any moment finds the old
 * target or the new one, never nothing.
 */
export async function swapSymlink(linkPath: string, target: string): Promise<void> {
  const temp = tempSibling(linkPath);
  try {
    await symlink(target, temp);
    await rename(temp, linkPath);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(dirname(linkPath));
}

/** Removes a symlink (a missing one is fine). */
export async function removeSymlink(linkPath: string): Promise<void> {
  try {
    await unlink(linkPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return;
  }
  await fsyncPath(dirname(linkPath));
}
