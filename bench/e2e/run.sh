#!/usr/bin/env bash
# End-to-end speed of compiled models on a synthetic checkpoint with real
# LLaMA shapes (weight values do not change speed):
#
#   bench/e2e/run.sh <build-dir> <preset> <work-dir> [reps]
#
# 1. respin-synth --preset <preset> -o <work-dir>/checkpoint (reused when
#    present; --layers from $LAYERS);
# 2. respin-compile --emit=shared of five variants, each timed with
#    /usr/bin/time -v (wall time, peak RSS):
#      float     no quantization
#      w4a8kv8   tfm-quantize-weights{bits=4},tfm-quantize-activations{bits=8 kv-bits=8}
#      quarot    W4A4KV4, global random-Hadamard R1 + online Hadamards (QuaRot)
#      rank32    W4A4KV4, per-block bases, rank-32 residual adapters
#      dense     W4A4KV4, per-block bases, dense transitions
#    Every quantized variant also gets its lm_head as W8A8 (8-bit weights,
#    8-bit per-token activations: the runtime's integer linear needs both);
#    the embedding stays float (one row is read per token).
# 3. respin-model-bench on each (pp512, tg128, load time, peak RSS, the
#    machine's read bandwidth and VNNI peak measured in the same process;
#    the float build is the --reference for the integer op count);
# 4. one table: tok/s, ratios against float and against the global rotation
#    (adapter and dense-transition decode overhead), and the targets.
#
# Before each compile and benchmark it waits for idle CPUs (IDLE_WAIT
# seconds at most, default 900; NO_WAIT=1 skips the wait before compiles).
# Environment: THREADS (default: all), LAYERS (override the preset's layer
# count), WQ_OPTS (see below), REUSE_BENCH=1 (keep a variant's earlier
# bench.json), VARIANTS (subset, e.g. "float quarot rank32"), PP/TG (512/128).
# Progress goes to stderr; the table to stdout (and <work-dir>/table.txt).
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
  echo "usage: $0 <build-dir> <preset> <work-dir> [reps]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
preset=$2
mkdir -p "$3"
work=$(cd "$3" && pwd)
reps=${4:-3}
threads=${THREADS:-$(nproc)}
pp=${PP:-512}
tg=${TG:-128}
variants=${VARIANTS:-"float w4a8kv8 quarot rank32 dense"}
bin=$build/bin
bench=$build/bench/e2e/respin-model-bench
for tool in "$bin/respin-synth" "$bin/respin-compile" "$bench"; do
  [[ -x $tool ]] || { echo "$0: $tool is not built" >&2; exit 1; }
done
log() { echo "[e2e $(date +%H:%M:%S)] $*" >&2; }

# Waits (at most $IDLE_WAIT s, default 900) until the CPUs were more than 85%
# idle over 3 s, so a compile or test of someone else's does not land in a
# timing; says so when it gives up.
busy_note=""
wait_idle() {
  local deadline=$(( $(date +%s) + ${IDLE_WAIT:-900} )) idle
  while :; do
    idle=$(awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat
           sleep 3
           awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
    idle=$(awk 'NR == 1 {i = $1; t = $2} NR == 2 {printf "%d", 100 * ($1 - i) / ($2 - t)}' <<<"$idle")
    (( idle >= 85 )) && return 0
    if (( $(date +%s) >= deadline )); then
      log "machine still busy ($idle% idle); measuring anyway"
      busy_note="$busy_note $1"
      return 0
    fi
    log "machine busy ($idle% idle), waiting before $1"
    sleep 20
  done
}

# WQ_OPTS: extra tfm-quantize-weights options, e.g. "clip-search=false": the
# MSE clip search only changes weight values (not the code or the byte
# layout, so not the speed) and costs most of a real-size compile.
wq=${WQ_OPTS:+ $WQ_OPTS}
lm_head='tfm-quantize-weights{bits=8 linears=lm_head'"$wq"'},tfm-quantize-activations{bits=8 linears=lm_head}'
w4a4='tfm-quantize-weights{bits=4'"$wq"'},tfm-quantize-activations{bits=4 kv-bits=4}'
pipeline() {
  case $1 in
    float) echo "" ;;
    w4a8kv8) echo "tfm-quantize-weights{bits=4$wq},tfm-quantize-activations{bits=8 kv-bits=8},$lm_head" ;;
    quarot) echo "tfm-fuse-norms,tfm-insert-rotations{mode=global online-hadamard=both},tfm-fold-rotations,$w4a4,$lm_head" ;;
    rank32) echo "tfm-fuse-norms,tfm-insert-rotations{mode=per-block online-hadamard=both},tfm-approximate-residual-rotations{rank=32},tfm-fold-rotations,$w4a4,$lm_head" ;;
    dense) echo "tfm-fuse-norms,tfm-insert-rotations{mode=per-block online-hadamard=both},tfm-fold-rotations,$w4a4,$lm_head" ;;
    *) echo "$0: unknown variant '$1'" >&2; exit 2 ;;
  esac
}

