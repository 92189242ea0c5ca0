//! Fuzzing as a property test (issue 15): mutated network files are parsed, checked and built (with a
//! small memory limit) without panicking; a bad one is an error naming what is wrong. Many more cases:
//! `PROPTEST_CASES=100000 cargo test --release -p neuroloop-brain --test fuzz_network_file`.

use neuroloop_brain::network::spec::NetworkSpec;
use neuroloop_brain::network::{BuildOptions, Network};
use proptest::prelude::*;

const VALID: &str = r#"resolution_ms = 0.1

[[populations]]
name = "E"
model = "iaf_psc_exp"
n = 40
params = { C_m = 250.0, tau_m = 20.0, t_ref = 2.0, E_L = -70.0, V_reset = -70.0, V_th = -55.0 }
V_m = { distribution = "uniform", min = -70.0, max = -60.0 }
groups = [{ name = "a", size = 20 }, { name = "b", size = 20 }]

[[populations]]
name = "I"
model = "aeif_cond_exp"
n = 10

[[projections]]
source = "E"
target = "I"
connect = { rule = "fixed_indegree", indegree = 5 }
synapse = { weight = 2.0, delay = 1.5 }

[[projections]]
source = "E.a"
target = "E.b"
connect = { rule = "all_to_all" }
synapse = { synapse_model = "stdp_dopamine_synapse", weight = 1.0, delay = 1.0, volume_transmitter = "vt" }

[[volume_transmitters]]
name = "vt"
population = "I"

[[poisson_generators]]
target = "E"
rate = 8000.0
weight = 1.0

[[inputs]]
name = "in"
target = "E"
weight = 10.0

[[outputs]]
name = "out"
population = "I"
"#;

/// A byte to write: any byte, or (as often) one of those numbers and names are made of, so that many
/// mutants still parse and reach the checks behind the parser.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"0123456789-.e_\"=[]{},xn ".to_vec())
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mutated_network_files_are_refused_or_built(edits in proptest::collection::vec((any::<u16>(), byte(), 0u8..8), 1..5)) {
        let mut text = VALID.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let at = usize::from(at) % (text.len() + 1);
            match op {
                0..=3 if at < text.len() => text[at] = byte,
                0..=6 => text.insert(at, byte),
                _ => text.truncate(at),
            }
        }
        let text = String::from_utf8_lossy(&text);
        if let Ok(spec) = NetworkSpec::from_toml(&text) {
            let opts = BuildOptions { seed: 1, threads: 2, memory_limit_bytes: Some(200_000_000) };
            if let Ok(mut net) = Network::build(&spec, &opts) {
                net.simulate(5);
            }
        }
    }
}

#[test]
fn the_seed_file_itself_builds() {
    let spec = NetworkSpec::from_toml(VALID).expect("valid");
    let opts = BuildOptions {
        seed: 1,
        threads: 2,
        memory_limit_bytes: Some(200_000_000),
    };
    Network::build(&spec, &opts).expect("builds");
}
