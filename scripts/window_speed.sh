#!/usr/bin/env bash
# Lookahead windows on a real loop (issue 12, part 2): experiments/forelimb_senses.toml (body, PD
# controller, event camera, skin, spindles: five engines) with the default one-step (1 ms) latency on
# every link, and with every link 5 ms late (the engines exchange every 5 ms), alternately, ROUNDS
# times each in one invocation. Prints the coupling time per simulated second (wall time of the
# lockstep rounds minus their slowest engine's compute), the real-time factor, and their ratios.
#
#   scripts/window_speed.sh [ROUNDS (3)] [DURATION_MS (8000)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-8000}
cargo build --release -q -p neuroloop
bin=target/release/neuroloop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
late=()
for i in 0 1 2 3 4 5; do late+=(--set "links[$i].delay_ms=5.0"); done
echo "forelimb_senses, ${duration} ms simulated per run, $rounds rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-10s %12s %14s %10s\n' round latency "coupling s" "coupling s/s" "RT factor"
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1/manifest.json" "$2"; }
sum1=0; sum5=0
for r in $(seq 1 "$rounds"); do
    for mode in 1 5; do
        dir="$out/r$r-$mode"
        if [ "$mode" = 1 ]; then
            "$bin" run experiments/forelimb_senses.toml -q --output "$dir" --set run.duration_ms="$duration" >/dev/null
        else
            "$bin" run experiments/forelimb_senses.toml -q --output "$dir" --set run.duration_ms="$duration" "${late[@]}" >/dev/null
        fi
        c=$(field "$dir" coupling_s)
        rtf=$(field "$dir" realtime_factor)
        per=$(python3 -c "print($c / ($duration / 1000))")
        printf '%-8s %-10s %12.3f %14.3f %10.2f\n' "$r" "${mode} ms" "$c" "$per" "$rtf"
        if [ "$mode" = 1 ]; then sum1=$(python3 -c "print($sum1 + $c)"); else sum5=$(python3 -c "print($sum5 + $c)"); fi
    done
done
python3 -c "print('coupling time, 5 ms windows / 1 ms exchange: %.3f (target <= 0.25)' % ($sum5 / $sum1))"
