//! `stdp_dopamine_synapse` and its `volume_transmitter`: STDP gated by dopamine (three-factor rule).
//!
//! Source: Izhikevich (2007) Cereb Cortex 17:2443; Potjans et al. (2010) Front Comput Neurosci 4:141; NEST 3.10 `stdp_dopamine_synapse`.
//!
//! ```text
//! dc/dt = -c/tau_c + A_plus Kplus(t) sum_post delta(t - t_post - d) - A_minus Kminus(t - d) sum_pre delta(t - t_pre)
//! dn/dt = -n/tau_n + sum_dopa m_k delta(t - t_k) / tau_n
//! dw/dt = c (n - b),   w clipped to [Wmin, Wmax] at each update
//! ```
//!
//! `Kplus` is the pre trace (`tau_plus`, +1 per pre spike), `Kminus` the post trace of the target's
//! [`PostArchive`], `t_k` the arrival times of the dopamine spikes at the [`DopamineSignal`] with
//! multiplicities `m_k`. Between events the three equations are integrated exactly.
//!
//! **When the weight changes** (NEST's): (1) at each presynaptic spike delivered ([`send`]): the state
//! is carried from the last update through the post spikes in `(t_last_update - d, t_spike - d]` (each
//! adds to `c`) and the dopamine spikes up to `t_spike` to `t_spike`, then `c` drops by
//! `A_minus Kminus(t_spike - d)`; the target receives the updated weight; (2) at every trigger of the
//! dopamine signal, every `deliver_interval * min_delay` steps, at the slice end `t_trig`
//! ([`trigger_update_weight`]): the same without the depression. As in NEST, a spike emitted in the
//! slice that ends with a trigger is delivered after that trigger, so its update starts at
//! `t_last_update = t_trig > t_spike` and integrates backwards to `t_spike` (and the post spikes
//! between `t_spike - d` and `t_trig - d` are counted again by the next update). This is reproduced
//! on purpose: the weights follow NEST's.
//!
//! Not modelled: precise spike times, several volume transmitters per synapse model in one call,
//! setting `c` or `n` per synapse at connection (they start at 0, as NEST's defaults).

use serde::{Deserialize, Serialize};

use crate::error::{require, ParamError};
use crate::plasticity::{PostArchive, STDP_EPS_MS};

const MODEL: &str = "stdp_dopamine_synapse";

/// The common parameters (NEST: set with `CopyModel`/`SetDefaults`, shared by all synapses of the
/// model), with NEST's names and defaults. `tau_minus` belongs to the postsynaptic neuron.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Amplitude of pre-before-post changes of `c`, `A_plus` (default 1).
    #[serde(rename = "A_plus")]
    pub a_plus: f64,
    /// Amplitude of post-before-pre changes of `c`, `A_minus` (default 1.5).
    #[serde(rename = "A_minus")]
    pub a_minus: f64,
    /// Time constant of the pre trace `tau_plus`, ms (default 20).
    pub tau_plus: f64,
    /// Time constant of the eligibility trace `tau_c`, ms (default 1000).
    pub tau_c: f64,
    /// Time constant of the dopamine trace `tau_n`, ms (default 200).
    pub tau_n: f64,
    /// Dopamine baseline `b` (default 0).
    pub b: f64,
    /// Minimum weight `Wmin` (default 0).
    #[serde(rename = "Wmin")]
    pub w_min: f64,
    /// Maximum weight `Wmax` (default 200).
    #[serde(rename = "Wmax")]
    pub w_max: f64,
}

impl Default for Params {
    /// NEST 3.10's defaults (`nest.GetDefaults("stdp_dopamine_synapse")`).
    fn default() -> Self {
        Params {
            a_plus: 1.0,
            a_minus: 1.5,
            tau_plus: 20.0,
            tau_c: 1000.0,
            tau_n: 200.0,
            b: 0.0,
            w_min: 0.0,
            w_max: 200.0,
        }
    }
}

