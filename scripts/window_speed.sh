#!/usr/bin/env bash
# Lookahead windows on a real loop (issue 12, part 2): experiments/forelimb_senses.toml (body, PD
# controller, event camera, skin, spindles: five engines) with the default one-step (1 ms) latency on
# every link, and with every link 5 ms late (the engines exchange every 5 ms), alternately, ROUNDS
# times each in one invocation. Prints the coupling time per simulated second (wall time of the
# lockstep rounds minus their slowest engine's compute), the real-time factor, the CPU time of all the
# run's processes beyond the engines' compute, and their ratios.
#
#   scripts/window_speed.sh [ROUNDS (3)] [DURATION_MS (8000)] [LABEL=BINARY ...]
#
# Without binaries it builds and measures this checkout's release build. With several (e.g. a build
# of an older commit against this one), it measures each in turn, round after round, in the same
# invocation, so that their figures share the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-8000}
shift $(($# < 2 ? $# : 2))
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
    cargo build --release -q -p neuroloop
    bins=("this=${CARGO_TARGET_DIR:-target}/release/neuroloop")
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
late=()
for i in 0 1 2 3 4 5; do late+=(--set "links[$i].delay_ms=5.0"); done
echo "forelimb_senses, ${duration} ms simulated per run, $rounds rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-10s %-10s %12s %14s %10s %16s\n' round binary latency "coupling s" "coupling s/s" "RT factor" "other CPU s/s"
for r in $(seq 1 "$rounds"); do
    for spec in "${bins[@]}"; do
        label=${spec%%=*}
        bin=${spec#*=}
        for mode in 1 5; do
            dir="$out/r$r-$label-$mode"
            args=(run experiments/forelimb_senses.toml -q --output "$dir" --set run.duration_ms="$duration")
            [ "$mode" = 5 ] && args+=("${late[@]}")
            # The CPU time of the coordinator and of its engines (its children, waited for).
            python3 - "$bin" "$dir" "${args[@]}" <<'PY'
import resource, subprocess, sys
bin, dir, *args = sys.argv[1:]
subprocess.run([bin, *args], stdout=subprocess.DEVNULL, check=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(dir + "/cpu_s", "w").write(str(u.ru_utime + u.ru_stime))
PY
            python3 - "$dir" "$duration" "$r" "$label" "$mode" <<'PY'
import json, sys
dir, duration, r, label, mode = sys.argv[1:]
m = json.load(open(dir + "/manifest.json"))
sim_s = float(duration) / 1000
other = float(open(dir + "/cpu_s").read()) - sum(e["compute_s"] for e in m["engines"])
print("%-8s %-10s %-10s %12.3f %14.3f %10.2f %16.3f" % (r, label, mode + " ms", m["coupling_s"],
      m["coupling_s"] / sim_s, m["realtime_factor"], other / sim_s))
open(dir + "/row", "w").write("%s %s %s %s %s\n" % (label, mode, m["coupling_s"], m["realtime_factor"], other / sim_s))
PY
        done
    done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
labels=()
for spec in "${bins[@]}"; do labels+=("${spec%%=*}"); done
cat "$out"/*/row | python3 -c '
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in sys.stdin:
    label, mode, c, rtf, other = line.split()
    rows[(label, mode)].append((float(c), float(rtf), float(other)))
for label in sys.argv[1:]:
    a, b = rows[(label, "1")], rows[(label, "5")]
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    print("%s: coupling time, 5 ms windows / 1 ms exchange: %.3f (sums; target <= 0.25); medians: coupling %.3f s / %.3f s,"
          " RT factor %.2fx / %.2fx, CPU beyond compute %.3f / %.3f s per simulated s"
          % (label, sum(x[0] for x in b) / sum(x[0] for x in a), med(b, 0), med(a, 0), med(b, 1), med(a, 1), med(b, 2), med(a, 2)))
' "${labels[@]}"
