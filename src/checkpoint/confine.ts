/**
 * Keeps the files a model folder names (shards in an *.index.json, parts in manifest.json) inside that
 * folder: a hostile index must not make ScaleKV open /etc/passwd, a device, or another user's files.
 * Checked twice: lexically (no absolute paths, no '..' out of the folder) and after resolving symbolic
 * links. The one exception is the Hugging Face hub cache, whose snapshots/<rev>/ files are links into
 * the repository's blobs/ folder: there the repository folder (models--org--name) is the boundary.
 */
import { ScaleKVError } from '../shared/errors';
import { realOrSelf, resolveInside } from '../shared/files';

/** The folder links may lead into: the folder itself, or the hub repository folder around a snapshot. */
function linkBoundary(folder: string): string {
  const real = realOrSelf(folder);
  const m = /^(.*[\\/]models--[^\\/]+)[\\/]snapshots[\\/][^\\/]+$/.exec(real);
  return m ? m[1] : real;
}

/**
 * The path `name` (as written in `source`) inside `folder`, or an E_CHECKPOINT_CORRUPT error that says
 * which entry points where. A path that does not exist yet is returned for the caller to report missing.
 */
export function confinedPath(folder: string, name: unknown, source: string, what: string): string {
  const r = resolveInside(folder, name, linkBoundary(folder));
  if ('path' in r) return r.path;
  if (r.why === 'is not a file name') {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${source} names the ${what} as ${JSON.stringify(name)}, which is not a file name.`);
  }
  throw new ScaleKVError(
    'E_CHECKPOINT_CORRUPT',
    `${source} names the ${what} '${String(name)}', which ${r.why}; files a model names must lie inside its folder ${folder}.`,
  );
}