impl Params {
    /// Checks the parameters; the error names the first bad field. (NEST checks none of these.)
    pub fn validate(&self) -> Result<(), ParamError> {
        for (field, v) in [
            ("tau_plus", self.tau_plus),
            ("tau_c", self.tau_c),
            ("tau_n", self.tau_n),
        ] {
            require(v.is_finite() && v > 0.0, MODEL, field, v, "must be > 0")?;
        }
        for (field, v) in [
            ("A_plus", self.a_plus),
            ("A_minus", self.a_minus),
            ("b", self.b),
            ("Wmin", self.w_min),
            ("Wmax", self.w_max),
        ] {
            require(v.is_finite(), MODEL, field, v, "must be finite")?;
        }
        require(
            self.w_min <= self.w_max,
            MODEL,
            "Wmin",
            self.w_min,
            "must be <= Wmax",
        )
    }
}

/// The state of one synapse, with NEST's names (`dopa_spikes_idx` and `t_last_update` are NEST's
/// private bookkeeping).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Weight.
    pub weight: f64,
    /// Pre trace at `t_last_update`.
    #[serde(rename = "Kplus")]
    pub kplus: f64,
    /// Eligibility trace at `t_last_update`.
    pub c: f64,
    /// Dopamine trace at the time of the dopamine spike `dopa_spikes_idx` of the signal.
    pub n: f64,
    /// Index of the last dopamine spike processed in [`DopamineSignal::spikes`].
    pub dopa_spikes_idx: u32,
    /// Time of the last update (pre spike or trigger), ms.
    pub t_last_update: f64,
    /// Time of the last presynaptic spike, ms.
    pub t_lastspike: f64,
}

impl State {
    /// A new synapse of weight `weight` (NEST's initial state: all traces 0, times 0).
    pub fn new(weight: f64) -> Result<State, ParamError> {
        require(
            weight.is_finite(),
            MODEL,
            "weight",
            weight,
            "must be finite",
        )?;
        Ok(State {
            weight,
            kplus: 0.0,
            c: 0.0,
            n: 0.0,
            dopa_spikes_idx: 0,
            t_last_update: 0.0,
            t_lastspike: 0.0,
        })
    }
}

/// One dopamine spike at the volume transmitter (NEST's `spikecounter`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DopaSpike {
    /// Arrival time, ms.
    pub t_ms: f64,
    /// Number of spikes arriving at that time.
    pub multiplicity: f64,
}

/// The dopamine spikes of one `volume_transmitter` since its last trigger, starting with a pseudo
/// spike (multiplicity 0) at the last trigger time (0 at the start).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DopamineSignal {
    deliver_interval: u64,
    spikes: Vec<DopaSpike>,
}

impl DopamineSignal {
    /// A volume transmitter delivering every `deliver_interval` minimum delays (NEST's default 1).
    pub fn new(deliver_interval: u64) -> Result<DopamineSignal, ParamError> {
        require(
            deliver_interval >= 1,
            "volume_transmitter",
            "deliver_interval",
            deliver_interval as f64,
            "must be >= 1",
        )?;
        Ok(DopamineSignal {
            deliver_interval,
            spikes: vec![DopaSpike {
                t_ms: 0.0,
                multiplicity: 0.0,
            }],
        })
    }

    /// The volume transmitter's `deliver_interval`, in minimum delays.
    pub fn deliver_interval(&self) -> u64 {
        self.deliver_interval
    }

