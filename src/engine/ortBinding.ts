/**
 * Imported first by the engine process (worker.ts), before anything loads onnxruntime-node: when
 * SCALEKV_ORT_BINDING_DIR names a folder set up by "Install CUDA Provider" (cudaProvider.ts), the native
 * binding in that folder answers for the bundled one. onnxruntime-node's JavaScript stays the bundled
 * copy; only its `require` of bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node finds the other
 * binding already in Node's module cache (require.cache may be filled by hand, as Node documents). That
 * binding loads the libonnxruntime beside it, and onnxruntime then finds the CUDA provider libraries next
 * to that library. A folder that does not load leaves the bundled binding in place, and says why.
 */
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { BINDING_DIR_ENV } from './cudaProvider';

/** what happened to the override: the folder in use, or why it is not */
export const bindingOverride: { dir?: string; error?: string } = {};

function useBindingFolder(dir: string): void {
  const req = createRequire(__filename);
  const bundled = req.resolve(`onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`);
  if (req.cache[bundled]) throw new Error('onnxruntime-node was loaded before the CUDA provider folder could be chosen');
  const m = new Module(bundled);
  m.filename = bundled;
  m.exports = req(join(dir, 'onnxruntime_binding.node')) as unknown;
  m.loaded = true;
  req.cache[bundled] = m;
}

const dir = process.env[BINDING_DIR_ENV];
if (dir) {
  try {
    useBindingFolder(dir);
    bindingOverride.dir = dir;
  } catch (e) {
    bindingOverride.error = `${dir}: ${(e as Error).message.split('\n')[0]}`;
  }
}