# 1. Checkpoint.
ckpt=$work/checkpoint
if [[ -f $ckpt/config.json && -f $ckpt/model.safetensors ]]; then
  log "reusing $ckpt"
else
  log "respin-synth --preset $preset ${LAYERS:+--layers $LAYERS} -o $ckpt"
  "$bin/respin-synth" --preset "$preset" ${LAYERS:+--layers "$LAYERS"} -o "$ckpt" >&2
fi

# 2. Compile (float first: the reference for the integer op counts).
case " $variants " in *" float "*) ;; *) variants="float $variants" ;; esac
for v in $variants; do
  dir=$work/$v
  mkdir -p "$dir"
  if [[ -f $dir/$v.so && -f $dir/$v.weights.safetensors && -f $dir/compile.time ]]; then
    log "reusing $dir/$v.so"
    continue
  fi
  passes=$(pipeline "$v")
  [[ -n ${NO_WAIT:-} ]] || wait_idle "compile-$v"
  log "compiling $v: --passes='$passes'"
  rm -f "$dir/$v.so" "$dir/$v.h" "$dir/$v.weights.safetensors"
  /usr/bin/time -v -o "$dir/compile.time" \
    "$bin/respin-compile" "$ckpt" -o "$dir/$v.so" --emit=shared --name "$v" \
    --passes="$passes" -q 2> "$dir/compile.log" ||
    { cat "$dir/compile.log" >&2; echo "$0: compiling $v failed" >&2; exit 1; }
  log "compiled $v: $(grep -E 'Elapsed' "$dir/compile.time" | sed 's/.*: //') wall," \
      "$(grep -E 'Maximum resident' "$dir/compile.time" | sed 's/.*: //') KB peak RSS"
done

# 3. Benchmarks, one at a time.
for v in $variants; do
  dir=$work/$v
  if [[ -n ${REUSE_BENCH:-} && -f $dir/bench.json && $dir/bench.json -nt $dir/$v.so ]]; then
    log "reusing $dir/bench.json (REUSE_BENCH)"
    continue
  fi
  wait_idle "$v"
  log "benchmarking $v ($threads threads, $reps reps)"
  "$bench" --model "$dir/$v.so" --name "$v" --weights "$dir/$v.weights.safetensors" \
    --threads "$threads" --reps "$reps" --pp "$pp" --tg "$tg" \
    --reference "$work/float/float.so" --reference-name float \
    --label "$v" --json "$dir/bench.json" > "$dir/bench.txt"
  cat "$dir/bench.txt" >&2
done

# 4. Table.
[[ -z $busy_note ]] || log "WARNING: measured on a busy machine:$busy_note"
BUSY="$busy_note" python3 - "$work" "$preset" $variants <<'EOF' | tee "$work/table.txt"
import json, os, re, sys
work, preset, variants = sys.argv[1], sys.argv[2], sys.argv[3:]
names = {"float": "float (F32 weights)", "w4a8kv8": "W4A8KV8 RTN",
         "quarot": "QuaRot W4A4KV4", "rank32": "per-block r32 W4A4KV4",
         "dense": "per-block dense W4A4KV4"}
