/**
 * The contract between the model store (`lib/model-store`), the serving API (`api/`) and the
 * `canaryDeployment` workflow's activities. Types only.
 *
 * Store layout under `MODEL_STORE_DIR`:
 * ```
 * champion/            the model set serving most traffic (a symlink to releases/<id>, swapped atomically)
 * canary/              the challenger set, present only during a canary deployment
 * releases/<id>/       immutable model-set directories; champion/ and canary/ point at one each
 *   manifest.json      ModelSetManifest
 *   <kind>/model.json  the model core's saved model (lib/ml/models.ts loadModel)
 *   <kind>/model.onnx  optional, the same model as ONNX
 * traffic_routing.json TrafficRouting
 * ```
 */
import type { FraudModel, ModelKind } from '../ml/types';

export const SLOTS = ['champion', 'canary'] as const;
export type Slot = (typeof SLOTS)[number];

/** One model of a set, as registered in MLflow. */
export interface ModelSetMember {
  kind: ModelKind;
  /** Registered model name, e.g. `fraud_detection_xgboost`. */
  registeredModel: string;
  /** MLflow model version (a decimal string, as MLflow returns it). */
  version: string;
  runId?: string;
  /** sha256 of `<kind>/model.json`, checked when loading. */
  sha256: string;
  /** Decision threshold chosen on the validation split at training time. */
  threshold?: number;
}

/** `manifest.json` of a model set. */
export interface ModelSetManifest {
  schemaVersion: 1;
  /** Release id: stable for the same member versions and files. */
  id: string;
  createdAt: string;
  members: ModelSetMember[];
  /** Ensemble weights by kind; missing kinds weigh 0. Normalised by the sum of present members. */
  weights: Partial<Record<ModelKind, number>>;
  /** Ensemble decision threshold on the weighted fraud score. */
  threshold: number;
}

/** `traffic_routing.json`. */
export interface TrafficRouting {
  schemaVersion: 1;
  /** Share of requests served by the canary, 0–100. */
  canaryPercent: number;
  /** Release ids the routing refers to; the API serves a slot only if its loaded release matches. */
  championRelease: string | null;
  canaryRelease: string | null;
  /** The canaryDeployment workflow id that wrote this, when one did. */
  deploymentId: string | null;
  updatedAt: string;
}

/** A model set loaded, smoke-tested and ready to score. */
export interface LoadedModelSet {
  slot: Slot;
  manifest: ModelSetManifest;
  /** Scores raw feature rows (row-major, manifest feature order) with every member. */
  predictMembers(features: Float32Array, numRows: number): Map<ModelKind, Float32Array>;
  /** The weighted ensemble fraud score per row. */
  predictEnsemble(features: Float32Array, numRows: number): Float32Array;
  featureNames: readonly string[];
  /** The member models themselves (for explanations). */
  readonly models: ReadonlyMap<ModelKind, FraudModel>;
  loadedAt: string;
}

/** A candidate the loader refused (corrupt, half-written, failed smoke test). */
export interface RejectedCandidate {
  slot: Slot;
  release: string | null;
  reason: string;
  at: string;
}

/** What the API reads from the live store. Implemented by lib/model-store's watcher. */
export interface ServingModels {
  champion(): LoadedModelSet | undefined;
  canary(): LoadedModelSet | undefined;
  /** 0 when there is no loaded canary matching the routing file. */
  canaryPercent(): number;
  routing(): TrafficRouting | undefined;
  rejected(): readonly RejectedCandidate[];
}

/** Live per-slot statistics the API keeps since a slot's release was loaded; read by the canary workflow. */
export interface SlotLiveStats {
  release: string | null;
  requests: number;
  errors: number;
  p50Ms: number;
  p95Ms: number;
  /** Counts of ensemble fraud scores in 20 equal bins over [0, 1]. */
  scoreHistogram: number[];
}

/** `GET /api/v1/admin/deployment` response. */
export interface DeploymentStatus {
  routing: TrafficRouting | null;
  champion: { release: string; members: ModelSetMember[]; loadedAt: string } | null;
  canary: { release: string; members: ModelSetMember[]; loadedAt: string } | null;
  live: { champion: SlotLiveStats; canary: SlotLiveStats };
  rejected: RejectedCandidate[];
}
