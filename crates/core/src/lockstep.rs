//! The lockstep rules: which engine steps when, and what it sees.
//!
//! Simulated time advances in base steps. Engine `e` has a period `p_e` (its sync step in base steps)
//! and steps only at multiples of it: from `t` to `t + p_e`, for every `t` with `t % p_e == 0` and
//! `t + p_e <= duration` (a step that would end past the duration is not taken). The coordinator
//! processes the boundaries `T = 0, 1, 2, ...` in order; at each one it
//!
//! 1. collects the outputs of every engine whose step ended at `T`, in engine order
//!    ([`Lockstep::push_outputs`]), then
//! 2. starts every engine due at `T`, giving each its inputs ([`Lockstep::take_inputs`]).
//!
//! Engines due at the same `T` run concurrently; a slow engine (period 3) runs while a fast one
//! (period 1) takes three steps.
//!
//! **What an engine sees at step `[T, T + p)`**: on each input, what its producer made up to the end of
//! the producer's last completed step, i.e. in steps that ended at or before `T`. Data made during
//! `[T - 1, T)` is seen at `T`: one step of delay per link, as in the NRP. At `T = 0` every engine sees
//! its producers' outputs at t = 0 ([`Engine::initial_outputs`](crate::engine::Engine::initial_outputs):
//! zeros and empty batches unless the producer says otherwise).
//!
//! **Different rates**: analog and scalar values are *held*: the consumer gets the latest value and the
//! step at which it was made (its stamp). Spike and event batches *accumulate*: the consumer gets every
//! spike or event produced since its previous step, in time order, exactly once; nothing is dropped,
//! whatever the two periods are.
//!
//! A link's transfer chain runs on delivery, with the consumer's step window; what it delivers is what
//! the consumer receives (and what recording the consumer's input port records).
//!
//! **Latency** (`delay_ms` on a link, `d` base steps, default 1): a consumer step starting at `T` sees
//! what the producer made in steps that ended at or before `T + 1 - d`. `d = 1` is the rule above.
//!
//! **Lookahead windows**: when every link is at least `W` base steps late, an engine's inputs for the
//! next `W` base steps are all known at a window's start, so engines exchange with the coordinator only
//! every `W` base steps ([`Lockstep::window`]: the smallest link delay, lowered until every period
//! divides it or is a multiple of it). An engine whose period `p` is below `W` takes `W / p` steps per
//! exchange (one `Window` message, inputs per step as [`Lockstep::take_inputs`] gives them at each
//! step's start), one whose period is `W` or more takes one step per exchange as before. What every
//! step sees is exactly what it would see with an exchange at every step and the same delays.

use crate::payload::Payload;
use crate::port::PortKind;
use crate::time::Step;
use crate::transfer::TransferChain;
use crate::wire::DataEntry;

/// One link as the lockstep rules need it: engine and port indices on both ends.
pub struct LinkDef {
    /// Producing engine index.
    pub from_engine: usize,
    /// Output port index on the producer.
    pub from_port: u16,
    /// Consuming engine index.
    pub to_engine: usize,
    /// Input port index on the consumer.
    pub to_port: u16,
    /// The producer port's kind.
    pub from_kind: PortKind,
    /// The transfer functions, if any, applied in order.
    pub transfer: Option<TransferChain>,
    /// Latency in base steps (>= 1; 1 is the one-step delay of the module docs).
    pub delay: u32,
}

struct LinkState {
    def: LinkDef,
    /// Held value or accumulated batch, as produced.
    buffer: Payload,
    /// When the buffered value was produced (held values).
    stamp: Step,
    /// Output of the transfer function (reused between steps).
    transformed: Option<Payload>,
    /// Outputs not yet visible (delays above 1): the end of the step that made each, in order.
    pending: std::collections::VecDeque<(Step, Payload)>,
}

