/** The full cache: never evicts (the reference every other policy is measured against). */
import type { KvPolicy } from '../../kvcache/policy';

export function fullPolicy(): KvPolicy {
  return {
    name: 'full',
    reset() {},
    needs: () => ({ windowQueries: null, queryMode: 'code', colsum: false }),
    select: () => null,
  };
}
