#!/usr/bin/env bash
# The learned-rotation accuracy table of stories260K: perplexity on the full
# evaluation text (EVALUATION.md protocol) of
#   RTN (no rotation), QuaRot (seed 0, best and worst of seeds 0..4),
#   SpinQuant (learned global R1 + head rotations), LayerWise-exact (learned
#   per-block bases, dense transitions online), ReSpinQuant-r (the same
#   learned bases, rank-r transitions with matching basis), r in
#   {0,2,4,8,16,32,64},
# in the columns FP32, W4A4KV4, W3A3KV3, W4A8KV8; GPTQ weights (per channel,
# symmetric, MSE clip search, 128 x 512 calibration tokens) quantized with
# the adapters/transitions already in the network, then the activation and
# KV quantizers. Rotations are learned per column at W16A<a>KV<a> on the
# calibration text only; the FP32 column is the float model of the W4A4KV4
# rotations. Learning wall time and peak RSS come from /usr/bin/time -v.
#
# Usage: bench/accuracy/learned.sh [build-dir] [data-dir] [work-dir]
# Prints every command (stderr), the markdown table (stdout), and writes
# <work-dir>/rank.png (needs python3-matplotlib) and <work-dir>/table.csv.
set -euo pipefail
build=${1:-build}
data=${2:-../shared/data}
work=${3:-$(mktemp -d)}
mkdir -p "$work"
bin=$build/bin
here=$(cd "$(dirname "$0")" && pwd)
eval_text=$data/text/tinystories-eval.txt
calib=$data/text/tinystories-calib.txt
learn_opts=${LEARN_OPTS:-"steps=100 batch=4 seq-len=256 samples=128 lr=1.5 lr-schedule=linear seed=0"}
gptq="method=gptq calib-file=$calib calib-samples=128 calib-seq-len=512 seed=0"
ranks="0 2 4 8 16 32 64"
settings="W4A4KV4:4:4 W3A3KV3:3:3 W4A8KV8:4:8"

say() { echo "+ $*" >&2; "$@"; }
opt() { say nice -n 5 "$bin/respin-opt" "$@" 2>>"$work/opt.log"; }
ppl() {
  nice -n 5 "$bin/respin-run" ppl --model "$1" --text "$eval_text" --json 2>/dev/null |
    sed -e 's/.*"ppl": \([0-9.]*\).*/\1/'
}
# quantized <float model> <name> <wbits> <abits>: GPTQ, then activations.
quantized() {
  opt "$1" "--tfm-quantize-weights=bits=$3 $gptq" -o "$work/$2-w$3.mlir"
  opt "$work/$2-w$3.mlir" "--tfm-quantize-activations=bits=$4 kv-bits=$4" -o "$work/$2-q.mlir"
  ppl "$work/$2-q.mlir"
}
# learned <input> <name> <mode> <abits>: learns, records wall time and RSS.
learned() {
  echo "+ /usr/bin/time -v respin-opt $1 --tfm-learn-rotations=mode=$3 a-bits=$4 kv-bits=$4 $learn_opts" >&2
  /usr/bin/time -v -o "$work/$2.time" nice -n 5 "$bin/respin-opt" "$1" \
    "--tfm-learn-rotations=mode=$3 calib-file=$calib a-bits=$4 kv-bits=$4 $learn_opts report=$work/$2.json" \
    -o "$work/$2.mlir" 2>"$work/$2.log"
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$2.time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$2.time")
  echo "$2 $wall $rss" >> "$work/learning.txt"
}

: > "$work/learning.txt"
say "$bin/respin-translate" --import-gguf "$data/models/stories260K.gguf" -o "$work/fp32.mlir" 2>/dev/null
global="--tfm-insert-rotations=mode=global init=random-hadamard seed=0 online-hadamard=both"
block="--tfm-insert-rotations=mode=per-block init=random-hadamard seed=0 online-hadamard=both"
# Norm fusion and rotations in one run: every model stays two archives deep.
opt "$work/fp32.mlir" --tfm-fuse-norms "$global" -o "$work/global.mlir"
opt "$work/fp32.mlir" --tfm-fuse-norms "$block" -o "$work/block.mlir"

declare -A cell
fp=$(ppl "$work/fp32.mlir")
cell[RTN,FP32]=$fp
for s in $settings; do
  IFS=: read -r name w a <<< "$s"
  cell[RTN,$name]=$(quantized "$work/fp32.mlir" "rtn-$name" "$w" "$a")
done

for seed in 0 1 2 3 4; do
  opt "$work/fp32.mlir" --tfm-fuse-norms "--tfm-insert-rotations=mode=global init=random-hadamard seed=$seed online-hadamard=both" \
      --tfm-fold-rotations -o "$work/quarot$seed.mlir"
  cell[QuaRot$seed,FP32]=$(ppl "$work/quarot$seed.mlir")
  for s in $settings; do
    IFS=: read -r name w a <<< "$s"
    cell[QuaRot$seed,$name]=$(quantized "$work/quarot$seed.mlir" "quarot$seed-$name" "$w" "$a")
  done
