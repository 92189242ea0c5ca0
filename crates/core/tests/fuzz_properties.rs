//! Fuzzing as property tests (issue 15): the wire decoder and the experiment-file reader take any
//! bytes without panicking, and the decoder allocates in proportion to its input, never what a header
//! claims. CI runs a few hundred cases each; `scripts/fuzz.sh` runs many more
//! (`PROPTEST_CASES=...`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use neuroloop_core::engine::{EngineError, InitContext};
use neuroloop_core::experiment::{load_str, PortCatalog};
use neuroloop_core::port::{PortKind, PortSpec};
use neuroloop_core::wire;
use proptest::prelude::*;

/// Counts the bytes allocated by each thread (tests run in parallel threads): the peak of live bytes
/// since the last reset.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|l| {
            let live = l.get() + layout.size();
            l.set(live);
            let _ = PEAK.try_with(|p| p.set(p.get().max(live)));
        });
        // SAFETY: forwarded to the system allocator with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes this thread allocated while `f` ran, above what it had live before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(before))
}

/// Valid messages to mutate: a Step with analog and spike inputs, a Ready with ports.
fn seeds() -> Vec<Vec<u8>> {
    use neuroloop_core::payload::{Payload, SpikeBatch};
    use neuroloop_core::time::Step;
    use neuroloop_core::wire::{DataEntry, Message};
    let mut b = SpikeBatch::default();
    b.push(3, 0.5);
    b.push(7, 0.75);
    vec![
        wire::encode(&Message::Step {
            step: Step(5),
            n_steps: 2,
            inputs: vec![
                DataEntry {
                    port: 0,
                    stamp: Step(4),
                    payload: Payload::Analog(vec![1.0, 2.0]),
                },
                DataEntry {
                    port: 1,
                    stamp: Step(5),
                    payload: Payload::Spikes(b),
                },
            ],
        }),
        wire::encode(&Message::Ready {
            ports: vec![
                PortSpec::input("x", PortKind::analog(&[("x", "m")])),
                PortSpec::output("s", PortKind::Spikes { size: 10 }),
            ],
            outputs: vec![],
        }),
        wire::encode(&Message::Hello {
            engine: "plant".into(),
            pid: 42,
        }),
    ]
}

/// A mutation of a seed message: overwrite, insert or truncate.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0usize..3,
        proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..8), 1..8),
    )
        .prop_map(|(which, edits)| {
            let mut m = seeds()[which].clone();
            for (at, byte, op) in edits {
                let at = usize::from(at) % (m.len() + 1);
                match op {
                    0..=3 if at < m.len() => m[at] = byte,
                    0..=6 => m.insert(at, byte),
                    _ => m.truncate(at),
                }
            }
            m
        })
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
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_wire_decoder_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (_, peak) = peak_of(|| wire::decode(&bytes));
        prop_assert!(peak <= 64 * bytes.len() + 4096, "{} bytes allocated for {} bytes", peak, bytes.len());
    }

    #[test]
    fn the_wire_decoder_takes_mutated_messages(bytes in mutated()) {
        let (decoded, peak) = peak_of(|| wire::decode(&bytes));
        prop_assert!(peak <= 64 * bytes.len() + 4096, "{} bytes allocated for {} bytes", peak, bytes.len());
        // What decodes encodes back to the same bytes (the header's step field is ignored, and written
        // as 0, in every message but Step and StepDone: protocol.md, section 6.1).
        if let Ok(m) = decoded {
            let mut expected = bytes.clone();
            if !matches!(expected[3], 4 | 5) {
                expected[4..12].fill(0);
            }
            prop_assert_eq!(wire::encode(&m), expected);
        }
    }

    #[test]
    fn the_experiment_reader_takes_mutated_files(edits in proptest::collection::vec((any::<u16>(), byte(), 0u8..8), 1..6)) {
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
        let _ = load_str(&text, None, &[], &Catalog);
        let _ = load_str(&text, None, &["run.seed=7".into(), "engines.plant.step_ms=2".into()], &Catalog);
    }
}

const VALID: &str = r#"[run]
duration_ms = 2000.0
base_step_ms = 1.0
seed = 42

[engines.plant]
kind = "spring"
step_ms = 1.0
config = { mass_kg = 0.1, stiffness_n_per_m = 10.0 }

[engines.controller]
kind = "p_controller"
step_ms = 2.0

[[links]]
from = "plant.position"
to = "controller.position"
transfer = [{ kind = "linear", gain = 2.0 }, { kind = "in_range", min = 0, max = 1 }]

[[links]]
from = "controller.force"
to = "plant.force"

[record]
ports = ["plant.position"]

[[expect]]
name = "x"
metric = { kind = "difference", of = { kind = "mean", port = "plant.position" }, minus = { kind = "mean", port = "plant.position", window_ms = [0, 10] } }
max = 1.0
"#;

struct Catalog;

impl PortCatalog for Catalog {
    fn is_builtin(&self, kind: &str) -> bool {
        self.builtin_names().iter().any(|n| n == kind)
    }
    fn builtin_ports(&self, kind: &str, _ctx: &InitContext) -> Result<Vec<PortSpec>, EngineError> {
        match kind {
            "spring" => Ok(vec![
                PortSpec::input("force", PortKind::analog(&[("f", "N")])),
                PortSpec::output("position", PortKind::analog(&[("x", "m")])),
            ]),
            "p_controller" => Ok(vec![
                PortSpec::input("position", PortKind::analog(&[("x", "m")])),
                PortSpec::output("force", PortKind::analog(&[("f", "N")])),
            ]),
            _ => Err(EngineError::Model(format!("no engine {kind}"))),
        }
    }
    fn builtin_names(&self) -> Vec<String> {
        vec!["spring".into(), "p_controller".into()]
    }
}
