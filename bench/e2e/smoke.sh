#!/usr/bin/env bash
# CTest bench-e2e-smoke: run.sh on the tiny preset, one repetition;
# passes when every variant ran and the table was printed.
# No timing is asserted, and it does not wait for idle CPUs.
set -euo pipefail
build=$1
work=$2
rm -rf "$work"
out=$(NO_WAIT=1 IDLE_WAIT=0 "$(dirname "$0")/run.sh" "$build" tiny "$work" 1)
echo "$out"
grep -q '^| variant | pp tok/s | tg tok/s' <<<"$out"
for name in "float (F32 weights)" "W4A8KV8 RTN" "QuaRot W4A4KV4" \
            "per-block r32 W4A4KV4" "per-block dense W4A4KV4"; do
  grep -qF "| $name |" <<<"$out" || { echo "smoke: no row for $name" >&2; exit 1; }
done
grep -q 'decode overhead of rank-32 adapters over global rotation' <<<"$out"
grep -q 'decode overhead of dense transitions over global rotation' <<<"$out"
echo "smoke: ok"