/// Who steps when and what each engine sees; see the [module docs](self).
pub struct Lockstep {
    periods: Vec<u32>,
    duration: Step,
    base_step_ms: f64,
    links: Vec<LinkState>,
    /// For each engine, the links that start at it.
    links_from: Vec<Vec<usize>>,
    /// For each engine, the links that end at it.
    links_into: Vec<Vec<usize>>,
    /// The exchange window in base steps.
    window: u32,
}

impl Lockstep {
    /// Rules for engines with the given periods (in base steps, each > 0), a run of `duration`, and links;
    /// the exchange window is at most `max_window` base steps (1: an exchange at every step).
    pub fn new(
        periods: Vec<u32>,
        duration: Step,
        base_step_ms: f64,
        links: Vec<LinkDef>,
        max_window: u32,
    ) -> Self {
        let min_delay = links.iter().map(|l| l.delay.max(1)).min().unwrap_or(1);
        let mut window = min_delay.min(max_window).max(1);
        while !periods
            .iter()
            .all(|&p| window % p.max(1) == 0 || p % window == 0)
        {
            window -= 1;
        }
        let n = periods.len();
        let mut links_from = vec![Vec::new(); n];
        let mut links_into = vec![Vec::new(); n];
        let links: Vec<LinkState> = links
            .into_iter()
            .enumerate()
            .map(|(i, def)| {
                links_from[def.from_engine].push(i);
                links_into[def.to_engine].push(i);
                let transformed = def
                    .transfer
                    .as_ref()
                    .map(|t| Payload::empty_for(t.output_kind()));
                LinkState {
                    buffer: Payload::empty_for(&def.from_kind),
                    stamp: Step(0),
                    transformed,
                    pending: Default::default(),
                    def,
                }
            })
            .collect();
        Lockstep {
            periods,
            duration,
            base_step_ms,
            links,
            links_from,
            links_into,
            window,
        }
    }

    /// The exchange window in base steps (see the [module docs](self)).
    pub fn window(&self) -> u32 {
        self.window
    }

    /// How often `engine` exchanges with the coordinator, in base steps: its period or the window,
    /// whichever is longer.
    pub fn exchange(&self, engine: usize) -> u32 {
        self.periods[engine].max(self.window)
    }

    /// The number of steps `engine` takes in the exchange starting at `t` (0: none starts at `t`):
    /// one if its period is the window or longer, else as many of its steps as fit in the window and
    /// in the run.
    pub fn steps_in_exchange(&self, engine: usize, t: Step) -> u32 {
        let p = u64::from(self.periods[engine]);
        if !t.0.is_multiple_of(u64::from(self.exchange(engine))) || t.0 + p > self.duration.0 {
            return 0;
        }
        let w = u64::from(self.window);
        if p >= w {
            1
        } else {
            (w.min(self.duration.0 - t.0) / p) as u32
        }
    }

    /// Number of engines.
    pub fn engines(&self) -> usize {
        self.periods.len()
    }

    /// The run's length.
    pub fn duration(&self) -> Step {
        self.duration
    }

    /// Whether `engine` starts a step at `t`.
    pub fn is_due(&self, engine: usize, t: Step) -> bool {
        let p = u64::from(self.periods[engine]);
        t.0.is_multiple_of(p) && t.0 + p <= self.duration.0
    }

    /// Whether `engine` finishes a step at `t` (`t > 0`).
    pub fn ends_at(&self, engine: usize, t: Step) -> bool {
        let p = u64::from(self.periods[engine]);
        t.0 > 0 && t.0.is_multiple_of(p) && t.0 <= self.duration.0
    }

    /// The engine's period in base steps.
    pub fn period(&self, engine: usize) -> u32 {
        self.periods[engine]
    }

    /// Number of steps `engine` takes in the whole run.
    pub fn steps_of(&self, engine: usize) -> u64 {
        self.duration.0 / u64::from(self.periods[engine])
    }