    /// Adds `multiplicity` dopamine spikes arriving at `t_ms` (a step end: emission time + delay).
    /// Arrivals must come in time order; those at the same time are merged (NEST sums them per step).
    /// Non-positive multiplicities are ignored, as NEST does.
    pub fn add_spike(&mut self, t_ms: f64, multiplicity: f64) -> Result<(), ParamError> {
        require(
            t_ms.is_finite(),
            "volume_transmitter",
            "spike time",
            t_ms,
            "must be finite",
        )?;
        require(
            multiplicity.is_finite(),
            "volume_transmitter",
            "multiplicity",
            multiplicity,
            "must be finite",
        )?;
        if multiplicity <= 0.0 {
            return Ok(());
        }
        let last = self.spikes[self.spikes.len() - 1];
        // After the pseudo spike (the last trigger) only later times; after a real one, not earlier.
        let pseudo = self.spikes.len() == 1;
        require(
            if pseudo {
                t_ms - last.t_ms > STDP_EPS_MS
            } else {
                t_ms - last.t_ms > -STDP_EPS_MS
            },
            "volume_transmitter",
            "spike time",
            t_ms,
            "must follow the last trigger and not precede the previous dopamine spike",
        )?;
        if !pseudo && (t_ms - last.t_ms).abs() < STDP_EPS_MS {
            let n = self.spikes.len();
            self.spikes[n - 1].multiplicity += multiplicity;
        } else {
            self.spikes.push(DopaSpike { t_ms, multiplicity });
        }
        Ok(())
    }

    /// Whether the slice ending at step `step_end` (time `step_end h`) ends with a trigger, for a
    /// network whose smallest delay is `min_delay_steps`.
    pub fn trigger_due(&self, step_end: u64, min_delay_steps: u64) -> bool {
        step_end.is_multiple_of(self.deliver_interval * min_delay_steps.max(1))
    }

    /// After `trigger_update_weight` has run for every synapse reading this signal at `t_trig_ms`:
    /// forgets the spikes and keeps a pseudo spike at `t_trig_ms`.
    pub fn finish_trigger(&mut self, t_trig_ms: f64) {
        self.spikes.clear();
        self.spikes.push(DopaSpike {
            t_ms: t_trig_ms,
            multiplicity: 0.0,
        });
    }

    /// The spikes since the last trigger, the first being the pseudo spike at the trigger.
    pub fn spikes(&self) -> &[DopaSpike] {
        &self.spikes
    }
}

/// Registers the synapse (delay `delay_ms`) with its target's archive; call once, before the first
/// spike (NEST does it in `Connect`).
pub fn connect(state: &State, delay_ms: f64, post: &mut PostArchive) {
    post.register_stdp_connection(state.t_lastspike - delay_ms, delay_ms);
}

/// `n` at the next dopamine spike: NEST's `update_dopamine_`.
#[inline]
fn update_dopamine(p: &Params, s: &mut State, dopa: &[DopaSpike]) {
    let i = s.dopa_spikes_idx as usize;
    let minus_dt = dopa[i].t_ms - dopa[i + 1].t_ms;
    s.dopa_spikes_idx += 1;
    s.n = s.n * (minus_dt / p.tau_n).exp() + dopa[i + 1].multiplicity / p.tau_n;
}

/// The weight over an interval of length `-minus_dt` from eligibility `c0` and dopamine `n0` at its
/// start, clipped: NEST's `update_weight_`.
#[inline]
fn update_weight(p: &Params, s: &mut State, c0: f64, n0: f64, minus_dt: f64) {
    let taus = (p.tau_c + p.tau_n) / (p.tau_c * p.tau_n);
    s.weight -= c0
        * (n0 / taus * (taus * minus_dt).exp_m1() - p.b * p.tau_c * (minus_dt / p.tau_c).exp_m1());
    if s.weight < p.w_min {
        s.weight = p.w_min;
    }
    if s.weight > p.w_max {
        s.weight = p.w_max;
    }
}

