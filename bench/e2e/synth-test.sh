#!/usr/bin/env bash
# CTest respin-synth: the tiny preset imports with respin-translate and has
# the preset's config and shapes; the same seed gives the same bytes, another
# seed other bytes; an existing non-empty output is refused and left alone.
set -euo pipefail
bin=$1/bin
work=$2
rm -rf "$work"
mkdir -p "$work"
fail() { echo "synth-test: $*" >&2; exit 1; }

"$bin/respin-synth" -q --preset tiny --seed 7 -o "$work/a"
"$bin/respin-synth" -q --preset tiny --seed 7 -o "$work/b"
"$bin/respin-synth" -q --preset tiny --seed 8 -o "$work/c"
cmp "$work/a/model.safetensors" "$work/b/model.safetensors" || fail "same seed, other bytes"
cmp -s "$work/a/model.safetensors" "$work/c/model.safetensors" && fail "other seed, same bytes"
ls "$work" | grep -q tmp && fail "temporary directory left behind"

# Refusals: existing non-empty directory (untouched), unknown preset.
if "$bin/respin-synth" -q --preset tiny -o "$work/a" 2> "$work/err"; then fail "overwrote $work/a"; fi
grep -q "exists and is not empty" "$work/err" || fail "unclear refusal: $(cat "$work/err")"
cmp "$work/a/model.safetensors" "$work/b/model.safetensors" || fail "refused run changed $work/a"
if "$bin/respin-synth" -q --preset nope -o "$work/d" 2> "$work/err"; then fail "accepted a bad preset"; fi
grep -q "unknown preset 'nope'" "$work/err" || fail "unclear error: $(cat "$work/err")"
# An empty directory is replaced.
mkdir "$work/e"
"$bin/respin-synth" -q --preset tiny --layers 1 -o "$work/e"
[[ -f $work/e/model.safetensors ]] || fail "empty output directory not filled"

# Import: config and every shape.
"$bin/respin-translate" --import-hf "$work/a" --no-tokenizer -o "$work/a.mlir" 2> "$work/import.txt"
grep -q "llama model, 2 layers, dim 256, 21 tensors" "$work/import.txt" ||
  fail "import summary: $(cat "$work/import.txt")"
check() { grep -qF "$1" "$work/a.mlir" || fail "no '$1' in the imported IR"; }
check 'tfm.param "model.embed_tokens.weight" : tensor<512x256xbf16>'
check 'tfm.param "lm_head.weight" : tensor<512x256xbf16>'
for l in 0 1; do
  p="model.layers.$l"
  check "tfm.param \"$p.input_layernorm.weight\" : tensor<256xbf16>"
  check "tfm.param \"$p.self_attn.q_proj.weight\" : tensor<256x256xbf16>"
  check "tfm.param \"$p.self_attn.k_proj.weight\" : tensor<64x256xbf16>"
  check "tfm.param \"$p.self_attn.v_proj.weight\" : tensor<64x256xbf16>"
  check "tfm.param \"$p.self_attn.o_proj.weight\" : tensor<256x256xbf16>"
  check "tfm.param \"$p.post_attention_layernorm.weight\" : tensor<256xbf16>"
  check "tfm.param \"$p.mlp.gate_proj.weight\" : tensor<512x256xbf16>"
  check "tfm.param \"$p.mlp.up_proj.weight\" : tensor<512x256xbf16>"
  check "tfm.param \"$p.mlp.down_proj.weight\" : tensor<256x512xbf16>"
done
check 'tfm.param "model.norm.weight" : tensor<256xbf16>'
check 'num_heads = 8 : i64'
check 'num_heads = 2 : i64'
check 'head_dim = 32'
check 'theta = 1.000000e+04'
check 'epsilon = 1.000000e-05'
[[ $(grep -c 'tfm.rms_norm' "$work/a.mlir") -eq 5 ]] || fail "expected 5 RMSNorms"
echo "synth-test: ok"
