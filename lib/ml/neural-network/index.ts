export { NeuralNetworkModel, type NeuralNetworkModelJSON, type NeuralNetworkTrainingInfo } from './model';
export { withDefaults as withNeuralNetworkDefaults, positiveClassWeight, ACTIVATIONS, type Activation, type ClassWeight, type NeuralNetworkOptions, type ResolvedNeuralNetworkOptions } from './options';
export { loadTf, tfBackendInfo, TfBackendUnavailableError, type Tf, type TfBackendInfo, type TfBackendName } from './tf-backend';
