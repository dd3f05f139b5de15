/**
 * Errors the engine reports to users. Each carries a stable code so the host can react (offer to pick
 * another file, retry on CPU, ...) and a message that names the file, tensor, shape or setting at fault.
 */
export type ErrorCode =
  | 'E_CHECKPOINT_MISSING'
  | 'E_CHECKPOINT_CORRUPT'
  | 'E_CHECKPOINT_TRUNCATED'
  | 'E_SHAPE_MISMATCH'
  | 'E_CONFIG'
  | 'E_BUDGET_INVALID'
  | 'E_PROFILE_INVALID'
  | 'E_PROFILE_MODEL_MISMATCH'
  | 'E_PROVIDER_UNKNOWN'
  | 'E_PROVIDER_FAILED'
  | 'E_RESOLUTION'
  | 'E_OOM'
  | 'E_CANCELLED'
  | 'E_TIMEOUT'
  | 'E_WORKER_CRASHED'
  | 'E_INVALID_REQUEST'
  | 'E_USAGE'
  | 'E_OUTPUT_PATH'
  | 'E_DISK_FULL'
  | 'E_CUDA_UNAVAILABLE'
  | 'E_DOWNLOAD_FAILED'
  | 'E_DOWNLOAD_CORRUPT'
  | 'E_INTERNAL';

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  detail?: string;
}

export class ScaleKVError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'ScaleKVError';
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

// onnxruntime's CPU allocator, std::bad_alloc, CUDA, and Dawn/Vulkan's device-memory failures
const OUT_OF_MEMORY = /out of memory|bad_alloc|Failed to allocate|\bOOM\b|OUT_OF_DEVICE_MEMORY|OutOfMemory|allocation failed/i;

export function isOutOfMemory(message: string): boolean {
  return OUT_OF_MEMORY.test(message);
}

export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof ScaleKVError) return e.toInfo();
  if (
    e &&
    typeof e === 'object' &&
    'code' in e &&
    'message' in e &&
    typeof (e as ErrorInfo).code === 'string' &&
    String((e as ErrorInfo).code).startsWith('E_')
  ) {
    return e as ErrorInfo;
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (isOutOfMemory(msg)) {
    return {
      code: 'E_OOM',
      message: `Out of memory: ${msg}. Try a smaller resolution, ScaleKV with a lower ratio, or precision fp16 on a GPU; the engine is ready for the next request.`,
      detail: e instanceof Error ? e.stack : undefined,
    };
  }
  return { code: 'E_INTERNAL', message: msg, detail: e instanceof Error ? e.stack : undefined };
}

export function cancelled(): ScaleKVError {
  return new ScaleKVError('E_CANCELLED', 'The run was cancelled.');
}
