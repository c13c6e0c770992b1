export { runSimulator, withDefaults as simulatorDefaults, type SimulatorOptions } from './simulator';
export { runSimulateCli, parseSimulateArgs, formatStatusLine, formatSummary, SIMULATE_USAGE, type SimulateArgs, type SimulateCliIo } from './cli';
export { SimulatorConfigError } from './errors';
export { runOpenLoop, type OpenLoopOptions, type OpenLoopResult } from './open-loop';
export { LatencyHistogram, type LatencySummary } from './latency';
export { StatsAccumulator, type ServedBy, type SimulatorReport, type SimulatorStats } from './stats';
export { TransactionSource, chunkSeed, type SimTransaction, type TransactionSourceOptions } from './transactions';
