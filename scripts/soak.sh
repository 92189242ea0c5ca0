#!/usr/bin/env bash
# Soak test: one long closed-loop run (the flagship, brain + body, by default one hour simulated) with
# the resident memory (RSS) of the coordinator and of every engine process sampled every minute of
# wall time; at the end the run is checked for completeness (every step recorded, manifest ok) and a
# table of RSS per sample is printed. Memory should stay flat: per-step statistics are bounded and
# recordings are flushed to part files.
#
#   scripts/soak.sh                      # 3,600,000 ms simulated (about 17-20 min of wall time alone)
#   SIM_MS=600000 SAMPLE_S=30 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sim_ms="${SIM_MS:-3600000}"
sample_s="${SAMPLE_S:-60}"
cargo build --release -q -p neuroloop
out="runs/soak-$(date -u +%Y%m%dT%H%M%S)"
id="soak$$"
# The flagship's task has 250 trials (about 420 s); a soak needs a session that lasts: 100000 trials.
target/release/neuroloop run experiments/joystick_reward_learning.toml --quiet --output "$out" --run-id "$id" \
    --set run.duration_ms="$sim_ms" --set engines.body.config.task.baseline_trials=100000 \
    >"$out.log" 2>&1 &
coord=$!
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
printf '%8s  %12s  %s\n' wall_s coordinator_kB "engines kB (pid: rss)"
t0=$SECONDS
while kill -0 "$coord" 2>/dev/null; do
    engines=""
    for p in $(grep -l "NEUROLOOP_RUN_ID=$id" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
        [ "$p" = "$coord" ] && continue
        engines="$engines $p:$(rss_kb "$p")"
    done
    printf '%8d  %12s %s\n' $((SECONDS - t0)) "$(rss_kb "$coord")" "$engines"
    for _ in $(seq "$sample_s"); do kill -0 "$coord" 2>/dev/null || break; sleep 1; done
done
wait "$coord" && status=0 || status=$?
echo "exit status $status; run folder $out"
scripts/setup_python.sh >/dev/null 2>&1
.venv/bin/python - "$out" "$sim_ms" <<'PY'
import sys
import neuroloop as nl
run = nl.read_run(sys.argv[1])
m, expected = run.manifest, int(float(sys.argv[2]))
rows = len(run.recording("body.joystick_position_mm"))
print(f"manifest: {m['exit_status']}, {m['steps']} of {expected} steps, {m['realtime_factor']:.2f}x real time, "
      f"coupling p50 {m['coupling_overhead_p50_us']:.0f} us; body.joystick_position_mm: {rows} rows "
      f"({'complete' if rows == expected + 1 else 'ROWS MISSING'})")
PY