/// Carries weight, `c` and `n` from `t0` to `t1` through the dopamine spikes in `(t0, t1]`: NEST's
/// `process_dopa_spikes_`.
fn process_dopa_spikes(p: &Params, s: &mut State, dopa: &[DopaSpike], t0: f64, t1: f64) {
    let has_next = |s: &State| {
        dopa.len() > s.dopa_spikes_idx as usize + 1
            && t1 - dopa[s.dopa_spikes_idx as usize + 1].t_ms > -STDP_EPS_MS
    };
    if has_next(s) {
        let i = s.dopa_spikes_idx as usize;
        let n0 = s.n * ((dopa[i].t_ms - t0) / p.tau_n).exp();
        update_weight(p, s, s.c, n0, t0 - dopa[i + 1].t_ms);
        update_dopamine(p, s, dopa);
        while has_next(s) {
            let i = s.dopa_spikes_idx as usize;
            let cd = s.c * ((t0 - dopa[i].t_ms) / p.tau_c).exp();
            update_weight(p, s, cd, s.n, dopa[i].t_ms - dopa[i + 1].t_ms);
            update_dopamine(p, s, dopa);
        }
        let i = s.dopa_spikes_idx as usize;
        let cd = s.c * ((t0 - dopa[i].t_ms) / p.tau_c).exp();
        update_weight(p, s, cd, s.n, dopa[i].t_ms - t1);
    } else {
        let i = s.dopa_spikes_idx as usize;
        let n0 = s.n * ((dopa[i].t_ms - t0) / p.tau_n).exp();
        update_weight(p, s, s.c, n0, t0 - t1);
    }
    s.c *= ((t0 - t1) / p.tau_c).exp();
}

/// Delivers a presynaptic spike emitted at `t_spike_ms` through a synapse of delay `delay_ms` (all
/// dendritic) ending on the neuron whose archive is `post`, with the dopamine `signal` of its volume
/// transmitter; returns the weight the target receives. NEST's `stdp_dopamine_synapse::send`.
pub fn send(
    params: &Params,
    state: &mut State,
    t_spike_ms: f64,
    delay_ms: f64,
    post: &PostArchive,
    signal: &DopamineSignal,
) -> f64 {
    let (p, s, dopa) = (params, state, signal.spikes());
    let mut t0 = s.t_last_update;
    for t_post in post.get_history(s.t_last_update - delay_ms, t_spike_ms - delay_ms) {
        process_dopa_spikes(p, s, dopa, t0, t_post + delay_ms);
        t0 = t_post + delay_ms;
        let minus_dt = s.t_last_update - t0;
        // NEST skips facilitation for a post spike at the time of the pre spike (never the case
        // with a delay >= one step, kept for fidelity).
        if t_spike_ms - t_post > STDP_EPS_MS {
            s.c += p.a_plus * s.kplus * (minus_dt / p.tau_plus).exp();
        }
    }
    process_dopa_spikes(p, s, dopa, t0, t_spike_ms);
    s.c -= p.a_minus * post.get_k_value(t_spike_ms - delay_ms);
    s.kplus = s.kplus * ((s.t_last_update - t_spike_ms) / p.tau_plus).exp() + 1.0;
    s.t_last_update = t_spike_ms;
    s.t_lastspike = t_spike_ms;
    s.weight
}

