#!/usr/bin/env bash
# Exactness of the rotation passes and the outlier statistics on the real
# stories260K model. Usage: bench/rotations/run.sh [build-dir] [data-dir]
# Prints markdown tables (pasted into bench/RESULTS.md).
set -euo pipefail
build=${1:-build}
data=${2:-../shared/data}
bin=$build/bin
eval_text=$data/text/tinystories-eval.txt
calib_text=$data/text/tinystories-calib.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin/respin-translate" --import-gguf "$data/models/stories260K.gguf" -o "$work/m.mlir" 2>/dev/null
base_ppl=$("$bin/respin-run" ppl --model "$work/m.mlir" --text "$eval_text" --json 2>/dev/null |
           sed -e 's/.*"ppl": \([0-9.]*\).*/\1/')

echo "| pipeline | max abs dlogit / max abs logit (8 windows) | PPL (full eval text) |"
echo "|---|---|---|"
echo "| imported FP32 | 0 | $base_ppl |"
run() {
  local name=$1; shift
  "$bin/respin-opt" "$work/m.mlir" "$@" -o "$work/$name.mlir"
  local cmp ppl
  cmp=$("$bin/respin-run" compare --model "$work/$name.mlir" --reference "$work/m.mlir" \
          --text "$eval_text" --windows 8 | sed -n -e '1s/.* = \([^ ]*\) .*/\1/p')
  ppl=$("$bin/respin-run" ppl --model "$work/$name.mlir" --text "$eval_text" --json 2>/dev/null |
        sed -e 's/.*"ppl": \([0-9.]*\).*/\1/')
  echo "| \`$*\` | $cmp | $ppl |"
}
run fused --tfm-fuse-norms
run global_none --tfm-fuse-norms "--tfm-insert-rotations=mode=global online-hadamard=none" --tfm-fold-rotations
run global_both --tfm-fuse-norms "--tfm-insert-rotations=mode=global online-hadamard=both" --tfm-fold-rotations
run block_dense --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=random-orthogonal" --tfm-fold-rotations
for r in 0 2 32 64; do
  run block_r$r --tfm-fuse-norms "--tfm-insert-rotations=mode=per-block init=random-orthogonal" \
      "--tfm-approximate-residual-rotations=rank=$r" --tfm-fold-rotations
done

echo
echo "Kurtosis and max/RMS of each linear's input (calibration text, 8 windows of 512):"
echo
"$bin/respin-opt" "$work/m.mlir" --tfm-fuse-norms -o "$work/fused.mlir"
"$bin/respin-opt" "$work/fused.mlir" "--tfm-insert-rotations=mode=global init=random-hadamard online-hadamard=both" \
    --tfm-fold-rotations -o "$work/quarot.mlir"
"$bin/respin-run" stats --model "$work/fused.mlir" --text "$calib_text" > "$work/before.txt"
"$bin/respin-run" stats --model "$work/quarot.mlir" --text "$calib_text" > "$work/after.txt"
echo "| input of | kurtosis before | after | max/RMS before | after |"
echo "|---|---|---|---|---|"
paste -d'|' <(tail -n +2 "$work/before.txt") <(tail -n +2 "$work/after.txt") |
  awk -F'|' '{ split($1, b, " "); split($2, a, " ");
               name = b[3]; sub(/model\./, "", name); sub(/\.weight,?$/, "", name);
               extra = (b[4] != "") ? " (+k,v)" : "";
               if (name ~ /gate_proj/) extra = " (+up)";
               printf "| %s%s | %s | %s | %s | %s |\n", name, extra, b[1], a[1], b[2], a[2] }'