done

for s in $settings; do
  IFS=: read -r name w a <<< "$s"
  learned "$work/global.mlir" "spin-$name" global "$a"
  opt "$work/spin-$name.mlir" --tfm-fold-rotations -o "$work/spin-$name-f.mlir"
  [ "$name" = W4A4KV4 ] && cell[SpinQuant,FP32]=$(ppl "$work/spin-$name-f.mlir")
  cell[SpinQuant,$name]=$(quantized "$work/spin-$name-f.mlir" "spin-$name" "$w" "$a")

  learned "$work/block.mlir" "block-$name" per-block "$a"
  opt "$work/block-$name.mlir" --tfm-fold-rotations -o "$work/lw-$name-f.mlir"
  [ "$name" = W4A4KV4 ] && cell[LayerWise,FP32]=$(ppl "$work/lw-$name-f.mlir")
  cell[LayerWise,$name]=$(quantized "$work/lw-$name-f.mlir" "lw-$name" "$w" "$a")
  for r in $ranks; do
    opt "$work/block-$name.mlir" "--tfm-approximate-residual-rotations=rank=$r" --tfm-fold-rotations \
        -o "$work/rsq$r-$name-f.mlir"
    [ "$name" = W4A4KV4 ] && cell[ReSpin$r,FP32]=$(ppl "$work/rsq$r-$name-f.mlir")
    cell[ReSpin$r,$name]=$(quantized "$work/rsq$r-$name-f.mlir" "rsq$r-$name" "$w" "$a")
  done
done

# Best / worst QuaRot seed per column.
for col in W4A4KV4 W3A3KV3 W4A8KV8; do
  vals=$(for seed in 0 1 2 3 4; do echo "${cell[QuaRot$seed,$col]} $seed"; done | sort -g)
  cell[QuaRotBest,$col]=$(echo "$vals" | head -1 | awk '{print $1 " (seed " $2 ")"}')
  cell[QuaRotWorst,$col]=$(echo "$vals" | tail -1 | awk '{print $1 " (seed " $2 ")"}')
done
timeof() { # learning wall time and peak RSS of the rows learned per column
  local out="" s
  for s in W4A4KV4 W3A3KV3 W4A8KV8; do
    out="$out$(awk -v n="$1-$s" '$1 == n {printf "%s, %.0f MB; ", $2, $3 / 1024}' "$work/learning.txt")"
  done
  echo "${out%; }"
}
row() { # label key learning
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "${cell[$2,FP32]:-}" "${cell[$2,W4A4KV4]}" \
    "${cell[$2,W3A3KV3]}" "${cell[$2,W4A8KV8]}" "$3"
}
echo "| method (GPTQ weights) | FP32 | W4A4KV4 | W3A3KV3 | W4A8KV8 | learning wall time, peak RSS (W4A4 / W3A3 / W4A8 runs) |"
echo "|---|---|---|---|---|---|"
row "RTN (no rotation)" RTN ""
row "QuaRot, seed 0" QuaRot0 ""
printf '| QuaRot, best of 5 seeds | | %s | %s | %s | |\n' "${cell[QuaRotBest,W4A4KV4]}" "${cell[QuaRotBest,W3A3KV3]}" "${cell[QuaRotBest,W4A8KV8]}"
printf '| QuaRot, worst of 5 seeds | | %s | %s | %s | |\n' "${cell[QuaRotWorst,W4A4KV4]}" "${cell[QuaRotWorst,W3A3KV3]}" "${cell[QuaRotWorst,W4A8KV8]}"
row SpinQuant SpinQuant "$(timeof spin)"
row LayerWise-exact LayerWise "$(timeof block)"
for r in $ranks; do
  row "ReSpinQuant-r$r" "ReSpin$r" "(the LayerWise bases)"
done

{
  echo "rank,W4A4KV4,W3A3KV3,W4A8KV8"
  for r in $ranks; do echo "$r,${cell[ReSpin$r,W4A4KV4]},${cell[ReSpin$r,W3A3KV3]},${cell[ReSpin$r,W4A8KV8]}"; done
  echo "spinquant,${cell[SpinQuant,W4A4KV4]},${cell[SpinQuant,W3A3KV3]},${cell[SpinQuant,W4A8KV8]}"
  echo "layerwise,${cell[LayerWise,W4A4KV4]},${cell[LayerWise,W3A3KV3]},${cell[LayerWise,W4A8KV8]}"
} > "$work/table.csv"
# Debian's matplotlib lives in the system python (not a pyenv one).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if "$py" -c "import matplotlib" 2>/dev/null; then
  "$py" "$here/plot_rank.py" "$work/table.csv" "$work/rank.png"
else
  echo "plot skipped: it needs matplotlib (apt-get install -y python3-matplotlib)" >&2
fi