rows = {}
for v in variants:
    r = json.load(open(f"{work}/{v}/bench.json"))
    t = open(f"{work}/{v}/compile.time").read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", t).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    r["compile_s"], r["compile_rss_gb"] = secs, rss * 1024 / 1e9
    rows[v] = r
f = rows["float"]
print(f"End-to-end speed, preset {preset}: {f['threads']} threads, "
      f"{f['reps']} reps (medians), pp{f['pp']} / tg{f['tg']} after a "
      f"{f['prompt']}-token prompt")
print("machine limits per run: read GB/s " +
      ", ".join(f"{v} {rows[v]['read_gb_s']:.1f}" for v in variants) +
      "; VNNI GOP/s " + ", ".join(f"{v} {rows[v]['vnni_gop_s']:.0f}" for v in variants))
hdr = ("variant", "pp tok/s", "tg tok/s", "pp/float", "tg/float", "MB/tok",
       "tg roofl.", "pp VNNI", "load ms", "RSS GB", "RSS/(W+S)", "W GB",
       "compile s", "compile GB")
print("| " + " | ".join(hdr) + " |")
print("|" + "|".join("---" for _ in hdr) + "|")
for v in variants:
    r = rows[v]
    ratio = lambda x: f"{x:.3f}" if x > 0 else "-"
    cells = (names.get(v, v), f"{r['pp_tok_s']:.2f}", f"{r['tg_tok_s']:.2f}",
             f"{r['pp_tok_s'] / f['pp_tok_s']:.2f}",
             f"{r['tg_tok_s'] / f['tg_tok_s']:.2f}",
             f"{r['decode_bytes_per_token'] / 1e6:.1f}",
             ratio(r["decode_roofline_ratio"]), ratio(r["prefill_vnni_ratio"]),
             f"{r['load_ms']:.1f}", f"{r['peak_rss_bytes'] / 1e9:.3f}",
             f"{r['peak_rss_bytes'] / (r['weights_bytes'] + r['state_bytes']):.2f}",
             f"{r['weights_bytes'] / 1e9:.3f}", f"{r['compile_s']:.1f}",
             f"{r['compile_rss_gb']:.2f}")
    print("| " + " | ".join(cells) + " |")
print()
if "quarot" in rows:
    g = rows["quarot"]
    for v, what in (("rank32", "rank-32 adapters"), ("dense", "dense transitions")):
        if v in rows:
            r = rows[v]
            print(f"decode overhead of {what} over global rotation: "
                  f"{g['tg_tok_s'] / r['tg_tok_s'] - 1:+.1%} "
                  f"(prefill {g['pp_tok_s'] / r['pp_tok_s'] - 1:+.1%})")
print()
if os.environ.get("BUSY"):
    print("WARNING: the machine was busy during:" + os.environ["BUSY"])
print("targets: decode >= 0.75 of roofline, prefill >= 0.35 of VNNI "
      "peak, load < 1 s, peak RSS <= 1.2 x (weights + KV/workspace state)")
for v in variants:
    r = rows[v]
    ok = lambda c: "met" if c else "MISSED"
    rss = r["peak_rss_bytes"] / (r["weights_bytes"] + r["state_bytes"])
    pre = (f"prefill {r['prefill_vnni_ratio']:.3f} {ok(r['prefill_vnni_ratio'] >= 0.35)}"
           if r["prefill_vnni_ratio"] > 0 else "prefill n/a (no integer linears)")
    print(f"  {v:8s} decode {r['decode_roofline_ratio']:.3f} "
          f"{ok(r['decode_roofline_ratio'] >= 0.75)}; {pre}; "
          f"load {r['load_ms']:.0f} ms {ok(r['load_ms'] < 1000)}; "
          f"RSS {rss:.2f} {ok(rss <= 1.2)}")
EOF
