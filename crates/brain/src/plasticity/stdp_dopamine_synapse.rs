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
//! (NEST's `trigger_update_weight`): the same without the depression. NEST carries every synapse at
//! every delivery; here a delivery is only noted, and a synapse is carried through all the deliveries
//! it missed in one update when it is next used ([`send`], [`carry_to_delivery`], [`caught_up`]):
//! the same numbers up to rounding (`tests/stdp_vs_nest.rs`: weights sent within 1e-14 of NEST
//! and sampled traces within 1e-13, against 2e-15 and 5e-14
//! when carried at every delivery), except with a baseline `b != 0`, where the network carries
//! every synapse at every delivery as NEST ([`Params::needs_every_delivery`]). As in NEST, a spike emitted in the
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

/// The state of one synapse, with NEST's names, plus the bookkeeping of the lazy updates (see
/// [`send`]). `c` and the weight are current at `t_c`, `n` at `t_n`, `Kplus` at `t_last_update`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Weight (at `t_c`).
    pub weight: f64,
    /// Pre trace at `t_last_update`.
    #[serde(rename = "Kplus")]
    pub kplus: f64,
    /// Eligibility trace at `t_c`.
    pub c: f64,
    /// Dopamine trace at `t_n`.
    pub n: f64,
    /// Time of the last update (pre spike or delivery), ms: NEST's `t_last_update`.
    pub t_last_update: f64,
    /// Time of the last presynaptic spike, ms.
    pub t_lastspike: f64,
    /// Time at which `c` and the weight are current, ms (NEST's local `t0`).
    pub t_c: f64,
    /// Time at which `n` is current (the last dopamine spike or delivery processed), ms.
    pub t_n: f64,
    /// Postsynaptic spikes up to `t_read - delay` have been processed.
    pub t_read: f64,
    /// The last delivery of the volume transmitter this synapse has been carried to, ms.
    pub t_delivery: f64,
    /// Index of the next dopamine spike to process in the signal's history.
    pub dopa_next: u64,
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
            t_last_update: 0.0,
            t_lastspike: 0.0,
            t_c: 0.0,
            t_n: 0.0,
            t_read: 0.0,
            t_delivery: 0.0,
            dopa_next: 0,
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

/// Deliveries between two sweeps (see [`DopamineSignal::sweep_due`]).
pub const SWEEP_DELIVERIES: u64 = 1000;
/// Dopamine spikes held before a sweep is due.
pub const SWEEP_SPIKES: usize = 4096;

/// The dopamine signal of one `volume_transmitter`: its dopamine spikes (those some synapse may still
/// have to read) and its deliveries.
///
/// NEST's volume transmitter calls every synapse at every delivery (every `deliver_interval` minimum
/// delays). Here a delivery only records its time ([`DopamineSignal::deliver`]); a synapse is carried
/// through the deliveries it missed when it is next used ([`send`], [`caught_up`]), which gives NEST's
/// numbers up to rounding (see [`Params::needs_every_delivery`] for the exception). So that the
/// spike history and the postsynaptic archives stay short, every synapse is carried to the delivery
/// once every [`SWEEP_DELIVERIES`] deliveries or [`SWEEP_SPIKES`] dopamine spikes
/// ([`DopamineSignal::sweep_due`], then [`DopamineSignal::forget_read`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DopamineSignal {
    deliver_interval: u64,
    /// Dopamine spikes not yet read by every synapse; `spikes[0]` has index `first`.
    spikes: Vec<DopaSpike>,
    first: u64,
    /// Time of the last delivery, ms (0 before the first).
    last_delivery_ms: f64,
    deliveries_since_sweep: u64,
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
            spikes: Vec::new(),
            first: 0,
            last_delivery_ms: 0.0,
            deliveries_since_sweep: 0,
        })
    }

    /// The volume transmitter's `deliver_interval`, in minimum delays.
    pub fn deliver_interval(&self) -> u64 {
        self.deliver_interval
    }

    /// Adds `multiplicity` dopamine spikes arriving at `t_ms` (a step end: emission time + delay).
    /// Arrivals must come in time order and after the last delivery; those at the same time are
    /// merged (NEST sums them per step). Non-positive multiplicities are ignored, as NEST does.
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
        let last = self.spikes.last().copied();
        require(
            t_ms - self.last_delivery_ms > STDP_EPS_MS
                && last.is_none_or(|l| t_ms - l.t_ms > -STDP_EPS_MS),
            "volume_transmitter",
            "spike time",
            t_ms,
            "must follow the last delivery and not precede the previous dopamine spike",
        )?;
        match self.spikes.last_mut() {
            Some(l) if (t_ms - l.t_ms).abs() < STDP_EPS_MS => l.multiplicity += multiplicity,
            _ => self.spikes.push(DopaSpike { t_ms, multiplicity }),
        }
        Ok(())
    }

    /// Whether the slice ending at step `step_end` (time `step_end h`) ends with a delivery, for a
    /// network whose smallest delay is `min_delay_steps`.
    pub fn trigger_due(&self, step_end: u64, min_delay_steps: u64) -> bool {
        step_end.is_multiple_of(self.deliver_interval * min_delay_steps.max(1))
    }

    /// A delivery at `t_trig_ms` (NEST's `trigger_update_weight` for every synapse, done lazily).
    pub fn deliver(&mut self, t_trig_ms: f64) {
        self.last_delivery_ms = t_trig_ms;
        self.deliveries_since_sweep += 1;
    }

    /// The time of the last delivery, ms (0 before the first).
    pub fn last_delivery_ms(&self) -> f64 {
        self.last_delivery_ms
    }

    /// Whether every synapse should now be carried to the last delivery ([`caught_up`] for each),
    /// after which [`DopamineSignal::forget_read`] frees the spike history.
    pub fn sweep_due(&self) -> bool {
        self.deliveries_since_sweep >= SWEEP_DELIVERIES || self.spikes.len() >= SWEEP_SPIKES
    }

    /// Forgets the spikes up to the last delivery: call only once every synapse reading this signal
    /// has been carried to it.
    pub fn forget_read(&mut self) {
        let keep = self
            .spikes
            .partition_point(|d| d.t_ms - self.last_delivery_ms <= STDP_EPS_MS);
        self.spikes.drain(..keep);
        self.first += keep as u64;
        self.deliveries_since_sweep = 0;
    }

    /// The dopamine spikes held, oldest first.
    pub fn spikes(&self) -> &[DopaSpike] {
        &self.spikes
    }

    /// The next spike for a synapse at index `next`, if it arrives by `t1` (within the tolerance).
    #[inline]
    fn next_by(&self, next: u64, t1: f64) -> Option<DopaSpike> {
        let i = next.checked_sub(self.first)? as usize;
        self.spikes
            .get(i)
            .copied()
            .filter(|d| t1 - d.t_ms > -STDP_EPS_MS)
    }
}

