/**
 * The names the project gives to what it puts in MLflow, as in the seed system: one place for the
 * pipeline that creates them and the tools that look them up.
 */
import type { ModelKind } from './ml/types';

/** The registered model of a kind, e.g. `fraud_detection_xgboost`. */
export const registeredModelName = (kind: ModelKind): string => `fraud_detection_${kind}`;

/** The child run of a kind under the pipeline's parent run, e.g. `register_xgboost`. */
export const modelRunName = (kind: ModelKind): string => `register_${kind}`;
