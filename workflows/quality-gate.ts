/** The promotion rule of trainingPipeline: pure, so the workflow decides it and its history records why. */
import type { ModelKind } from '../lib/ml/types';
import type { TrainingPlan } from './training-input';

export interface GateInput {
  kind: ModelKind;
  prAuc: number;
  recall: number;
  /** The current Production version of the same model, if any. */
  production: { version: string; prAuc: number } | null;
}

export interface GateDecision {
  passed: boolean;
  /** Every rule that failed, in words; empty when passed. */
  reasons: string[];
}

export function qualityGate(input: GateInput, gate: TrainingPlan['qualityGate']): GateDecision {
  const floors = { minPrAuc: gate.minPrAuc, minRecall: gate.minRecall, ...gate.perModel?.[input.kind] };
  const reasons: string[] = [];
  if (input.prAuc < floors.minPrAuc) reasons.push(`test PR-AUC ${input.prAuc.toFixed(4)} is below the floor ${floors.minPrAuc}`);
  if (input.recall < floors.minRecall) reasons.push(`test recall ${input.recall.toFixed(4)} at the chosen threshold is below the floor ${floors.minRecall}`);
  if (input.production && input.prAuc < input.production.prAuc - gate.maxPrAucDrop) {
    reasons.push(
      `test PR-AUC ${input.prAuc.toFixed(4)} is more than ${gate.maxPrAucDrop} below Production version ${input.production.version} (${input.production.prAuc.toFixed(4)})`,
    );
  }
  return { passed: reasons.length === 0, reasons };
}
