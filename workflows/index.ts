// Every workflow a worker serves is exported here: the worker bundles this file.
export { stackSmoke } from './smoke';
export { trainingPipeline, progressQuery } from './training-pipeline';
export { canaryDeployment, statusQuery, approveSignal, abortSignal } from './canary-deployment';