impl Params {
    /// Whether synapses must be carried through every delivery as NEST does (true when the baseline
    /// `b` is not 0). With `b = 0` the weight moves monotonically between two events of a synapse
    /// (pre or post spikes, dopamine spikes: `dw/dt = c n` and neither `c` nor `n >= 0` changes
    /// sign), so clipping it at the deliveries in between changes nothing and one update over the
    /// whole gap gives NEST's weight up to rounding. With `b != 0`, `n - b` can change sign inside a
    /// gap, and where the weight touches `Wmin` or `Wmax` the deliveries matter.
    pub fn needs_every_delivery(&self) -> bool {
        self.b != 0.0
    }
}

/// Registers the synapse (delay `delay_ms`) with its target's archive; call once, before the first
/// spike (NEST does it in `Connect`).
pub fn connect(state: &State, delay_ms: f64, post: &mut PostArchive) {
    post.register_stdp_connection(state.t_lastspike - delay_ms, delay_ms);
}

/// `n` at the next dopamine spike: NEST's `update_dopamine_`.
#[inline]
fn update_dopamine(p: &Params, s: &mut State, d: DopaSpike) {
    let minus_dt = s.t_n - d.t_ms;
    s.dopa_next += 1;
    s.n = s.n * (minus_dt / p.tau_n).exp() + d.multiplicity / p.tau_n;
    s.t_n = d.t_ms;
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
/// `process_dopa_spikes_` (its `dopa_spikes[dopa_spikes_idx_]` is the spike or delivery at `t_n`).
fn process_dopa_spikes(p: &Params, s: &mut State, sig: &DopamineSignal, t0: f64, t1: f64) {
    if let Some(d) = sig.next_by(s.dopa_next, t1) {
        let n0 = s.n * ((s.t_n - t0) / p.tau_n).exp();
        update_weight(p, s, s.c, n0, t0 - d.t_ms);
        update_dopamine(p, s, d);
        while let Some(d) = sig.next_by(s.dopa_next, t1) {
            let cd = s.c * ((t0 - s.t_n) / p.tau_c).exp();
            update_weight(p, s, cd, s.n, s.t_n - d.t_ms);
            update_dopamine(p, s, d);
        }
        let cd = s.c * ((t0 - s.t_n) / p.tau_c).exp();
        update_weight(p, s, cd, s.n, s.t_n - t1);
    } else {
        let n0 = s.n * ((s.t_n - t0) / p.tau_n).exp();
        update_weight(p, s, s.c, n0, t0 - t1);
    }
    s.c *= ((t0 - t1) / p.tau_c).exp();
}

/// Facilitation by the postsynaptic spikes in `(t_read - d, t_to - d]` (those seen at `t_post + d <=
/// t_to`), carrying the synapse from `t_c` to the last of them; `skip_at` is NEST's check in `send`
/// (no facilitation by a post spike at the pre spike's time). `count`: the reads count for the
/// archive's pruning (not when only looking).
#[allow(clippy::too_many_arguments)]
fn facilitate(
    p: &Params,
    s: &mut State,
    delay_ms: f64,
    post: &PostArchive,
    sig: &DopamineSignal,
    t_to: f64,
    skip_at: Option<f64>,
    count: bool,
) {
    let mut t0 = s.t_c;
    let from = s.t_read - delay_ms;
    let to = t_to - delay_ms;
    let mut each = |t_post: f64| {
        process_dopa_spikes(p, s, sig, t0, t_post + delay_ms);
        t0 = t_post + delay_ms;
        let minus_dt = s.t_last_update - t0;
        if skip_at.is_none_or(|t_spike| t_spike - t_post > STDP_EPS_MS) {
            s.c += p.a_plus * s.kplus * (minus_dt / p.tau_plus).exp();
        }
    };
    if count {
        post.get_history(from, to).for_each(&mut each);
    } else {
        post.peek_history(from, to).for_each(&mut each);
    }
    s.t_c = t0;
}

/// Carries the synapse to the delivery at `t_trig_ms` (no spike there): NEST's
/// `trigger_update_weight`, over every delivery since the synapse's last one at once.
fn catch_up(
    p: &Params,
    s: &mut State,
    t_trig_ms: f64,
    delay_ms: f64,
    post: &PostArchive,
    sig: &DopamineSignal,
    count: bool,
) {
    facilitate(p, s, delay_ms, post, sig, t_trig_ms, None, count);
    let t0 = s.t_c;
    process_dopa_spikes(p, s, sig, t0, t_trig_ms);
    s.n *= ((s.t_n - t_trig_ms) / p.tau_n).exp();
    s.t_n = t_trig_ms;
    s.kplus *= ((s.t_last_update - t_trig_ms) / p.tau_plus).exp();
    s.t_last_update = t_trig_ms;
    s.t_c = t_trig_ms;
    s.t_read = t_trig_ms;
    s.t_delivery = t_trig_ms;
}

/// Carries the synapse (delay `delay_ms`, target archive `post`) to the signal's last delivery, as
/// NEST's `trigger_update_weight` at each delivery would have; a no-op if it is there already. The
/// network calls it for every synapse at a sweep, and at every delivery where
/// [`Params::needs_every_delivery`].
pub fn carry_to_delivery(
    params: &Params,
    state: &mut State,
    delay_ms: f64,
    post: &PostArchive,
    signal: &DopamineSignal,
) {
    let t = signal.last_delivery_ms();
    if t > state.t_delivery {
        catch_up(params, state, t, delay_ms, post, signal, true);
    }
}

/// The synapse's state after the signal's last delivery (NEST's state at that time), without
/// changing it (for reading weights and traces).
pub fn caught_up(
    params: &Params,
    state: &State,
    delay_ms: f64,
    post: &PostArchive,
    signal: &DopamineSignal,
) -> State {
    let mut s = *state;
    let t = signal.last_delivery_ms();
    if t > s.t_delivery {
        catch_up(params, &mut s, t, delay_ms, post, signal, false);
    }
    s
}

/// Delivers a presynaptic spike emitted at `t_spike_ms` through a synapse of delay `delay_ms` (all
/// dendritic) ending on the neuron whose archive is `post`, with the dopamine `signal` of its volume
/// transmitter; returns the weight the target receives. NEST's `stdp_dopamine_synapse::send`, after
/// carrying the synapse through the deliveries it missed.
///
/// A spike emitted before the last delivery (in the slice that ended with it: NEST delivers it after
/// the delivery) moves `t_last_update` back to the spike, and NEST's next update reads the
/// postsynaptic spikes from there again; their reads are taken back from the archive's counts so
/// that it keeps them until then.
pub fn send(
    params: &Params,
    state: &mut State,
    t_spike_ms: f64,
    delay_ms: f64,
    post: &PostArchive,
    signal: &DopamineSignal,
) -> f64 {
    carry_to_delivery(params, state, delay_ms, post, signal);
    let (p, s) = (params, state);
    facilitate(
        p,
        s,
        delay_ms,
        post,
        signal,
        t_spike_ms,
        Some(t_spike_ms),
        true,
    );
    let t0 = s.t_c;
    process_dopa_spikes(p, s, signal, t0, t_spike_ms);
    s.c -= p.a_minus * post.get_k_value(t_spike_ms - delay_ms);
    s.kplus = s.kplus * ((s.t_last_update - t_spike_ms) / p.tau_plus).exp() + 1.0;
    if t_spike_ms < s.t_read {
        post.unread(t_spike_ms - delay_ms, s.t_read - delay_ms);
    }
    s.t_last_update = t_spike_ms;
    s.t_lastspike = t_spike_ms;
    s.t_c = t_spike_ms;
    s.t_read = t_spike_ms;
    s.weight
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
        sig.deliver(110.0);
        let read = caught_up(&p, &s, 1.0, &a, &sig);
        carry_to_delivery(&p, &mut s, 1.0, &a, &sig);
        assert_eq!(read, s, "reading changes nothing in the result");
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
        let mut sig = DopamineSignal::new(1).unwrap();
        send(&p, &mut s, 10.0, 1.0, &a, &sig);
        a.record_spike(14.0, 1.0);
        sig.deliver(15.0);
        carry_to_delivery(&p, &mut s, 1.0, &a, &sig);
        let c = p.a_plus * (-5.0f64 / 20.0).exp();
        assert!((s.c - c).abs() < 1e-15, "{}", s.c);
        assert_eq!(s.weight, 5.0); // no dopamine, b = 0: no weight change
    }

    /// Random pre, post and dopamine spikes for `ms` ms in 1 ms slices, a delivery at each slice end
    /// (pre spikes 0.5 ms before it: delivered after it, NEST's backward update). Returns the weights
    /// sent and the final state, carried through every delivery (`eager`) or lazily.
    fn run(p: &Params, eager: bool, ms: u32) -> (Vec<f64>, State) {
        let mut s = State::new(50.0).unwrap();
        let mut a = PostArchive::new(20.0).unwrap();
        connect(&s, 1.0, &mut a);
        let mut sig = DopamineSignal::new(1).unwrap();
        let mut sent = Vec::new();
        let mut x = 12345u64;
        let mut coin = |per_mille: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % 1000 < per_mille
        };
        let mut pre_prev = false;
        for k in 1..=ms {
            let t = f64::from(k);
            // NEST's order: deliver the pre spike of the previous slice, then the slice.
            if pre_prev {
                sent.push(send(p, &mut s, t - 1.5, 1.0, &a, &sig));
            }
            pre_prev = coin(60);
            if coin(50) {
                a.record_spike(t - 0.3, 1.0);
            }
            if coin(5) {
                sig.add_spike(t - 0.2, 1.0).unwrap();
            }
            sig.deliver(t);
            if eager {
                carry_to_delivery(p, &mut s, 1.0, &a, &sig);
            }
        }
        (sent, caught_up(p, &s, 1.0, &a, &sig))
    }

    #[test]
    fn lazy_deliveries_give_the_eager_weights() {
        let p = Params {
            a_plus: 5.0,
            a_minus: 4.0,
            tau_n: 100.0,
            w_max: 51.0,
            w_min: 48.0,
            ..Params::default()
        };
        assert!(!p.needs_every_delivery());
        let (eager, e) = run(&p, true, 20_000);
        let (lazy, l) = run(&p, false, 20_000);
        assert_eq!(eager.len(), lazy.len());
        assert!(eager.len() > 1000);
        let (lo, hi) = eager
            .iter()
            .fold((f64::MAX, f64::MIN), |m, &w| (m.0.min(w), m.1.max(w)));
        // Weights clipped at Wmax (and then carried a little below it) and near Wmin.
        assert!(lo < 48.1 && hi > 50.999, "bounds reached: [{lo}, {hi}]");
        let worst = eager
            .iter()
            .zip(&lazy)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-11, "{worst}");
        for (x, y) in [
            (e.c, l.c),
            (e.n, l.n),
            (e.kplus, l.kplus),
            (e.weight, l.weight),
        ] {
            assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{x} vs {y}");
        }
        assert!(Params { b: 0.01, ..p }.needs_every_delivery());
    }

    #[test]
    fn dopamine_spikes_are_merged_and_ordered() {
        let mut sig = DopamineSignal::new(2).unwrap();
        sig.add_spike(1.0, 1.0).unwrap();
        sig.add_spike(1.0, 2.0).unwrap();
        sig.add_spike(2.0, 0.0).unwrap();
        assert_eq!(sig.spikes().len(), 1);
        assert_eq!(sig.spikes()[0].multiplicity, 3.0);
        assert!(sig.add_spike(0.5, 1.0).is_err());
        sig.deliver(3.0);
        assert!(sig.add_spike(3.0, 1.0).is_err());
        sig.add_spike(3.1, 1.0).unwrap();
        assert_eq!(sig.spikes().len(), 2);
        sig.forget_read();
        assert_eq!(sig.spikes().len(), 1);
        assert!(sig.trigger_due(20, 10) && !sig.trigger_due(10, 10));
        assert!(DopamineSignal::new(0).is_err());
        let e = Params {
            tau_c: -1.0,
            ..Params::default()
        };
        assert!(e.validate().unwrap_err().to_string().contains("tau_c"));
    }
}
