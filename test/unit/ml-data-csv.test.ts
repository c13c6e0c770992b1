import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, type DatasetErrorCode } from '../../lib/ml/data/errors';
import { formatFloat32, loadCsv, writeCsv } from '../../lib/ml/data/csv';
import { CREDIT_CARD_FEATURES, generateTransactions } from '../../lib/ml/data/synthetic';
import type { Dataset } from '../../lib/ml/types';

const fixtures = join(__dirname, '../fixtures/csv');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ml-data-csv-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tempCsv(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function bytes(a: Float32Array | Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameDataset(actual: Dataset, expected: Dataset): void {
  expect(actual.numRows).toBe(expected.numRows);
  expect(actual.numFeatures).toBe(expected.numFeatures);
  expect(actual.featureNames).toEqual(expected.featureNames);
  // Bit-for-bit: every float32 survives the text round trip, including -0.
  expect(bytes(actual.features).equals(bytes(expected.features))).toBe(true);
  expect(bytes(actual.labels).equals(bytes(expected.labels))).toBe(true);
}

async function loadError(path: string, options?: Parameters<typeof loadCsv>[1]): Promise<DatasetError> {
  try {
    await loadCsv(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }
  throw new Error(`loadCsv(${path}) did not throw`);
}

describe('writeCsv + loadCsv', () => {
  it('round-trips a generated dataset exactly, across read-chunk boundaries', async () => {
    // About 1.5 MB of text: more than one 1 MB read chunk, so lines split across chunks are exercised.
    const dataset = generateTransactions({ rows: 15_000, seed: 7, fraudRate: 0.01 });
    const path = join(dir, 'roundtrip.csv');
    await writeCsv(dataset, path);
    expectSameDataset(await loadCsv(path), dataset);
  });

  it('writes the credit-card header and one row per line', async () => {
    const dataset = generateTransactions({ rows: 50, seed: 1, fraudRate: 0.2 });
    const path = join(dir, 'header.csv');
    await writeCsv(dataset, path);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toBe(['Time', ...Array.from({ length: 28 }, (_, i) => `V${i + 1}`), 'Amount', 'Class'].join(','));
    expect(lines).toHaveLength(52); // header, 50 rows, the empty string after the final newline
    expect(lines[51]).toBe('');
    expect(lines[1]!.split(',')).toHaveLength(31);
  });

  it('keeps special float values like -0, subnormals and the float32 extremes', async () => {
    const values = [-0, 0, 1.401298464324817e-45, 1.1754943508222875e-38, 3.4028234663852886e38, -3.4028234663852886e38, 0.1, 1e-7, 123.45, 1 / 3];
    const features = Float32Array.from(values);
    const dataset: Dataset = {
      features,
      labels: Uint8Array.from(values.map((_, i) => i % 2)),
      numRows: values.length,
      numFeatures: 1,
      featureNames: ['x'],
    };
    const path = join(dir, 'special.csv');
    await writeCsv(dataset, path);
    expectSameDataset(await loadCsv(path, { minMinorityRows: 1 }), dataset);
  });
});

describe('formatFloat32', () => {
  it('writes short decimals that read back as the same float32', () => {
    expect(formatFloat32(Math.fround(123.45))).toBe('123.45');
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(12345)).toBe('12345');
    expect(formatFloat32(-0)).toBe('-0');
    // Any float32 bit pattern, not just "nice" values.
    const words = new Uint32Array(20_000);
    let x = 123456789;
    for (let i = 0; i < words.length; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      words[i] = x;
    }
    const floats = new Float32Array(words.buffer);
    const wrong: string[] = [];
    for (const f of floats) {
      if (!Number.isFinite(f)) continue;
      const text = formatFloat32(f);
      if (!Object.is(Math.fround(Number(text)), f)) wrong.push(`${f} written as ${text}`);
      // At most 9 significant digits (always enough for a float32), not a 17-digit double.
      const significant = text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').length;
      if (!Number.isInteger(f) && significant > 9) wrong.push(`${f} written with ${significant} digits: ${text}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('loadCsv: accepted inputs', () => {
  it('reads the credit-card schema in any case, quoted, with BOM, CRLF, spaces and trailing blank lines', async () => {
    const dataset = await loadCsv(join(fixtures, 'quirky-good.csv'), { minMinorityRows: 1 });
    expect(dataset.featureNames).toEqual(['Time', 'V1', 'V2', 'Amount']);
    expect(dataset.numRows).toBe(3);
    expect(Array.from(dataset.labels)).toEqual([0, 1, 0]);
    expect(Array.from(dataset.features)).toEqual([0, 1.5, -0.25, 10.5, 1, 0.5, 0.75, 3, 2, Math.fround(0.1), Math.fround(-2.5e-3), 1]);
  });

  it('reads the full credit-card header into the canonical names', async () => {
    const header = ['time', ...Array.from({ length: 28 }, (_, i) => `v${i + 1}`), 'AMOUNT', 'class'];
    const row = (label: number) => [...Array.from({ length: 30 }, (_, j) => String(j / 4)), String(label)].join(',');
    const rows = Array.from({ length: 30 }, (_, i) => row(i < 10 ? 1 : 0));
    const dataset = await loadCsv(tempCsv('lower.csv', [header.join(','), ...rows].join('\n')));
    expect(dataset.featureNames).toEqual([...CREDIT_CARD_FEATURES]);
    expect(dataset.numRows).toBe(30);
    expect(dataset.features[29]).toBe(29 / 4);
  });

  it('reads any numeric table with a named label column, and selects feature columns', async () => {
    const text = 'a,target,b,c\n1,0,2,3\n4,1,5,6\n7,0,8,9\n';
    const path = tempCsv('generic.csv', text);
    const all = await loadCsv(path, { labelColumn: 'TARGET', minMinorityRows: 1 });
    expect(all.featureNames).toEqual(['a', 'b', 'c']);
    expect(Array.from(all.features)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(all.labels)).toEqual([0, 1, 0]);

    const some = await loadCsv(path, { labelColumn: 'target', featureColumns: ['C', 'a'], minMinorityRows: 1 });
    expect(some.featureNames).toEqual(['c', 'a']);
    expect(Array.from(some.features)).toEqual([3, 1, 6, 4, 9, 7]);
  });

  it('parses every number format exactly as Number() does', async () => {
    const cells = [
      '0.1', '-0.1', '+2.5', '.5', '5.', '1e3', '1E-3', '-1.5e+2', '0.000001234', '123456789012345678', '0.12345678901234567890',
      '3.4028234663852886e38', '1e-45', '00012', '-0', '7.000000', ' 4.25 ', '1.0e22', '1e23', '9007199254740993',
    ];
    const text = `x,Class\n${cells.map((c, i) => `${c},${i % 2}`).join('\n')}\n`;
    const dataset = await loadCsv(tempCsv('numbers.csv', text), { minMinorityRows: 1 });
    expect(dataset.numRows).toBe(cells.length);
    cells.forEach((cell, i) => expect(Object.is(dataset.features[i], Math.fround(Number(cell)))).toBe(true));
  });

  it('accepts minMinorityRows 0 for a single-class file', async () => {
    const dataset = await loadCsv(join(fixtures, 'single-class.csv'), { minMinorityRows: 0 });
    expect(dataset.numRows).toBe(3);
  });
});

describe('loadCsv: bad inputs end with a DatasetError naming file, line and column', () => {
  const cases: Array<[fixture: string, code: DatasetErrorCode, line: number | undefined, column: string | undefined]> = [
    ['not-a-number.csv', 'NOT_A_NUMBER', 3, 'V2'],
    ['ragged-short.csv', 'RAGGED_ROW', 4, 'Class'],
    ['ragged-long.csv', 'RAGGED_ROW', 3, undefined],
    ['label-not-binary.csv', 'LABEL_NOT_BINARY', 3, 'Class'],
    ['missing-label.csv', 'MISSING_LABEL_COLUMN', 1, 'Class'],
    ['duplicate-column.csv', 'DUPLICATE_COLUMN', 1, 'v1'],
    ['empty.csv', 'EMPTY_FILE', 1, undefined],
    ['header-only.csv', 'NO_ROWS', 2, undefined],
    ['nan-cell.csv', 'NON_FINITE', 3, 'Amount'],
    ['infinity-cell.csv', 'NON_FINITE', 3, 'Amount'],
    ['empty-cell.csv', 'EMPTY_CELL', 3, 'V1'],
    ['single-class.csv', 'SINGLE_CLASS', undefined, 'Class'],
    ['blank-line-inside.csv', 'RAGGED_ROW', 4, undefined],
    ['empty-column-name.csv', 'EMPTY_COLUMN_NAME', 1, undefined],
  ];

  it.each(cases)('%s -> %s', async (fixture, code, line, column) => {
    const path = join(fixtures, fixture);
    const error = await loadError(path, { minMinorityRows: 1 });
    expect(error.code).toBe(code);
    expect(error.file).toBe(path);
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
    expect(error.message).toContain(path);
    if (line !== undefined) expect(error.message).toContain(`line ${line}`);
    if (column !== undefined) expect(error.message).toContain(`"${column}"`);
  });

  it('rejects a minority class below minMinorityRows (default 10)', async () => {
    const rows = Array.from({ length: 100 }, (_, i) => `${i},${i < 9 ? 1 : 0}`);
    const path = tempCsv('few.csv', `x,Class\n${rows.join('\n')}\n`);
    const error = await loadError(path);
    expect(error.code).toBe('TOO_FEW_MINORITY');
    expect(error.column).toBe('Class');
    expect(error.message).toMatch(/only 9 rows have label 1 \(minimum 10/);
    await expect(loadCsv(path, { minMinorityRows: 9 })).resolves.toMatchObject({ numRows: 100 });
  });

  it('rejects values a 32-bit float cannot hold', async () => {
    const error = await loadError(tempCsv('overflow.csv', 'x,Class\n1,0\n1e39,1\n'), { minMinorityRows: 1 });
    expect(error).toMatchObject({ code: 'NON_FINITE', line: 3, column: 'x' });
  });

  it('rejects a non-numeric cell in the label column and a label of 0.5', async () => {
    const yes = await loadError(tempCsv('yes.csv', 'x,Class\n1,0\n2,yes\n'), { minMinorityRows: 1 });
    expect(yes).toMatchObject({ code: 'NOT_A_NUMBER', line: 3, column: 'Class' });
    const half = await loadError(tempCsv('half.csv', 'x,Class\n1,0\n2,0.5\n'), { minMinorityRows: 1 });
    expect(half).toMatchObject({ code: 'LABEL_NOT_BINARY', line: 3, column: 'Class' });
  });

  it('names the line of an error deep in a large file', async () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => (i === 31_337 ? `${i},1.5e,0` : `${i},${i / 7},${i % 50 === 0 ? 1 : 0}`));
    const error = await loadError(tempCsv('deep.csv', `id,x,Class\n${rows.join('\n')}\n`));
    expect(error).toMatchObject({ code: 'NOT_A_NUMBER', line: 31_339, column: 'x' });
  });

  it('reports a missing file as UNREADABLE with the cause', async () => {
    const path = join(dir, 'does-not-exist.csv');
    const error = await loadError(path);
    expect(error.code).toBe('UNREADABLE');
    expect(error.file).toBe(path);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('reports a requested feature column that is not in the header', async () => {
    const error = await loadError(join(fixtures, 'quirky-good.csv'), { featureColumns: ['V1', 'V9'], minMinorityRows: 1 });
    expect(error).toMatchObject({ code: 'MISSING_FEATURE_COLUMN', line: 1, column: 'V9' });
  });

  it('rejects bad options with a TypeError', async () => {
    await expect(loadCsv(join(fixtures, 'quirky-good.csv'), { minMinorityRows: -1 })).rejects.toThrow(TypeError);
    await expect(loadCsv(join(fixtures, 'quirky-good.csv'), { featureColumns: ['V1', 'class'], minMinorityRows: 1 })).rejects.toThrow(TypeError);
  });
});
