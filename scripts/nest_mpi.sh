#!/usr/bin/env bash
# The NEST brain engine under MPI (issue 13, part 3), checked and timed on this machine (not in CI: it
# needs NEST built with MPI, scripts/setup_nest_mpi.sh, about 40-60 minutes once). NEST gives the same
# spikes for the same number of virtual processes (ranks x threads), so every check compares 2 ranks x 1
# thread with 1 process x 2 threads, the same NEST build, and must find the same spikes:
#
#   1. Brunel (crates/brain/networks/brunel.toml, 2,500 neurons, 1 s) in one nest.Simulate:
#      `mpirun -np 2 nest_engine.py --simulate` against `nest_engine.py --simulate --threads 2`;
#   2. the same network as the brain engine of a lockstep run (bridges/nest/tests/brunel_nest_mpi.toml
#      against brunel_nest.toml): the recorded spikes of both runs;
#   3. the closed loop: experiments/joystick_reward_learning_nest.toml (body, proprioception and the NEST
#      brain with dopamine-modulated STDP) for SIM_MS (default 20 s) of simulated time, the brain under
#      mpirun against one process: the same trials and the same motor spikes;
#
# Exit status 0 when every comparison holds, 1 otherwise. Prints the figures (wall times, rates).
# On 2 cores the 2 ranks show that the bridge is right under MPI, not a speed-up: both forms use the
# same 2 cores.
#   scripts/nest_mpi.sh                  # NEUROLOOP_BIN: the neuroloop binary (default target/release)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mpipy="$root/.venv-nest-mpi/bin/python"
py="$root/.venv/bin/python"   # pandas / pyarrow to read the recordings
bin="${NEUROLOOP_BIN:-$root/target/release/neuroloop}"
sim_ms="${SIM_MS:-20000}"
[ -x "$mpipy" ] || { echo "nest_mpi.sh: $mpipy not found: run scripts/setup_nest_mpi.sh" >&2; exit 2; }
[ -x "$bin" ] || { echo "nest_mpi.sh: $bin not found: cargo build --release -p neuroloop" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PYNEST_QUIET=1
export PYTHONPATH="$root/bridges/python:$root/bridges/nest"
mpirun=(mpirun --oversubscribe --bind-to none)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
echo "machine: $(nproc) cores, $(uptime | sed 's/.*load/load/')"
echo "NEST: $("$mpipy" -c 'import nest; b = nest.GetKernelStatus("build_info"); print(b["version"], "have_mpi", b["have_mpi"])' 2>/dev/null)"

echo
echo "== 1. Brunel in one nest.Simulate(1000 ms), seed 7"
net="$root/crates/brain/networks/brunel.toml"
"$mpipy" bridges/nest/nest_engine.py --simulate "$net" --ms 1000 --seed 7 --threads 2 > "$tmp/one.json"
"${mpirun[@]}" -np 2 "$mpipy" bridges/nest/nest_engine.py --simulate "$net" --ms 1000 --seed 7 --threads 1 \
    > "$tmp/two.json"
"$py" - "$tmp/one.json" "$tmp/two.json" <<'EOF' || fail=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for r, what in ((a, "1 process x 2 threads"), (b, "2 ranks x 1 thread")):
    rates = ", ".join(f"{p['name']} {p['rate_hz']:.2f} Hz" for p in r["populations"])
    print(f"  {what:22s} simulate {r['sim_s']:.2f} s   {rates}   spikes {r['spikes_sha256'][:16]}")
same = a["spikes_sha256"] == b["spikes_sha256"]
print("  the same spikes:", "yes" if same else "NO")
sys.exit(0 if same else 1)
EOF

echo
echo "== 2. Brunel as the brain engine of a lockstep run (1 s at 1 ms)"
t0=$(date +%s%N)
NEUROLOOP_PYTHON="$mpipy" "$bin" run bridges/nest/tests/brunel_nest.toml --quiet --output "$tmp/run1"
t1=$(date +%s%N)
"$bin" run bridges/nest/tests/brunel_nest_mpi.toml --quiet --output "$tmp/run2"
t2=$(date +%s%N)
echo "  wall: 1 process x 2 threads $(( (t1 - t0) / 1000000 )) ms, 2 ranks x 1 thread $(( (t2 - t1) / 1000000 )) ms (both including NEST's start and build)"
"$py" - "$tmp/run1" "$tmp/run2" brain.E brain.I brain.rates <<'EOF' || fail=1
import sys
import neuroloop as nl
a, b = (nl.read_run(p) for p in sys.argv[1:3])
ok = True
for port in sys.argv[3:]:
    x, y = a.recording(port), b.recording(port)
    same = x.reset_index(drop=True).equals(y.reset_index(drop=True))
    ok &= same
    print(f"  {port:12s} {len(x):6d} rows   the same: {'yes' if same else 'NO'}")
sys.exit(0 if ok else 1)
EOF

echo
echo "== 3. The closed loop with the NEST brain (joystick_reward_learning_nest.toml, $sim_ms ms simulated)"
exp=experiments/joystick_reward_learning_nest.toml
common=(--quiet --set "run.duration_ms=$sim_ms" --set engines.brain.config.threads=2)
t0=$(date +%s%N)
NEUROLOOP_PYTHON="$mpipy" "$bin" run "$exp" "${common[@]}" --output "$tmp/loop1"
t1=$(date +%s%N)
"$bin" run "$exp" --quiet --set "run.duration_ms=$sim_ms" --set engines.brain.config.threads=1 \
    --set 'engines.brain.kind="../bridges/nest/nest_engine_mpi.sh"' --set 'engines.brain.args=["--ranks", "2"]' \
    --output "$tmp/loop2"
t2=$(date +%s%N)
echo "  wall: 1 process x 2 threads $(( (t1 - t0) / 1000000 )) ms, 2 ranks x 1 thread $(( (t2 - t1) / 1000000 )) ms for $sim_ms ms simulated"
"$py" - "$tmp/loop1" "$tmp/loop2" <<'EOF' || fail=1
import sys
import neuroloop as nl
a, b = (nl.read_run(p) for p in sys.argv[1:3])
ok = True
ports = [p for p in a.recordings if p.startswith("brain.") or p.startswith("body.task")]
for port in ports:
    x, y = a.recording(port), b.recording(port)
    same = x.reset_index(drop=True).equals(y.reset_index(drop=True))
    ok &= same
    print(f"  {port:28s} {len(x):7d} rows   the same: {'yes' if same else 'NO'}")
task = a.recording("body.task")
print(f"  trials ended: {int(task['trial'].max()) if 'trial' in task else 'n/a'}")
sys.exit(0 if ok and ports else 1)
EOF

echo
[ "$fail" -eq 0 ] && echo "nest_mpi.sh: every comparison holds" || echo "nest_mpi.sh: a comparison FAILED"
exit "$fail"
