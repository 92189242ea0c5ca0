//! Property tests of the lockstep rules (`neuroloop_core::lockstep`): for random periods, durations and
//! link graphs, driven as the coordinator drives them, every spike reaches every consumer exactly once,
//! at the consumer's first step that starts at or after the end of the producer's step that made it;
//! and every held value arrives with the stamp of the producer's last step that ended at or before the
//! consumer's step start (0 before any), and that step's value.

use neuroloop_core::lockstep::{LinkDef, Lockstep};
use neuroloop_core::payload::{Payload, SpikeBatch};
use neuroloop_core::port::PortKind;
use neuroloop_core::time::Step;
use neuroloop_core::wire::DataEntry;
use proptest::prelude::*;

/// Output ports of every engine: 0 spikes, 1 analog (its value: the end of the step that made it).
const SPIKES: u16 = 0;
const ANALOG: u16 = 1;

#[derive(Clone, Debug)]
struct Case {
    periods: Vec<u32>,
    duration: u64,
    /// (producer, consumer, spikes?) per link.
    links: Vec<(usize, usize, bool)>,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..=5, 1u64..=40).prop_flat_map(|(n, duration)| {
        (
            proptest::collection::vec(1u32..=4, n),
            proptest::collection::vec((0..n, 0..n, any::<bool>()), 1..=8),
        )
            .prop_map(move |(periods, links)| Case {
                periods,
                duration,
                links: links.into_iter().filter(|(a, b, _)| a != b).collect(),
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn spikes_arrive_once_and_held_values_carry_their_stamps(c in case()) {
        let n = c.periods.len();
        let defs: Vec<LinkDef> = c
            .links
            .iter()
            .enumerate()
            .map(|(i, &(from, to, spikes))| LinkDef {
                from_engine: from,
                from_port: if spikes { SPIKES } else { ANALOG },
                // Each link feeds its own input port of the consumer (2 + link index).
                to_engine: to,
                to_port: 2 + i as u16,
                from_kind: if spikes {
                    PortKind::Spikes { size: 1_000_000 }
                } else {
                    PortKind::analog(&[("t", "ms")])
                },
                transfer: None,
                delay: 1,
            })
            .collect();
        let mut l = Lockstep::new(c.periods.clone(), Step(c.duration), 1.0, defs, 1);
        // Spikes made: (producer, id, end of the step that made it).
        let mut made: Vec<(usize, u32, u64)> = Vec::new();
        // Delivered: (link, spike id, consumer step start).
        let mut delivered: Vec<(usize, u32, u64)> = Vec::new();
        let mut next_id = 0u32;
        let mut inputs = Vec::new();
        for t in 0..=c.duration {
            let now = Step(t);
            for e in 0..n {
                if !l.ends_at(e, now) {
                    continue;
                }
                let p = u64::from(c.periods[e]);
                let mut b = SpikeBatch::default();
                for k in 0..2 {
                    b.push(next_id, (t - p) as f64 + 0.25 * k as f64);
                    made.push((e, next_id, t));
                    next_id += 1;
                }
                let outs = [
                    DataEntry { port: SPIKES, stamp: now, payload: Payload::Spikes(b) },
                    DataEntry { port: ANALOG, stamp: now, payload: Payload::Analog(vec![t as f64]) },
                ];
                l.push_outputs(e, now, &outs);
            }
            for e in 0..n {
                if !l.is_due(e, now) {
                    continue;
                }
                inputs.clear();
                l.take_inputs(e, now, &mut inputs);
                for d in &inputs {
                    let link = usize::from(d.port - 2);
                    let (from, to, spikes) = c.links[link];
                    prop_assert_eq!(to, e);
                    match &d.payload {
                        Payload::Spikes(b) => {
                            prop_assert!(spikes);
                            for &id in &b.neuron {
                                delivered.push((link, id, t));
                            }
                        }
                        Payload::Analog(v) => {
                            prop_assert!(!spikes);
                            // The producer's last step end at or before t (0: its initial output).
                            let p = u64::from(c.periods[from]);
                            let last_end = (t / p) * p;
                            let last_end = if last_end > c.duration { 0 } else { last_end };
                            prop_assert_eq!(d.stamp, Step(last_end), "link {} at {}", link, t);
                            let value = if last_end == 0 { 0.0 } else { last_end as f64 };
                            prop_assert_eq!(v.as_slice(), &[value][..], "link {} at {}", link, t);
                        }
                        other => prop_assert!(false, "unexpected payload {:?}", other),
                    }
                }
            }
        }
        // Every spike of a producer reaches each of its spike links' consumers exactly once, at the
        // consumer's first step starting at or after the spike's step end, if the run has one.
        for (link, &(from, to, spikes)) in c.links.iter().enumerate() {
            if !spikes {
                continue;
            }
            let q = u64::from(c.periods[to]);
            for &(_, id, end) in made.iter().filter(|m| m.0 == from) {
                let times: Vec<u64> = delivered
                    .iter()
                    .filter(|d| d.0 == link && d.1 == id)
                    .map(|d| d.2)
                    .collect();
                let first_start = end.div_ceil(q) * q;
                if first_start + q <= c.duration {
                    prop_assert_eq!(&times, &vec![first_start], "spike {} of link {}", id, link);
                } else {
                    prop_assert!(times.is_empty(), "spike {} of link {} after the end", id, link);
                }
            }
        }
    }
}