    /// Takes in the outputs `engine` produced in the step that ended at `end` (or at t = 0, `end = 0`).
    /// Held values replace the link's value; batches are appended (after the link's delay).
    pub fn push_outputs(&mut self, engine: usize, end: Step, outputs: &[DataEntry]) {
        for &li in &self.links_from[engine] {
            let link = &mut self.links[li];
            let Some(entry) = outputs.iter().find(|e| e.port == link.def.from_port) else {
                continue;
            };
            if link.def.delay > 1 && end.0 > 0 {
                link.pending.push_back((end, entry.payload.clone()));
            } else {
                link.apply(end, &entry.payload);
            }
        }
    }

    /// The inputs of `engine` for its step starting at `t`, appended to `out` (one entry per linked input
    /// port, in link order). Batches are drained: each spike or event is delivered once.
    pub fn take_inputs(&mut self, engine: usize, t: Step, out: &mut Vec<DataEntry>) {
        let p = self.periods[engine];
        let t_start_ms = t.to_ms(self.base_step_ms);
        let t_end_ms = Step(t.0 + u64::from(p)).to_ms(self.base_step_ms);
        for &li in &self.links_into[engine] {
            let link = &mut self.links[li];
            // What has become visible: made in steps that ended at or before t + 1 - delay.
            let delay = u64::from(link.def.delay.max(1));
            while let Some((end, _)) = link.pending.front() {
                if end.0 + delay - 1 > t.0 {
                    break;
                }
                let (end, payload) = link.pending.pop_front().expect("just seen");
                link.apply(end, &payload);
            }
            let accumulates = link.def.from_kind.port_type().accumulates();
            let stamp = if accumulates { t } else { link.stamp };
            let payload = match (&mut link.def.transfer, &mut link.transformed) {
                (Some(tf), Some(outp)) => {
                    tf.apply(&link.buffer, t_start_ms, t_end_ms, outp);
                    outp.clone()
                }
                _ if accumulates => {
                    let empty = Payload::empty_for(&link.def.from_kind);
                    std::mem::replace(&mut link.buffer, empty)
                }
                _ => link.buffer.clone(),
            };
            if accumulates {
                match &mut link.buffer {
                    Payload::Spikes(b) => b.clear(),
                    Payload::Events(b) => b.clear(),
                    _ => {}
                }
            }
            out.push(DataEntry {
                port: link.def.to_port,
                stamp,
                payload,
            });
        }
    }

    /// Back to t = 0: empties every link and resets transfer functions.
    pub fn reset(&mut self) {
        for link in &mut self.links {
            link.buffer = Payload::empty_for(&link.def.from_kind);
            link.stamp = Step(0);
            link.pending.clear();
            if let Some(tf) = &mut link.def.transfer {
                tf.reset();
                link.transformed = Some(Payload::empty_for(tf.output_kind()));
            }
        }
    }
}

