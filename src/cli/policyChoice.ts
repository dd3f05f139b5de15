/** Which policies a CLI run uses, given --policy and --profile (see the generate and compare help). */
import { DEFAULTS } from '../shared/defaults';
import { ScaleKVError } from '../shared/errors';
import { PROFILE_POLICIES, usesProfile } from '../shared/requests';
import { POLICY_NAMES, type PolicyName } from '../shared/types';
import { has, list, str, type ParsedArgs } from './args';

/**
 * The policy a generate runs: --policy, or scalekv when only --profile is given, or the default. A
 * profile given to a policy that cannot read it is refused rather than silently ignored.
 */
export function generatePolicyName(a: ParsedArgs): PolicyName {
  const named = str(a, 'policy') as PolicyName | undefined;
  if (!has(a, 'profile')) return named ?? DEFAULTS.policy;
  if (!named) return 'scalekv';
  if (!usesProfile(named))
    throw new ScaleKVError(
      'E_USAGE',
      `--profile is read only by --policy ${PROFILE_POLICIES.join(' or ')}; --policy ${named} does not use a profile. Drop one of them.`,
    );
  return named;
}

export function comparePolicyNames(a: ParsedArgs): PolicyName[] {
  const names = list(a, 'policy').length ? (list(a, 'policy') as PolicyName[]) : POLICY_NAMES.filter((p) => p !== 'full');
  if (has(a, 'profile') && !names.some(usesProfile)) {
    throw new ScaleKVError(
      'E_USAGE',
      `--profile is read only by ${PROFILE_POLICIES.join(' and ')}, and none of the compared policies (${names.join(', ')}) is one.`,
    );
  }
  return names;
}
