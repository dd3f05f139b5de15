#!/usr/bin/env bash
# The GPU call the seventh round could not make (this session had no device time left): keys padded to a
# multiple of 4 (the vec4 MatMul) against no padding, each its own process, 1M ScaleKV 10% then the full
# cache; then float16 parity against PyTorch float32 with the padding. NOT RUN YET. Usage, from the
# repository root on the GPU machine (see bench/gpu_setup.sh for what must be carried):
#   bash bench/gpu-round7/next-call.sh   # results under $OUT/r
set -u
source bench/gpu_setup.sh
mkdir -p "$OUT/r"
row() { # name env...
  local name=$1; shift
  echo "== $name $* $(date +%T)"
  env "$@" SCALEKV_BENCH_TIMELINE="$OUT/r/tl-$name" timeout 280 /tmp/node dist/cli.js bench --provider webgpu --config 2b-32 \
    --resolution 1M --repeats 2 --policy scalekv --ratio 0.1 --policy full --out "$OUT/r/$name.md" > "$OUT/r/$name.log" 2>&1
  echo "rc $? $(date +%T)"; grep -E "GPU peak|fused:" "$OUT/r/$name.log" | tail -4
}
row align4 SCALEKV_KEY_ALIGN=4
row align0 SCALEKV_KEY_ALIGN=0
echo "== parity $(date +%T)"
timeout 200 /tmp/node dist/cli.js export-case --config 2b-32 --resolution 1M --provider webgpu --runner fused --precision fp16 \
  --repeats 1 --out /tmp/case > "$OUT/r/case.log" 2>&1; echo "rc $?"
timeout 150 python3 bench/torch_infinity.py /tmp/case --repeats 1 > "$OUT/r/torch.log" 2>&1; echo "rc $?"
grep -E "maxAbs|max_abs|diff" "$OUT/r/torch.log" | head -20
