import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** `{ relative path: sha256 }` of every file under `root`: compares two directories byte for byte. */
export function hashTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else out[relative(root, full).split('\\').join('/')] = sha256(readFileSync(full));
    }
  };
  walk(root);
  return out;
}
