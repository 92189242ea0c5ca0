#!/usr/bin/env bash
# The closed-loop experiments in full, over several seeds, with their expected results checked by
# `neuroloop check`; prints one table per experiment at the end. Long: each 250-trial session is
# 400-420 s simulated (3-4 min of wall time each, two sessions at once: the whole script takes ~30 min
# on 2 cores).
#
#   scripts/experiments.sh [SEEDS...]        # default seeds 1 2 3 4 5
#   ONLY=reward scripts/experiments.sh       # or ONLY=force_field, ONLY=visuo_tactile: one experiment
#   ONLY=nocue scripts/experiments.sh        # reward learning without the go cue (not in ONLY=all)
#   NEUROLOOP_BIN=path/to/neuroloop scripts/experiments.sh   # that binary, no build
#
# Per seed: experiments/joystick_reward_learning.toml (saving the learned weights), then
# experiments/joystick_reward_reload.toml (those weights, plasticity off, 50 trials, no reward); for
# the first seed the no-reward control (the reward link given a zero gain: no dopamine pulse ever
# reaches the brain) and the ablation of the senses (its learned weights reloaded with the
# proprioceptive code silenced: the proprioception link's tuning curves at 0 Hz). Then force-field adaptation (experiments/force_field_adaptation.toml, with S1
# silenced during the force field and from its middle) for the first three seeds. Then visuo-tactile
# integration (experiments/visuo_tactile_integration.toml, with noise on proprioception and with the
# camera occluded; 20 s each) for the first three seeds. Run folders go under runs/experiments/. The
# CI versions are tests/closed_loop.rs, tests/force_field.rs (shortened) and tests/visuo_tactile.rs
# (seed 1).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3 4 5)
# NEUROLOOP_BIN: a neuroloop binary to use as it is (no build).
bin=${NEUROLOOP_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release -q -p neuroloop
    bin=${CARGO_TARGET_DIR:-target}/release/neuroloop
fi
out=runs/experiments
mkdir -p "$out"

# value LABEL EXPECT-NAME-FRAGMENT: the measured value of one expectation, from its check output.
value() { grep -m1 "$2" "$out/$1.check" | sed -E 's/.*: ([^ ]+) \((no bound|[<>]=).*/\1/' || true; }
# num X: X with two decimals ("?" if it is not a number).
num() { LC_ALL=C printf '%.2f' "$1" 2>/dev/null || echo "?"; }
verdict() { grep -m1 "$2" "$out/$1.check" | awk '{print $1}' || true; }

session() { # LABEL FILE ARGS...: one run and its check
    local label=$1 file=$2
    shift 2
    rm -rf "${out:?}/$label"
    local t0=$SECONDS
    "$bin" run "$file" --quiet --output "$out/$label" "$@" >"$out/$label.log" 2>&1 || true
    echo $((SECONDS - t0)) >"$out/$label.wall"
    "$bin" check "$out/$label" >"$out/$label.check" 2>&1 || true
}

run_jobs() { # the "LABEL FILE SEED" lines of the array jobs, two sessions at a time
    local pids=() j label file s
    for j in "${jobs[@]}"; do
        read -r label file s <<<"$j"
        session "$label" "$file" --set run.seed="$s" &
        pids+=($!)
        if [ ${#pids[@]} -eq 2 ]; then
            wait "${pids[@]}"
            pids=()
        fi
    done
    if [ ${#pids[@]} -gt 0 ]; then wait "${pids[@]}"; fi
}

learn_and_reload() { # SEED
    local s=$1
    session "seed$s" experiments/joystick_reward_learning.toml --set run.seed="$s" \
        --set engines.brain.config.checkpoint_file="$PWD/$out/seed$s.ckpt"
    session "reload$s" experiments/joystick_reward_reload.toml --set run.seed="$s" \
        --set engines.brain.config.restore_file="$PWD/$out/seed$s.ckpt"
}

only=${ONLY:-all}
if [ "$only" = nocue ]; then
# Reward learning without the go cue (branch brain10k-nocue; joystick_reward_learning.md, "Without the
# go cue"): per seed the learning run and its reload with plasticity off, then the control without
# dopamine for the first seed. Not part of ONLY=all.
pids=()
for s in "${seeds[@]}"; do
    (
        session "nocue$s" experiments/joystick_reward_nocue.toml --set run.seed="$s" \
            --set engines.brain.config.checkpoint_file="$PWD/$out/nocue$s.ckpt"
        session "nocue_reload$s" experiments/joystick_reward_nocue_reload.toml --set run.seed="$s" \
            --set engines.brain.config.restore_file="$PWD/$out/nocue$s.ckpt"
    ) &
    pids+=($!)
    if [ ${#pids[@]} -eq 2 ]; then
        wait "${pids[@]}"
        pids=()
    fi
done
session "nocue_control$((seeds[0]))" experiments/joystick_reward_nocue.toml --set run.seed="${seeds[0]}" \
    --set 'links[1].transfer={ kind = "linear", gain = 0.0 }' &
pids+=($!)
wait "${pids[@]}"
echo "joystick_reward_nocue (no go cue): expected first 30 trials < 0.2 and trials 200-250 >= 0.7 in at"
echo "least 4 of 5 seeds; reloaded with plasticity off >= 0.7; control without reward < 0.2"
printf '%-15s %-9s %-9s %-9s %6s  %s\n' run "first 30" "200-250" reload wall "success per 25 trials"
met=0
for s in "${seeds[@]}" control; do
    l="nocue$s" r="nocue_reload$s"
    [ "$s" = control ] && l="nocue_control$((seeds[0]))" r=""
    if [ "$(verdict "$l" "first 30 trials")" = PASS ] && [ "$(verdict "$l" "trials 200-250")" = PASS ] && [ "$s" != control ]; then
        met=$((met + 1))
    fi
    rl=-
    [ -n "$r" ] && rl=$(num "$(value "$r" "reloaded")")
    printf '%-15s %-9s %-9s %-9s %5ss  %s\n' "$l" "$(num "$(value "$l" "first 30 trials")")" \
        "$(num "$(value "$l" "trials 200-250")")" "$rl" "$(cat "$out/$l.wall")" \
        "$(grep -m1 "learning curve" "$out/$l.check" | sed -E 's/.*: //' || true)"
done
echo "seeds meeting both learning bounds: $met of ${#seeds[@]}"
exit 0
fi
if [ "$only" = all ] || [ "$only" = reward ]; then
# Two sessions at a time (each engine process is single-threaded here).
pids=()
for s in "${seeds[@]}"; do
    learn_and_reload "$s" &
    pids+=($!)
    if [ ${#pids[@]} -eq 2 ]; then
        wait "${pids[@]}"
        pids=()
    fi
done
session "control$((seeds[0]))" experiments/joystick_reward_learning.toml --set run.seed="${seeds[0]}" \
    --set 'links[2].transfer={ kind = "linear", gain = 0.0 }' &
pids+=($!)
session "ablation$((seeds[0]))" experiments/joystick_reward_reload.toml --set run.seed="${seeds[0]}" \
    --set engines.brain.config.restore_file="$PWD/$out/seed$((seeds[0])).ckpt" \
    --set 'links[3].transfer[1].max_hz=0.0' &
pids+=($!)
wait "${pids[@]}"

echo "joystick_reward_learning: expected first 30 trials < 0.2 and trials 200-250 >= 0.7 in at least 4 of"
echo "5 seeds; the weights reloaded with plasticity off >= 0.7 (50 trials); control without reward < 0.2;"
echo "the ablation (learned weights, proprioception silenced) is expected to fail"
printf '%-10s %-9s %-9s %-9s %6s  %s\n' run "first 30" "200-250" reload wall "success per 25 trials"
met=0
for s in "${seeds[@]}"; do
    first=$(value "seed$s" "first 30 trials")
    late=$(value "seed$s" "trials 200-250")
    reload=$(value "reload$s" "reloaded")
    curve=$(grep -m1 "learning curve" "$out/seed$s.check" | sed -E 's/.*: //' || true)
    if [ "$(verdict "seed$s" "first 30 trials")" = PASS ] && [ "$(verdict "seed$s" "trials 200-250")" = PASS ]; then
        met=$((met + 1))
    fi
    printf '%-10s %-9s %-9s %-9s %5ss  %s\n' "seed$s" "$(num "$first")" "$(num "$late")" "$(num "$reload")" \
        "$(cat "$out/seed$s.wall")" "$curve"
done
c="control$((seeds[0]))"
printf '%-10s %-9s %-9s %-9s %5ss  %s\n' "$c" "$(num "$(value "$c" "first 30 trials")")" \
    "$(num "$(value "$c" "trials 200-250")")" - "$(cat "$out/$c.wall")" \
    "$(grep -m1 "learning curve" "$out/$c.check" | sed -E 's/.*: //' || true)"
a="ablation$((seeds[0]))"
printf '%-10s %-9s %-9s %-9s %5ss  %s\n' "$a" - - "$(num "$(value "$a" "reloaded")")" "$(cat "$out/$a.wall")" \
    "reloaded, proprioception silenced: $(grep -m1 "learning curve" "$out/$a.check" | sed -E 's/.*: //' || true)"
echo "seeds meeting both learning bounds: $met of ${#seeds[@]}"
for s in "${seeds[@]}"; do grep -m1 '^speed' "$out/seed$s/summary.txt" | sed "s/^/seed$s /" || true; done
fi
[ "$only" = reward ] && exit 0

if [ "$only" = all ] || [ "$only" = force_field ]; then
# Force-field adaptation: feedback and silenced for the first three seeds, late silencing for the first.
ff_seeds=("${seeds[@]:0:3}")
jobs=()
for s in "${ff_seeds[@]}"; do
    jobs+=("ff$s experiments/force_field_adaptation.toml $s" "silenced$s experiments/force_field_silenced.toml $s")
done
jobs+=("late${seeds[0]} experiments/force_field_silenced_late.toml ${seeds[0]}")
run_jobs

echo
echo "force_field_adaptation: lateral displacement (mm) at the 1 mm bin per block (paper: +0.03, -1.28,"
echo "-1.16, -1.00, +0.61, +0.38); checked: adapted ratio <= 0.7 with feedback, >= 0.9 silenced during"
echo "the force field, <= 0.7 silenced from trial 126; after-effect ratio <= -0.1 with feedback"
printf '%-11s %-7s %-7s %-7s %-7s %-7s %-7s %-8s %-6s %6s\n' run 66-75 76-85 116-125 166-175 176-185 241-250 ratio verdict wall
for j in "${jobs[@]}"; do
    read -r label file s <<<"$j"
    row=()
    for b in "trials 66-75" "trials 76-85" "trials 116-125" "trials 166-175" "trials 176-185" "trials 241-250"; do
        row+=("$(num "$(value "$label" "$b: lateral")")")
    done
    ratio=$(grep -m1 "|trials 166-175| / |trials 76-85|" "$out/$label.check" | sed -E 's/.*baseline: ([^ ]+) .*/\1/' || true)
    ok=PASS
    grep -q '^FAIL' "$out/$label.check" && ok=FAIL
    printf '%-11s %-7s %-7s %-7s %-7s %-7s %-7s %-8s %-6s %5ss\n' "$label" "${row[@]}" "$(num "$ratio")" "$ok" \
        "$(cat "$out/$label.wall")"
done
fi
[ "$only" = force_field ] && exit 0

# Visuo-tactile integration: the three conditions for the first three seeds.
vt_seeds=("${seeds[@]:0:3}")
jobs=()
for s in "${vt_seeds[@]}"; do
    jobs+=("vt$s experiments/visuo_tactile_integration.toml $s" "vtnoise$s experiments/visuo_tactile_noise.toml $s"
        "vtocc$s experiments/visuo_tactile_occluded.toml $s")
done
run_jobs

echo
echo "visuo_tactile_integration: RMS errors (mm) of the position decoded in 50 ms windows while the arm"
echo "moves; checked: combined <= 0.85 x the best single sense; with proprioception's code at a quarter"
echo "of its rate, its measured weight within 0.1 of the inverse-variance prediction; occluded camera:"
echo "combined within 10 % of touch + proprioception"
printf '%-9s %-7s %-7s %-7s %-8s %-9s %-9s %-8s %-6s %6s
' run vision proprio touch combined "w(P) meas" "w(P) pred" "M/S occl" verdict wall
for s in "${vt_seeds[@]}"; do
    for label in "vt$s" "vtnoise$s"; do
        ok=PASS
        grep -q '^FAIL\|^ERROR' "$out/$label.check" && ok=FAIL
        printf '%-9s %-7s %-7s %-7s %-8s %-9s %-9s %-8s %-6s %5ss\n' "$label" \
            "$(num "$(value "$label" "vision alone")")" "$(num "$(value "$label" "proprioception alone")")" \
            "$(num "$(value "$label" "touch alone")")" "$(num "$(value "$label" "combined: RMS")")" \
            "$(num "$(value "$label" "proprioception's weight, measured")")" \
            "$(num "$(value "$label" "proprioception's weight, predicted")")" - "$ok" "$(cat "$out/$label.wall")"
    done
    label="vtocc$s"
    ok=PASS
    grep -q '^FAIL\|^ERROR' "$out/$label.check" && ok=FAIL
    ratio=$(grep -m1 "combined / touch + proprioception" "$out/$label.check" | sed -E 's/.*RMS error: ([^ ]+) .*/\1/' || true)
    printf '%-9s %-7s %-7s %-7s %-8s %-9s %-9s %-8s %-6s %5ss\n' "$label" - \
        "$(num "$(value "$label" "proprioception: RMS")")" "$(num "$(value "$label" "touch: RMS")")" \
        "$(num "$(value "$label" "combined (M): RMS")")" - - "$(num "$ratio")" "$ok" "$(cat "$out/$label.wall")"
done
