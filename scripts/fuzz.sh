#!/usr/bin/env bash
# Fuzzing as property tests, run long (CI runs the same tests with a few hundred cases each): the wire
# decoder, the experiment-file reader, the network file (parsed, built, stepped) and the world file take
# any bytes without panicking, the decoder allocates in proportion to its input, and the lockstep rules
# deliver every spike once with the right stamps.
#
#   scripts/fuzz.sh              # 200,000 cases per property (about a minute on 2 cores)
#   CASES=2000000 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${CASES:-200000}"
echo "fuzz: $PROPTEST_CASES cases per property" >&2
cargo test --release -p neuroloop-core --test fuzz_properties --test lockstep_properties
cargo test --release -p neuroloop-brain --test fuzz_network_file
cargo test --release -p neuroloop-body --test fuzz_world_file