impl LinkState {
    /// Makes the output of a step that ended at `end` the link's: a held value replaces the link's
    /// value, a batch is appended.
    fn apply(&mut self, end: Step, payload: &Payload) {
        match (&mut self.buffer, payload) {
            (Payload::Spikes(buf), Payload::Spikes(b)) => buf.extend_from(b),
            (Payload::Events(buf), Payload::Events(b)) => buf.extend_from(b),
            (buf, p) if buf.port_type() == p.port_type() => {
                buf.clone_from(p);
                self.stamp = end;
            }
            // Types were checked at the handshake; a mismatch here is ignored rather than panicking.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::SpikeBatch;

    fn spikes(times: &[f64]) -> Payload {
        let mut b = SpikeBatch::default();
        for (i, t) in times.iter().enumerate() {
            b.push(i as u32, *t);
        }
        Payload::Spikes(b)
    }

    /// Engine 0 (period 1) produces analog (port 0) and spikes (port 1); engine 1 (period 3) consumes them
    /// on ports 0 and 1; engine 1 produces analog on port 2, consumed by engine 0 on port 2.
    fn two_rates() -> Lockstep {
        let analog = PortKind::analog(&[("x", "1")]);
        Lockstep::new(
            vec![1, 3],
            Step(9),
            1.0,
            vec![
                LinkDef {
                    from_engine: 0,
                    from_port: 0,
                    to_engine: 1,
                    to_port: 0,
                    from_kind: analog.clone(),
                    transfer: None,
                    delay: 1,
                },
                LinkDef {
                    from_engine: 0,
                    from_port: 1,
                    to_engine: 1,
                    to_port: 1,
                    from_kind: PortKind::Spikes { size: 10 },
                    transfer: None,
                    delay: 1,
                },
                LinkDef {
                    from_engine: 1,
                    from_port: 2,
                    to_engine: 0,
                    to_port: 2,
                    from_kind: analog,
                    transfer: None,
                    delay: 1,
                },
            ],
            u32::MAX,
        )
    }

    #[test]
    fn who_steps_when() {
        let l = two_rates();
        let due0: Vec<u64> = (0..12).filter(|&t| l.is_due(0, Step(t))).collect();
        let due1: Vec<u64> = (0..12).filter(|&t| l.is_due(1, Step(t))).collect();
        assert_eq!(due0, (0..9).collect::<Vec<_>>());
        assert_eq!(due1, vec![0, 3, 6]);
        assert!(l.ends_at(1, Step(9)) && !l.ends_at(1, Step(0)) && !l.ends_at(1, Step(4)));
        assert_eq!(l.steps_of(1), 3);
    }

    #[test]
    fn slow_consumer_holds_latest_and_gets_every_spike_once() {
        let mut l = two_rates();
        let mut got = Vec::new();
        // t = 0: initial outputs.
        l.push_outputs(
            0,
            Step(0),
            &[DataEntry {
                port: 0,
                stamp: Step(0),
                payload: Payload::Analog(vec![0.5]),
            }],
        );
        l.take_inputs(1, Step(0), &mut got);
        assert_eq!(
            got[0],
            DataEntry {
                port: 0,
                stamp: Step(0),
                payload: Payload::Analog(vec![0.5])
            }
        );
        assert_eq!(got[1].payload, spikes(&[]));
        // Engine 0 steps [0,1), [1,2), [2,3), each making one spike and a new value.
        for t in 1..=3u64 {
            l.push_outputs(
                0,
                Step(t),
                &[
                    DataEntry {
                        port: 0,
                        stamp: Step(t),
                        payload: Payload::Analog(vec![t as f64]),
                    },
                    DataEntry {
                        port: 1,
                        stamp: Step(t),
                        payload: spikes(&[t as f64 - 0.5]),
                    },
                ],
            );
        }
        got.clear();
        l.take_inputs(1, Step(3), &mut got);
        assert_eq!(
            got[0],
            DataEntry {
                port: 0,
                stamp: Step(3),
                payload: Payload::Analog(vec![3.0])
            }
        );
        let Payload::Spikes(b) = &got[1].payload else {
            panic!()
        };
        assert_eq!(b.time_ms, vec![0.5, 1.5, 2.5]);
        // Delivered once: nothing new -> empty batch, held value unchanged.
        got.clear();
        l.take_inputs(1, Step(6), &mut got);
        assert_eq!(got[1].payload, spikes(&[]));
        assert_eq!(got[0].stamp, Step(3));
    }

    #[test]
    fn fast_consumer_of_slow_producer_holds_value_between_updates() {
        let mut l = two_rates();
        let mut got = Vec::new();
        l.take_inputs(0, Step(0), &mut got);
        assert_eq!(
            got[0],
            DataEntry {
                port: 2,
                stamp: Step(0),
                payload: Payload::Analog(vec![0.0])
            }
        );
        l.push_outputs(
            1,
            Step(3),
            &[DataEntry {
                port: 2,
                stamp: Step(3),
                payload: Payload::Analog(vec![7.0]),
            }],
        );
        for t in 3..6 {
            got.clear();
            l.take_inputs(0, Step(t), &mut got);
            assert_eq!(
                got[0],
                DataEntry {
                    port: 2,
                    stamp: Step(3),
                    payload: Payload::Analog(vec![7.0])
                }
            );
        }
    }

    fn delayed(delay: u32, periods: Vec<u32>, max_window: u32) -> Lockstep {
        Lockstep::new(
            periods,
            Step(10),
            1.0,
            vec![
                LinkDef {
                    from_engine: 0,
                    from_port: 0,
                    to_engine: 1,
                    to_port: 0,
                    from_kind: PortKind::analog(&[("x", "1")]),
                    transfer: None,
                    delay,
                },
                LinkDef {
                    from_engine: 0,
                    from_port: 1,
                    to_engine: 1,
                    to_port: 1,
                    from_kind: PortKind::Spikes { size: 10 },
                    transfer: None,
                    delay,
                },
            ],
            max_window,
        )
    }

    fn outputs(t: u64) -> Vec<DataEntry> {
        vec![
            DataEntry {
                port: 0,
                stamp: Step(t),
                payload: Payload::Analog(vec![t as f64]),
            },
            DataEntry {
                port: 1,
                stamp: Step(t),
                payload: spikes(&[t as f64 - 0.5]),
            },
        ]
    }

    #[test]
    fn a_delayed_link_shows_what_was_made_delay_steps_before() {
        let mut l = delayed(3, vec![1, 1], 1);
        assert_eq!(l.window(), 1);
        let mut seen = Vec::new();
        for t in 0..10u64 {
            if t > 0 {
                l.push_outputs(0, Step(t), &outputs(t));
            }
            let mut got = Vec::new();
            l.take_inputs(1, Step(t), &mut got);
            let Payload::Spikes(b) = &got[1].payload else {
                panic!()
            };
            seen.push((got[0].payload.clone(), got[0].stamp, b.time_ms.clone()));
        }
        // At t the consumer sees the steps that ended at or before t - 2.
        assert_eq!(seen[2], (Payload::Analog(vec![0.0]), Step(0), vec![]));
        assert_eq!(seen[3], (Payload::Analog(vec![1.0]), Step(1), vec![0.5]));
        assert_eq!(seen[9], (Payload::Analog(vec![7.0]), Step(7), vec![6.5]));
    }

    #[test]
    fn the_window_is_the_smallest_delay_that_fits_every_period() {
        assert_eq!(delayed(5, vec![1, 1], u32::MAX).window(), 5);
        assert_eq!(delayed(5, vec![1, 1], 2).window(), 2);
        // Period 2 does not divide 5, nor 5 it: 4.
        assert_eq!(delayed(5, vec![1, 2], u32::MAX).window(), 4);
        // Period 8 is a multiple of 4.
        let l = delayed(4, vec![1, 8], u32::MAX);
        assert_eq!(l.window(), 4);
        assert_eq!((l.exchange(0), l.exchange(1)), (4, 8));
        // Engine 0 takes 4 steps per window, 2 in the last one (10 steps); engine 1 one step of 8.
        let s0: Vec<u32> = (0..10).map(|t| l.steps_in_exchange(0, Step(t))).collect();
        assert_eq!(s0, [4, 0, 0, 0, 4, 0, 0, 0, 2, 0]);
        let s1: Vec<u32> = (0..10).map(|t| l.steps_in_exchange(1, Step(t))).collect();
        assert_eq!(s1, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn reset_empties_links() {
        let mut l = two_rates();
        l.push_outputs(
            0,
            Step(1),
            &[DataEntry {
                port: 1,
                stamp: Step(1),
                payload: spikes(&[0.5]),
            }],
        );
        l.reset();
        let mut got = Vec::new();
        l.take_inputs(1, Step(0), &mut got);
        assert_eq!(got[1].payload, spikes(&[]));
    }
}
