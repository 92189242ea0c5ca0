#!/usr/bin/env bash
# The closed-loop experiments in full, over several seeds, with their expected results checked by
# `neuroloop check`; prints one table at the end. Long: each 250-trial session is ~420 s simulated.
#
#   scripts/experiments.sh [SEEDS...]        # default seeds 1 2 3 4 5
#
# Runs, per seed: experiments/joystick_reward_learning.toml; then the no-reward control (the reward
# link given a zero gain: no dopamine pulse ever reaches the brain) for the first seed. Run folders go
# under runs/experiments/. The CI versions (shortened) are in tests/closed_loop.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3 4 5)
cargo build --release -q -p neuroloop
bin=target/release/neuroloop
out=runs/experiments
mkdir -p "$out"
table=()
run_one() { # label, extra args...
    local label=$1
    shift
    local dir="$out/$label"
    rm -rf "$dir"
    local t0=$SECONDS
    "$bin" run experiments/joystick_reward_learning.toml --quiet --output "$dir" "$@" || true
    local wall=$((SECONDS - t0))
    local lines
    lines=$("$bin" check "$dir" 2>&1 || true)
    echo "$lines"
    local first late curve
    first=$(grep -m1 "first 30 trials" <<<"$lines" | sed -E 's/^[A-Z]+ +[^:]+: ([^ ]+).*/\1/')
    late=$(grep -m1 "trials 200-250" <<<"$lines" | sed -E 's/^[A-Z]+ +[^:]+: ([^ ]+).*/\1/')
    curve=$(grep -m1 "learning curve" <<<"$lines" | sed -E 's/.*: //')
    table+=("$(printf '%-12s %-10s %-10s %6ss  %s' "$label" "${first:-?}" "${late:-?}" "$wall" "$curve")")
}
for s in "${seeds[@]}"; do
    run_one "seed$s" --set run.seed="$s"
done
run_one "control_seed${seeds[0]}" --set run.seed="${seeds[0]}" \
    --set 'links[2].transfer={ kind = "linear", gain = 0.0 }'
echo
echo "joystick_reward_learning (expected: first 30 < 0.2, trials 200-250 >= 0.7 in >= 4 of 5 seeds; control < 0.2)"
printf '%-12s %-10s %-10s %7s  %s\n' run "first 30" "200-250" wall "success per 25 trials"
printf '%s\n' "${table[@]}"
