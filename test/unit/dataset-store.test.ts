import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetStoreError, readSplit, writeSplit } from '../../lib/datasets/store';
import { stratifiedSplit } from '../../lib/ml/data/split';
import { generateTransactions } from '../../lib/ml/data/synthetic';

/** Splits stored by content digest: what activities hand each other instead of the data. */
describe('dataset store', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'datasets-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
  const split = (seed: number) => stratifiedSplit(generateTransactions({ rows: 5000, seed, fraudRate: 0.02 }), { seed });

  it('reads back exactly what was written, with its description', async () => {
    const s = split(1);
    const ref = await writeSplit(dataDir, s, 'synthetic(rows=5000)');
    expect(ref.dir).toBe(join(dataDir, 'datasets', ref.digest));
    expect(ref.parts.train.rows + ref.parts.validation.rows + ref.parts.test.rows).toBe(5000);
    expect(ref.parts.test.positives).toBe(s.test.labels.reduce((a, b) => a + b, 0));
    const back = await readSplit(ref);
    for (const p of ['train', 'validation', 'test'] as const) {
      expect(back[p].features).toEqual(s[p].features);
      expect(back[p].labels).toEqual(s[p].labels);
      expect(back[p].featureNames).toEqual(s[p].featureNames);
    }
  });

  it('is addressed by content: the same split gets the same digest and is written once; another split another digest', async () => {
    const a = await writeSplit(dataDir, split(1), 'x');
    const again = await writeSplit(dataDir, split(1), 'x');
    const b = await writeSplit(dataDir, split(2), 'x');
    expect(again.digest).toBe(a.digest);
    expect(b.digest).not.toBe(a.digest);
    expect(readdirSync(join(dataDir, 'datasets')).sort()).toEqual([a.digest, b.digest].sort());
  });

  it('refuses a split whose files were altered or are missing', async () => {
    const ref = await writeSplit(dataDir, split(1), 'x');
    const labels = join(ref.dir, 'train.labels.u8');
    const bytes = Buffer.alloc(ref.parts.train.rows, 0);
    writeFileSync(labels, bytes);
    await expect(readSplit(ref)).rejects.toThrow(DatasetStoreError);
    await expect(readSplit({ dir: join(dataDir, 'datasets', 'nope') })).rejects.toThrow(/no readable split/);
  });
});
