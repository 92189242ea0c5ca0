#!/usr/bin/env bash
# Benchmarks 1 and 2 of /work/shared/reference/brain.md side by side: neuroloop-brain's examples and NEST
# 3.10 (bridges/nest/*.py) on the same network, one after the other, then a table.
#
#   benches/brain_vs_nest.sh                    # Brunel (2000): scale 1 (12,500 neurons, 15.6 M synapses), 2 threads, 1 s
#   benches/brain_vs_nest.sh --scale 0.5 --threads 2 --sim-ms 1000 --seed 1
#   benches/brain_vs_nest.sh --network microcircuit --scale 0.25   # Potjans & Diesmann (2014): 19,292 neurons, 74.7 M synapses
#
# Brunel: both print one JSON line with the same keys (build_s, sim_s, peak_rss_mb, rate_e_hz, rate_i_hz,
# cv_isi_e, n_neurons, n_synapses); the table shows them and NEST/neuroloop ratios of the times and the
# differences of the statistics (rate: relative to NEST, in %; CV: absolute).
# --network microcircuit (default scale 0.25) runs NEST (bridges/nest/microcircuit.py) first, then the
# `microcircuit` example (keys build_s, sim_s, peak_rss_mb, rates_hz, n_neurons, n_synapses) and shows
# build s, sim s, peak MB with NEST/neuroloop ratios, and the 8 population rates with their differences;
# both sides first simulate --presim-ms (default 500, as NEST's example) without counting it.
# Needs NEST in .venv (scripts/setup_nest.sh). The Rust example is built first (cargo build --release; in
# CARGO_TARGET_DIR if set), so compile time is not measured. Timings are wall clock: run it on an otherwise
# idle machine. BRAIN_VS_NEST_RUST_CMD=<command> replaces the Rust example by another command printing
# such a JSON line (used to test this script).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

network=brunel
scale=
threads=2
sim_ms=1000
seed=1
presim_ms=500
while [ $# -gt 0 ]; do
    case "$1" in
        --network) network="$2"; shift 2 ;;
        --scale) scale="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --sim-ms) sim_ms="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --presim-ms) presim_ms="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (use --network brunel|microcircuit --scale S --threads T --sim-ms MS --seed N)" >&2; exit 2 ;;
    esac
done
case "$network" in
    brunel) scale="${scale:-1}" ;;
    microcircuit) scale="${scale:-0.25}" ;;
    *) echo "--network: unknown network '$network' (use brunel or microcircuit)" >&2; exit 2 ;;
esac

py="$root/.venv/bin/python"
if ! PYNEST_QUIET=1 "$py" -c 'import nest' >/dev/null 2>&1; then
    echo "error: NEST is not importable from $py: run scripts/setup_nest.sh" >&2
    exit 1
fi

args=(--scale "$scale" --threads "$threads" --sim-ms "$sim_ms" --seed "$seed")

if [ "$network" = microcircuit ]; then
    # NEST's example leaves out a 500 ms start-up transient (t_presim); so do both sides here.
    args+=(--presim-ms "$presim_ms")
    # Benchmark 2: NEST first, then neuroloop (built before anything is timed).
    if [ -z "${BRAIN_VS_NEST_RUST_CMD:-}" ]; then
        echo "building the Rust example (cargo build --release -p neuroloop-brain --example microcircuit) ..." >&2
        cargo build --release -p neuroloop-brain --example microcircuit >&2
    fi
    echo "running NEST: bridges/nest/microcircuit.py ${args[*]} ..." >&2
    nest_json="$("$py" bridges/nest/microcircuit.py "${args[@]}" | tail -n 1)"
    echo "$nest_json" >&2
    if [ -n "${BRAIN_VS_NEST_RUST_CMD:-}" ]; then
        echo "running neuroloop stand-in: $BRAIN_VS_NEST_RUST_CMD ${args[*]} ..." >&2
        rust_json="$($BRAIN_VS_NEST_RUST_CMD "${args[@]}" | tail -n 1)"
    else
        echo "running neuroloop: microcircuit ${args[*]} ..." >&2
        rust_json="$(cargo run --quiet --release -p neuroloop-brain --example microcircuit -- "${args[@]}" | tail -n 1)"
    fi
    echo "$rust_json" >&2
    RUST_JSON="$rust_json" NEST_JSON="$nest_json" SIM_MS="$sim_ms" SEED="$seed" "$py" - <<'EOF'
import json
import os

r = json.loads(os.environ["RUST_JSON"])
n = json.loads(os.environ["NEST_JSON"])
pops = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


def f(v, fmt):
    return "-" if v is None else format(v, fmt)


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


