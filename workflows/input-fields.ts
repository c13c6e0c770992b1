/**
 * Field checks shared by the workflows' input parsers: each names the bad field and fails the
 * workflow at once with a non-retryable `InvalidWorkflowInput` (the same input would fail again).
 * Pure and deterministic: runs inside workflows.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { ModelKind } from '../lib/ml/types';

export const TRAINABLE_MODELS = ['xgboost', 'random_forest', 'neural_network', 'isolation_forest'] as const satisfies readonly ModelKind[];

export interface SyntheticDatasetInput {
  source?: 'synthetic';
  /** @default 284807 */
  rows?: number;
  /** @default 42 */
  seed?: number;
  /** @default 0.00172 (the public data's 492 / 284,807) */
  fraudRate?: number;
}

export interface CsvDatasetInput {
  source: 'csv';
  /** A path the workers can read (a shared volume when they run on several hosts). */
  path: string;
  /** @default 'Class' */
  labelColumn?: string;
}

export type DatasetSpec = Required<SyntheticDatasetInput> | Required<CsvDatasetInput>;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The checks, with messages that start `invalid <workflow> input:`. */
export function inputFields(workflow: string) {
  function invalid(field: string, problem: string): never {
    throw ApplicationFailure.nonRetryable(`invalid ${workflow} input: ${field} ${problem}`, 'InvalidWorkflowInput', { field });
  }

  function checkKeys(value: Record<string, unknown>, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) invalid(path ? `${path}.${key}` : key, `is not a known field (expected one of: ${allowed.join(', ')})`);
    }
  }

  function num(value: unknown, field: string, fallback: number, check: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean }): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) invalid(field, `must be a number, got ${JSON.stringify(value)}`);
    if (check.integer && !Number.isInteger(value)) invalid(field, `must be an integer, got ${value}`);
    if (check.min !== undefined && (check.exclusiveMin ? value <= check.min : value < check.min)) invalid(field, `must be ${check.exclusiveMin ? '>' : '≥'} ${check.min}, got ${value}`);
    if (check.max !== undefined && value > check.max) invalid(field, `must be ≤ ${check.max}, got ${value}`);
    return value;
  }

  function str(value: unknown, field: string, fallback: string): string {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value.trim() === '') invalid(field, `must be a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  }

  function bool(value: unknown, field: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') invalid(field, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  function parseDataset(raw: unknown, field = 'dataset', defaults: Required<Omit<SyntheticDatasetInput, 'source'>> = { rows: 284_807, seed: 42, fraudRate: 0.00172 }): DatasetSpec {
    if (raw === undefined) raw = {};
    if (!isObject(raw)) invalid(field, 'must be an object');
    if (raw.source === 'csv') {
      checkKeys(raw, field, ['source', 'path', 'labelColumn']);
      if (raw.path === undefined) invalid(`${field}.path`, `is required when ${field}.source is "csv"`);
      return { source: 'csv', path: str(raw.path, `${field}.path`, ''), labelColumn: str(raw.labelColumn, `${field}.labelColumn`, 'Class') };
    }
    if (raw.source !== undefined && raw.source !== 'synthetic') invalid(`${field}.source`, `must be "synthetic" or "csv", got ${JSON.stringify(raw.source)}`);
    checkKeys(raw, field, ['source', 'rows', 'seed', 'fraudRate']);
    return {
      source: 'synthetic',
      rows: num(raw.rows, `${field}.rows`, defaults.rows, { min: 1000, max: 50_000_000, integer: true }),
      seed: num(raw.seed, `${field}.seed`, defaults.seed, { min: 0, max: 2 ** 32 - 1, integer: true }),
      fraudRate: num(raw.fraudRate, `${field}.fraudRate`, defaults.fraudRate, { min: 0, max: 0.5, exclusiveMin: true }),
    };
  }

  function parseModels(raw: unknown): ModelKind[] {
    if (raw === undefined) return [...TRAINABLE_MODELS];
    if (!Array.isArray(raw) || raw.length === 0) invalid('models', `must be a non-empty list of ${TRAINABLE_MODELS.join(', ')}`);
    const seen = new Set<ModelKind>();
    raw.forEach((m, i) => {
      if (!(TRAINABLE_MODELS as readonly unknown[]).includes(m)) invalid(`models[${i}]`, `must be one of ${TRAINABLE_MODELS.join(', ')}, got ${JSON.stringify(m)}`);
      if (seen.has(m as ModelKind)) invalid(`models[${i}]`, `repeats ${String(m)}`);
      seen.add(m as ModelKind);
    });
    return [...seen];
  }

  return { invalid, isObject, checkKeys, num, str, bool, parseDataset, parseModels };
}
