/**
 * The fraud area's error catalogue: a bad request or velocity snapshot (400), bad thresholds (400),
 * and a model file that is missing, malformed or built for another feature set (500).
 */
import { defineErrors } from '../../services/kit/errors.ts';

export const FraudErrors = defineErrors({
  FRAUD_INVALID_INPUT: { status: 400, message: 'Invalid fraud scoring input' },
  FRAUD_INVALID_THRESHOLDS: { status: 400, message: 'Invalid fraud thresholds' },
  FRAUD_MODEL_INVALID: { status: 500, message: 'Invalid fraud model file' },
});

export type FraudErrorCode = keyof typeof FraudErrors;