rr, nr = r.get("rates_hz") or [], n.get("rates_hz") or []
rows = [
    ("neurons", r.get("n_neurons"), n.get("n_neurons"), "d", "count"),
    ("synapses (recurrent)", r.get("n_synapses"), n.get("n_synapses"), "d", "count"),
    ("build s", r.get("build_s"), n.get("build_s"), ".3f", "cost"),
    ("sim s", r.get("sim_s"), n.get("sim_s"), ".3f", "cost"),
    (
        "build + sim s",
        None if r.get("build_s") is None or r.get("sim_s") is None else r["build_s"] + r["sim_s"],
        None if n.get("build_s") is None or n.get("sim_s") is None else n["build_s"] + n["sim_s"],
        ".3f",
        "cost",
    ),
    ("peak MB", r.get("peak_rss_mb"), n.get("peak_rss_mb"), ".1f", "cost"),
]
for i, p in enumerate(pops):
    rows.append((f"rate {p} Hz", rr[i] if i < len(rr) else None, nr[i] if i < len(nr) else None, ".3f", "rate"))
name_w = max(len(row[0]) for row in rows)
print(
    f"Potjans & Diesmann (2014) microcircuit, scale {r.get('scale', n.get('scale'))}, {n.get('threads')} threads, "
    f"{os.environ['SIM_MS']} ms of network time, seed {os.environ['SEED']}"
)
head = f"{'':<{name_w}}  {'neuroloop':>12}  {'NEST':>12}  {'NEST/neuroloop':>14}  {'difference':>12}"
print(head)
print("-" * len(head))
rel = []
for label, a, b, fmt, kind in rows:
    rat, diff = "", ""
    if kind == "cost":
        rat = ratio(b, a)
    elif kind == "rate" and a is not None and b:
        rel.append(abs(a - b) / b)
        diff = f"{100.0 * (a - b) / b:+.2f} %"
    elif kind == "count" and a is not None and b is not None and a != b:
        diff = "MISMATCH"
    print(f"{label:<{name_w}}  {f(a, fmt):>12}  {f(b, fmt):>12}  {rat:>14}  {diff:>12}")
if rel:
    print(f"{'mean |rate diff|':<{name_w}}  {'':>12}  {'':>12}  {'':>14}  {100.0 * sum(rel) / len(rel):>10.2f} %")
print("(difference: neuroloop - NEST, relative to NEST; NEST/neuroloop > 1: neuroloop faster / smaller)")
EOF
    exit 0
fi

if [ -n "${BRAIN_VS_NEST_RUST_CMD:-}" ]; then
    # For testing this script without the Rust side: a command that prints one JSON line (args appended).
    echo "running neuroloop stand-in: $BRAIN_VS_NEST_RUST_CMD ${args[*]} ..." >&2
    rust_json="$($BRAIN_VS_NEST_RUST_CMD "${args[@]}" | tail -n 1)"
else
    echo "building the Rust example (cargo build --release -p neuroloop-brain --example brunel) ..." >&2
    cargo build --release -p neuroloop-brain --example brunel >&2
    echo "running neuroloop: brunel ${args[*]} ..." >&2
    rust_json="$(cargo run --quiet --release -p neuroloop-brain --example brunel -- "${args[@]}" | tail -n 1)"
fi
echo "$rust_json" >&2

echo "running NEST: bridges/nest/brunel.py ${args[*]} ..." >&2
nest_json="$("$py" bridges/nest/brunel.py "${args[@]}" | tail -n 1)"
echo "$nest_json" >&2

RUST_JSON="$rust_json" NEST_JSON="$nest_json" "$py" - <<'EOF'
import json
import os

r = json.loads(os.environ["RUST_JSON"])
n = json.loads(os.environ["NEST_JSON"])


def f(v, fmt):
    return "-" if v is None else format(v, fmt)


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


rows = [
    ("neurons", "n_neurons", "d"),
    ("synapses (recurrent)", "n_synapses", "d"),
    ("build s", "build_s", ".3f"),
    ("sim s", "sim_s", ".3f"),
    ("peak MB", "peak_rss_mb", ".1f"),
    ("rate E Hz", "rate_e_hz", ".3f"),
    ("rate I Hz", "rate_i_hz", ".3f"),
    ("CV ISI E", "cv_isi_e", ".4f"),
]
name_w = max(len(row[0]) for row in rows)
print(
    f"Brunel (2000), scale {r.get('scale', n.get('scale'))}, {n.get('threads')} threads, "
    f"{n.get('sim_ms')} ms of network time, seed {n.get('seed')}"
)
head = f"{'':<{name_w}}  {'neuroloop':>12}  {'NEST':>12}  {'NEST/neuroloop':>14}  {'difference':>12}"
print(head)
print("-" * len(head))
for label, key, fmt in rows:
    a, b = r.get(key), n.get(key)
    rat = ratio(b, a) if key in ("build_s", "sim_s", "peak_rss_mb") else ""
    diff = ""
    if key in ("rate_e_hz", "rate_i_hz") and a is not None and b:
        diff = f"{100.0 * (a - b) / b:+.2f} %"
    elif key == "cv_isi_e" and a is not None and b is not None:
        diff = f"{a - b:+.4f}"
    elif key in ("n_neurons", "n_synapses") and a is not None and b is not None and a != b:
        diff = "MISMATCH"
    print(f"{label:<{name_w}}  {f(a, fmt):>12}  {f(b, fmt):>12}  {rat:>14}  {diff:>12}")
print("(difference: neuroloop - NEST; rates relative to NEST)")
EOF
