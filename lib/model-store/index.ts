/**
 * The model store: immutable releases of model sets, the champion/canary slots pointing at them
 * and the traffic routing file (layout in `lib/serving/contract.ts`). The writer side serves the
 * canaryDeployment activities, the loader and watcher the serving API.
 */
export * from './errors';
export { SCHEMA_VERSION, ModelSetManifestSchema, ModelSetMemberSchema, TrafficRoutingSchema, checkManifest, checkRouting, parseManifest, parseRouting } from './schema';
export { computeReleaseId, sha256Hex, RELEASE_ID_PATTERN, ROUTING_FILE, MANIFEST_FILE } from './layout';
export {
  DEFAULT_ENSEMBLE_WEIGHTS,
  writeRelease,
  pointSlot,
  readSlot,
  writeRouting,
  readRouting,
  promoteCanary,
  pruneReleases,
  type ReleaseMemberInput,
  type WriteReleaseInput,
  type WriteReleaseOptions,
  type RoutingUpdate,
  type PromoteCanaryOptions,
  type PruneOptions,
  type PruneResult,
} from './writer';
export { loadModelSet, loadRelease, readManifest, resolveSlot, createLoadedModelSet, type LoadModelSetOptions, type ResolvedSlot } from './loader';
export { smokeFeatures, SMOKE_ROWS } from './smoke';
export { ModelStoreWatcher, type ModelStoreWatcherOptions, type SwapEvent, type SlotMismatch } from './watcher';
export { chooseSlot, routingBucket, fnv1a32, ROUTING_BUCKETS } from './routing';
