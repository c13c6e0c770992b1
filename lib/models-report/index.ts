/**
 * "Where are the models?" as a command (`npm run models`): MLflow runs and artifacts, registry
 * versions, the model store's slots and what the serving API has loaded, with the seed document's
 * diagnostics as checks. Gathering does the I/O once; checks, summary and rendering are pure.
 */
export * from './types';
export { ModelsCliUsageError } from './errors';
export { withDefaults, parseModelsArgs, MODELS_USAGE, type ModelsReportOptions, type ResolvedReportOptions, type ModelsCliArgs } from './options';
export {
  DEFAULT_EXPERIMENT,
  REQUIRED_MODEL_FILES,
  REPORTED_VERSION_TAGS,
  REPORTED_RUN_METRICS,
  CHAMPION_ALIAS,
  artifactPathOnDisk,
  localArtifactRoot,
  modelRunName,
  registeredModelName,
} from './locations';
export { gatherModelsReport, deployedVersions, markLoadedByApi, type GatherDeps } from './gather';
export { gatherStore } from './gather-store';
export { gatherApi, findAdminToken, type AdminToken } from './gather-api';
export { gatherMlflow, type MlflowGatherInput, type MlflowGatherResult } from './gather-mlflow';
export { pyfuncLoadAll, type PyfuncOptions } from './pyfunc';
export { checkModelsReport, failedChecks } from './checks';
export { locationSummary } from './summary';
export { renderReport, renderChecks, formatTable, visibleLength, painter, type RenderOptions, type Paint } from './render';
export { formatBytes, formatTime } from './format';
export { runModelsCli, useColor, type ModelsCliIo } from './cli';
