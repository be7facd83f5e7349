#!/usr/bin/env bash
# The accuracy table of EVALUATION.md on the real stories260K model:
# perplexity on the evaluation text (243 windows of 512, 123,667 scored
# tokens) of FP32 and of W8A8KV8, W4A16, W4A8KV8, W4A4KV4, W3A3KV3 for
#   - no rotation, RTN weights / GPTQ weights
#   - QuaRot (random Hadamard R1 + online Hadamards on q/k and the down_proj
#     input), RTN weights / GPTQ weights.
# Weights: per output channel, symmetric, MSE clip search (norm 2.4); GPTQ on
# 128 windows x 512 tokens of the calibration text (seed 0), damping 1%,
# weights quantized before the activation quantizers are inserted (FP
# activations in the Hessians, earlier linears already quantized).
# Activations: per token, asymmetric, clip 1.0; o_proj input per head;
# KV cache asymmetric per token per head (keys after RoPE and the Hadamard).
#
# Usage: bench/accuracy/run.sh [build-dir] [data-dir] [work-dir]
# Prints every command it runs (stderr) and a markdown table (stdout).
set -euo pipefail
build=${1:-build}
data=${2:-../shared/data}
work=${3:-$(mktemp -d)}
mkdir -p "$work"
bin=$build/bin
eval_text=$data/text/tinystories-eval.txt
calib_text=$data/text/tinystories-calib.txt

say() { echo "+ $*" >&2; "$@"; }

ppl() {
  "$bin/respin-run" ppl --model "$1" --text "$eval_text" --json 2>/dev/null |
    sed -e 's/.*"ppl": \([0-9.]*\).*/\1/'
}

say "$bin/respin-translate" --import-gguf "$data/models/stories260K.gguf" -o "$work/fp32.mlir" 2>/dev/null
say "$bin/respin-opt" "$work/fp32.mlir" --tfm-fuse-norms \
    "--tfm-insert-rotations=mode=global init=random-hadamard seed=0 online-hadamard=both" \
    --tfm-fold-rotations -o "$work/quarot.mlir"

# Quantized weights, once per (rotation, method, bits).
for base in fp32 quarot; do
  for method in rtn gptq; do
    for wbits in 8 4 3; do
      options="bits=$wbits method=$method"
      if [ "$method" = gptq ]; then
        options="$options calib-file=$calib_text calib-samples=128 calib-seq-len=512 seed=0"
      fi
      say "$bin/respin-opt" "$work/$base.mlir" "--tfm-quantize-weights=$options report=$work/$base-$method-w$wbits.json" \
          -o "$work/$base-$method-w$wbits.mlir"
    done
  done
done

# setting: weight bits, activation bits, KV bits (16: float)
settings="W8A8KV8:8:8:8 W4A16:4:16:16 W4A8KV8:4:8:8 W4A4KV4:4:4:4 W3A3KV3:3:3:3"
fp32_ppl=$(ppl "$work/fp32.mlir")
rows=""
for base in fp32 quarot; do
  for method in rtn gptq; do
    row=""
    for setting in $settings; do
      IFS=: read -r name wbits abits kvbits <<< "$setting"
      model="$work/$base-$method-w$wbits.mlir"
      if [ "$abits" != 16 ] || [ "$kvbits" != 16 ]; then
        say "$bin/respin-opt" "$model" "--tfm-quantize-activations=bits=$abits kv-bits=$kvbits" \
            -o "$work/$base-$method-$name.mlir"
        model="$work/$base-$method-$name.mlir"
      fi
      value=$(ppl "$model")
      echo "$base $method $name $value" >&2
      row="$row | $value"
    done
    label="RTN (no rotation)"
    [ "$base" = quarot ] && label="QuaRot"
    rows="$rows| $label, ${method^^} weights$row |"$'\n'
  done
done

echo "| method | W8A8KV8 | W4A16 | W4A8KV8 | W4A4KV4 | W3A3KV3 |"
echo "|---|---|---|---|---|---|"
echo "| FP32 | $fp32_ppl | | | | |"
printf '%s' "$rows"
