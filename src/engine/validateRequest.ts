/** Checks of a generation request that fail fast, before a model is loaded, with a sentence naming the field. */
import { scaleSchedule } from '../model/schedule';
import { ScaleKVError } from '../shared/errors';
import { checkRatio } from '../scalekv/officialRule';
import { POLICY_NAMES, type GenerateRequest } from '../shared/types';

export type SamplingFields = Pick<GenerateRequest, 'seed' | 'cfg' | 'tau' | 'topP' | 'topK' | 'aspectRatio' | 'resolution'>;

const bad = (m: string): never => {
  throw new ScaleKVError('E_INVALID_REQUEST', m);
};

/** seed, guidance, sampling and size; shared by generation and evaluation */
export function validateSampling(req: SamplingFields): void {
  if (!Number.isInteger(req.seed) || req.seed < 0) bad(`Seed must be a non-negative integer, got ${req.seed}.`);
  if (!(req.cfg > 0)) bad(`CFG scale must be positive, got ${req.cfg}.`);
  if (!(req.tau > 0)) bad(`Temperature tau must be positive, got ${req.tau}.`);
  if (!(req.topP >= 0 && req.topP <= 1)) bad(`top-p must be within [0, 1], got ${req.topP}.`);
  if (!(req.topK >= 0)) bad(`top-k must be >= 0, got ${req.topK}.`);
  scaleSchedule(req.aspectRatio, req.resolution); // E_RESOLUTION for impossible sizes
}

export function validateGenerate(req: GenerateRequest): void {
  if (!Array.isArray(req.prompts) || req.prompts.length === 0) bad('At least one prompt is needed.');
  if (req.prompts.some((p) => typeof p !== 'string' || !p.trim())) bad('Prompts must be non-empty text.');
  validateSampling(req);
  // policy name and ratio before the model loads: a typo should not cost a model load
  if (!req.policy || !POLICY_NAMES.includes(req.policy.name))
    bad(`Unknown policy '${req.policy?.name}'. Valid policies: ${POLICY_NAMES.join(', ')}.`);
  if (req.policy.ratio !== undefined) checkRatio(req.policy.ratio);
}