/// Carries the synapse to the trigger time `t_trig_ms` of its volume transmitter (no spike there):
/// NEST's `stdp_dopamine_synapse::trigger_update_weight`. Call it for every synapse reading `signal`
/// when [`DopamineSignal::trigger_due`], then call [`DopamineSignal::finish_trigger`].
pub fn trigger_update_weight(
    params: &Params,
    state: &mut State,
    t_trig_ms: f64,
    delay_ms: f64,
    post: &PostArchive,
    signal: &DopamineSignal,
) {
    let (p, s, dopa) = (params, state, signal.spikes());
    let mut t0 = s.t_last_update;
    for t_post in post.get_history(s.t_last_update - delay_ms, t_trig_ms - delay_ms) {
        process_dopa_spikes(p, s, dopa, t0, t_post + delay_ms);
        t0 = t_post + delay_ms;
        let minus_dt = s.t_last_update - t0;
        s.c += p.a_plus * s.kplus * (minus_dt / p.tau_plus).exp();
    }
    process_dopa_spikes(p, s, dopa, t0, t_trig_ms);
    let i = s.dopa_spikes_idx as usize;
    s.n *= ((dopa[i].t_ms - t_trig_ms) / p.tau_n).exp();
    s.kplus *= ((s.t_last_update - t_trig_ms) / p.tau_plus).exp();
    s.t_last_update = t_trig_ms;
    s.dopa_spikes_idx = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_follows_c_times_n_between_events() {
        // c = 1 at t = 0 (set directly), one dopamine spike at 10 ms: n = 1/tau_n from then on.
        // dw/dt = c(t) n(t) with c = exp(-t/tau_c), n = exp(-(t-10)/tau_n)/tau_n, so from 10 to T:
        // w(T) - w(10) = exp(-10/tau_c)/tau_n * (1 - exp(-(T-10)(1/tau_c + 1/tau_n))) / (1/tau_c + 1/tau_n).
        let p = Params::default();
        let mut s = State::new(5.0).unwrap();
        s.c = 1.0;
        let mut sig = DopamineSignal::new(1).unwrap();
        sig.add_spike(10.0, 1.0).unwrap();
        let a = PostArchive::new(20.0).unwrap();
        trigger_update_weight(&p, &mut s, 110.0, 1.0, &a, &sig);
        let k = 1.0 / p.tau_c + 1.0 / p.tau_n;
        let dw = (-10.0 / p.tau_c).exp() / p.tau_n * (1.0 - (-100.0 * k).exp()) / k;
        assert!((s.weight - (5.0 + dw)).abs() < 1e-12, "{}", s.weight);
        assert!((s.c - (-110.0 / p.tau_c).exp()).abs() < 1e-15);
        assert!((s.n - (-100.0 / p.tau_n).exp() / p.tau_n).abs() < 1e-15);
    }

    #[test]
    fn pre_post_pairing_sets_the_eligibility_trace() {
        // Pre at 10 ms, post at 14 ms, delay 1 ms, no dopamine: c = A_plus exp(-5/tau_plus) at 15 ms.
        let p = Params::default();
        let mut s = State::new(5.0).unwrap();
        let mut a = PostArchive::new(20.0).unwrap();
        connect(&s, 1.0, &mut a);
        let sig = DopamineSignal::new(1).unwrap();
        send(&p, &mut s, 10.0, 1.0, &a, &sig);
        a.record_spike(14.0, 1.0);
        trigger_update_weight(&p, &mut s, 15.0, 1.0, &a, &sig);
        let c = p.a_plus * (-5.0f64 / 20.0).exp();
        assert!((s.c - c).abs() < 1e-15, "{}", s.c);
        assert_eq!(s.weight, 5.0); // no dopamine, b = 0: no weight change
    }

    #[test]
    fn dopamine_spikes_are_merged_and_ordered() {
        let mut sig = DopamineSignal::new(2).unwrap();
        sig.add_spike(1.0, 1.0).unwrap();
        sig.add_spike(1.0, 2.0).unwrap();
        sig.add_spike(2.0, 0.0).unwrap();
        assert_eq!(sig.spikes().len(), 2);
        assert_eq!(sig.spikes()[1].multiplicity, 3.0);
        assert!(sig.add_spike(0.5, 1.0).is_err());
        sig.finish_trigger(3.0);
        assert!(sig.add_spike(3.0, 1.0).is_err());
        sig.add_spike(3.1, 1.0).unwrap();
        assert_eq!(sig.spikes().len(), 2);
        assert!(sig.trigger_due(20, 10) && !sig.trigger_due(10, 10));
        assert!(DopamineSignal::new(0).is_err());
        let e = Params {
            tau_c: -1.0,
            ..Params::default()
        };
        assert!(e.validate().unwrap_err().to_string().contains("tau_c"));
    }
}
