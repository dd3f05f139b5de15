/** The full cache: never evicts (the reference every other policy is measured against). */
import type { KvPolicy } from '../../kvcache/policy';
import { NOTHING_NEEDED } from './common';

export function fullPolicy(): KvPolicy {
  return {
    name: 'full',
    reset() {},
    needs: () => NOTHING_NEEDED(),
    select: () => null,
    staticSelection: () => null,
  };
}
