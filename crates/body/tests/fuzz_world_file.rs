//! Fuzzing as a property test (issue 15): mutated world files are parsed and validated without
//! panicking (a bad one is an error naming what is wrong). Many more cases:
//! `PROPTEST_CASES=100000 cargo test --release -p neuroloop-body --test fuzz_world_file`.

use neuroloop_body::world::WorldSpec;
use proptest::prelude::*;

fn world_text() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../worlds/mouse_forelimb_joystick.toml"),
    )
    .expect("the shipped world")
}

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
    fn mutated_world_files_are_refused_or_valid(edits in proptest::collection::vec((any::<u32>(), byte(), 0u8..8), 1..5)) {
        let mut text = world_text().into_bytes();
        for (at, byte, op) in edits {
            let at = (at as usize) % (text.len() + 1);
            match op {
                0..=3 if at < text.len() => text[at] = byte,
                0..=6 => text.insert(at, byte),
                _ => text.truncate(at),
            }
        }
        let _ = WorldSpec::from_toml(&String::from_utf8_lossy(&text));
    }
}

#[test]
fn the_shipped_world_is_valid() {
    WorldSpec::from_toml(&world_text()).expect("valid");
}
