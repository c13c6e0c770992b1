export { DatasetError, type DatasetErrorCode, type DatasetErrorDetails } from './errors';
export {
  generateTransactions,
  generateTransactionsWithPatterns,
  CREDIT_CARD_FEATURES,
  CREDIT_CARD_LABEL,
  FRAUD_PATTERNS,
  MAX_TIME,
  type FraudPattern,
  type SyntheticOptions,
} from './synthetic';
export { loadCsv, writeCsv, formatFloat32, type LoadCsvOptions, type WriteCsvOptions } from './csv';
export { stratifiedSplit, subsetRows, datasetDigest, type SplitOptions } from './split';
export { checkDataset, checkTrainAndValidation, countPositives, type CheckDatasetOptions } from './validate';
export { createRandom, type SeededRandom } from './random';
