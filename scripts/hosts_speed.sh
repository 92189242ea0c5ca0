#!/usr/bin/env bash
# The coupling cost per step of a run across hosts, against the same run on one host, in one
# invocation: the spring plant and the p_controller of experiments/tests/external_controller.toml
# (controller external, started by hand as on a second host), STEPS base steps, over
#
#   loopback      coordinator and controller in one network namespace, plain TCP on 127.0.0.1
#   loopback-tls  the same over TLS (mutual authentication and access control, scripts/make_certs.sh)
#   veth          the controller in a second network namespace, joined by a veth pair (plain TCP)
#   veth-tls      the same over TLS
#
# The kinds alternate, ROUNDS times, so that load changes hit every kind alike. Prints each run's
# coupling overhead per step (p50, from the manifest), then the median of each kind and its ratio to
# loopback. Needs root (network namespaces) and a release build (cargo build --release).
#
#   sudo scripts/hosts_speed.sh [ROUNDS] [STEPS]      # default 3 rounds of 5000 steps
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
steps="${2:-5000}"
bin="${NEUROLOOP_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/neuroloop}"
[ -x "$bin" ] || { echo "hosts_speed.sh: $bin not found: cargo build --release first" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "hosts_speed.sh: needs root (network namespaces)" >&2; exit 1; }

tag="nlspd$$"
a="${tag}a" b="${tag}b"
work="$(mktemp -d)"
cleanup() {
    for ns in "$a" "$b"; do
        for p in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$p" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add "${tag}x" netns "$a" type veth peer name "${tag}y" netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev "${tag}x"
ip -n "$b" addr add 10.77.0.2/24 dev "${tag}y"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "${tag}x" up
ip -n "$b" link set "${tag}y" up
"$root/scripts/make_certs.sh" "$work/certs" --host 10.77.0.1 > /dev/null
file="$root/experiments/tests/external_controller.toml"
tls="zenoh.tls={ca=\"$work/certs/ca.pem\",cert=\"$work/certs/coordinator.pem\",key=\"$work/certs/coordinator.key\"}"

# one KIND N: runs one kind, prints its coupling p50 (us).
one() {
    local kind="$1" n="$2" addr=127.0.0.1 engine_ns="$a" proto=tcp extra=()
    case "$kind" in
        loopback) ;;
        loopback-tls) proto=tls extra=(--set "$tls") ;;
        veth) addr=10.77.0.1 engine_ns="$b" ;;
        veth-tls) addr=10.77.0.1 engine_ns="$b" proto=tls extra=(--set "$tls") ;;
    esac
    local out="$work/$kind-$n"
    ip netns exec "$a" "$bin" run "$file" --output "$out" --run-id "$tag$n" -q \
        --set "run.duration_ms=$steps" --set "zenoh.listen=\"$proto/$addr:7447\"" "${extra[@]}" \
        > /dev/null 2> "$out.err" &
    local coord=$!
    for _ in $(seq 200); do [ -f "$out/external_engines.json" ] && break; sleep 0.05; done
    local vars
    vars="$(python3 -c 'import json,sys; print(" ".join(f"{k}={v}" for k, v in json.load(open(sys.argv[1]))["controller"].items()))' "$out/external_engines.json")"
    # shellcheck disable=SC2086
    ip netns exec "$engine_ns" env $vars "$bin" engine p_controller 2> /dev/null &
    local engine=$!
    if ! wait "$coord"; then
        echo "hosts_speed.sh: the $kind run failed:" >&2
        cat "$out.err" >&2
        exit 1
    fi
    wait "$engine" || true
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["coupling_overhead_p50_us"])' "$out/manifest.json"
}

kinds=(loopback loopback-tls veth veth-tls)
declare -A all
echo "load: $(uptime)"
for r in $(seq "$rounds"); do
    line="round $r:"
    for k in "${kinds[@]}"; do
        v="$(one "$k" "$r")"
        all[$k]="${all[$k]:-} $v"
        line+=" $k $v us"
    done
    echo "$line"
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
base="$(echo "${all[loopback]}" | median)"
echo "coupling overhead per step, p50, median of $rounds runs of $steps steps:"
for k in "${kinds[@]}"; do
    m="$(echo "${all[$k]}" | median)"
    awk -v k="$k" -v m="$m" -v b="$base" 'BEGIN {printf "  %-13s %8.1f us  %5.2fx loopback\n", k, m, m / b}'
done
echo "load: $(uptime)"
