/** What was wrong with a dataset; stable identifiers, never reused for another meaning. */
export type DatasetErrorCode =
  /** The file could not be opened or read (missing, a directory, no permission). */
  | 'UNREADABLE'
  /** The file has no header line. */
  | 'EMPTY_FILE'
  /** The file has a header but no data row. */
  | 'NO_ROWS'
  /** A header cell is empty. */
  | 'EMPTY_COLUMN_NAME'
  /** Two header cells name the same column (case-insensitively). */
  | 'DUPLICATE_COLUMN'
  /** The label column is not in the header. */
  | 'MISSING_LABEL_COLUMN'
  /** A requested feature column is not in the header. */
  | 'MISSING_FEATURE_COLUMN'
  /** A row has more or fewer cells than the header (a blank line in the middle counts). */
  | 'RAGGED_ROW'
  /** A cell is empty. */
  | 'EMPTY_CELL'
  /** A cell is not a number. */
  | 'NOT_A_NUMBER'
  /** A cell is NaN, Infinity, or too large for a 32-bit float. */
  | 'NON_FINITE'
  /** A label is neither 0 nor 1. */
  | 'LABEL_NOT_BINARY'
  /** All labels are the same class. */
  | 'SINGLE_CLASS'
  /** The minority class has fewer rows than required. */
  | 'TOO_FEW_MINORITY'
  /** A split part would get no row of a class. */
  | 'SPLIT_TOO_SMALL'
  /** The arrays of an in-memory dataset disagree (lengths, shapes, names). */
  | 'MALFORMED';

export interface DatasetErrorDetails {
  /** Path of the file, when the data came from one. */
  file?: string;
  /** 1-based line number (the header is line 1). */
  line?: number;
  /** Name of the offending column, as written in the header. */
  column?: string;
  cause?: unknown;
}

/**
 * Thrown by `loadCsv`, `checkDataset` and `stratifiedSplit` when the data cannot be trained on:
 * unreadable or malformed files, non-numeric or non-finite cells, non-binary labels, a missing
 * class. Bad data is not retryable: activities turn this into a non-retryable failure. The message
 * names the file, the line and the column where they apply, e.g.
 * `data.csv, line 17, column "V3": "abc" is not a number`.
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly file?: string;
  readonly line?: number;
  readonly column?: string;

  constructor(
    readonly code: DatasetErrorCode,
    problem: string,
    details: DatasetErrorDetails = {},
  ) {
    super(formatLocation(details) + problem, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.file !== undefined) this.file = details.file;
    if (details.line !== undefined) this.line = details.line;
    if (details.column !== undefined) this.column = details.column;
  }
}

function formatLocation({ file, line, column }: DatasetErrorDetails): string {
  const parts: string[] = [];
  if (file !== undefined) parts.push(file);
  if (line !== undefined) parts.push(`line ${line}`);
  if (column !== undefined) parts.push(`column ${JSON.stringify(column)}`);
  return parts.length > 0 ? `${parts.join(', ')}: ` : '';
}
