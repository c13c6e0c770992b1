export { IsolationForestModel, type IsolationForestModelJSON, type IsolationForestTrainingInfo } from './model';
export { withDefaults as withIsolationForestDefaults, CALIBRATIONS, type Calibration, type IsolationForestOptions, type ResolvedIsolationForestOptions } from './options';
export { PlattCalibrator, IsotonicCalibrator, loadCalibration, type CalibrationJSON, type ScoreCalibrator } from './calibration';
export { averagePathLength } from './forest';
