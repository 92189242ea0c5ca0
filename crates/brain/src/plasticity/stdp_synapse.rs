//! `stdp_synapse`: pair-based STDP with power-law weight dependence, updated at presynaptic spikes.
//!
//! Source: Gütig, Aharonov, Rotter & Sompolinsky (2003) J Neurosci 23:3697; NEST 3.10 `stdp_synapse`.
//!
//! With `w~ = w / Wmax`, pre trace `Kplus` (`tau_plus`, +1 per pre spike) and post trace `Kminus`
//! (`tau_minus` of the postsynaptic neuron, see [`PostArchive`]):
//!
//! ```text
//! each post spike at t_post (seen at t_post + d):  w~ <- min(1, w~ + lambda (1 - w~)^mu_plus Kplus(t_post + d))
//! each pre spike at t_pre (seen at t_pre):         w~ <- max(0, w~ - alpha lambda w~^mu_minus Kminus(t_pre - d))
//! ```
//!
//! `mu = 0` is additive STDP, `mu = 1` multiplicative. The weight changes only when a presynaptic spike
//! is delivered ([`send`]): it first applies the post spikes in `(t_lastspike - d, t_spike - d]`
//! (oldest first), then the depression, and the target receives the updated weight.
//!
//! Not modelled: precise spike times, multiplicity of presynaptic spikes, the `_hom` variant.

use serde::{Deserialize, Serialize};

use crate::error::{require, ParamError};
use crate::plasticity::PostArchive;

const MODEL: &str = "stdp_synapse";

/// Parameters, with NEST's names and defaults. In NEST they are per connection; here one set per
/// projection. `tau_minus` belongs to the postsynaptic neuron ([`PostArchive::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Time constant of the pre trace `tau_plus`, ms (default 20).
    pub tau_plus: f64,
    /// Step size `lambda` (default 0.01).
    pub lambda: f64,
    /// Asymmetry `alpha`: depression steps are `alpha lambda` (default 1).
    pub alpha: f64,
    /// Weight dependence exponent of potentiation `mu_plus` (default 1).
    pub mu_plus: f64,
    /// Weight dependence exponent of depression `mu_minus` (default 1).
    pub mu_minus: f64,
    /// Maximum weight `Wmax`, in the unit of the weight (default 100); its sign is the weight's.
    #[serde(rename = "Wmax")]
    pub w_max: f64,
}

impl Default for Params {
    /// NEST 3.10's defaults (`nest.GetDefaults("stdp_synapse")`).
    fn default() -> Self {
        Params {
            tau_plus: 20.0,
            lambda: 0.01,
            alpha: 1.0,
            mu_plus: 1.0,
            mu_minus: 1.0,
            w_max: 100.0,
        }
    }
}

impl Params {
    /// Checks the parameters; the error names the first bad field. (NEST checks none of these; with
    /// them violated it divides by zero or produces NaN.)
    pub fn validate(&self) -> Result<(), ParamError> {
        require(
            self.tau_plus.is_finite() && self.tau_plus > 0.0,
            MODEL,
            "tau_plus",
            self.tau_plus,
            "must be > 0",
        )?;
        for (field, v) in [
            ("lambda", self.lambda),
            ("alpha", self.alpha),
            ("mu_plus", self.mu_plus),
            ("mu_minus", self.mu_minus),
        ] {
            require(v.is_finite(), MODEL, field, v, "must be finite")?;
        }
        require(
            self.w_max.is_finite() && self.w_max != 0.0,
            MODEL,
            "Wmax",
            self.w_max,
            "must be finite and non-zero",
        )
    }
}

/// The state of one synapse, with NEST's names.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Weight, in the target's unit (pA, or mV for `iaf_psc_delta`).
    pub weight: f64,
    /// Pre trace after the last presynaptic spike.
    #[serde(rename = "Kplus")]
    pub kplus: f64,
    /// Time of the last presynaptic spike, ms (0 before the first, as in NEST).
    pub t_lastspike: f64,
}

impl State {
    /// A new synapse of weight `weight` (NEST's initial state: `Kplus = 0`, `t_lastspike = 0`).
    /// The weight must have the sign of `Wmax` (NEST's check; 0 counts as positive).
    pub fn new(weight: f64, params: &Params) -> Result<State, ParamError> {
        require(
            weight.is_finite() && (weight >= 0.0) == (params.w_max >= 0.0),
            MODEL,
            "weight",
            weight,
            "must be finite, with the sign of Wmax",
        )?;
        Ok(State {
            weight,
            kplus: 0.0,
            t_lastspike: 0.0,
        })
    }
}

/// Registers the synapse (delay `delay_ms`) with its target's archive; call once, before the first
/// spike (NEST does it in `Connect`).
pub fn connect(state: &State, delay_ms: f64, post: &mut PostArchive) {
    post.register_stdp_connection(state.t_lastspike - delay_ms, delay_ms);
}

#[inline]
fn facilitate(p: &Params, w: f64, kplus: f64) -> f64 {
    let norm_w = (w / p.w_max) + (p.lambda * (1.0 - (w / p.w_max)).powf(p.mu_plus) * kplus);
    if norm_w < 1.0 {
        norm_w * p.w_max
    } else {
        p.w_max
    }
}

#[inline]
fn depress(p: &Params, w: f64, kminus: f64) -> f64 {
    let norm_w = (w / p.w_max) - (p.alpha * p.lambda * (w / p.w_max).powf(p.mu_minus) * kminus);
    if norm_w > 0.0 {
        norm_w * p.w_max
    } else {
        0.0
    }
}

/// Delivers a presynaptic spike emitted at `t_spike_ms` through a synapse of delay `delay_ms` (all
/// dendritic) ending on the neuron whose archive is `post`: updates the weight and the pre trace, and
/// returns the weight the target receives. NEST's `stdp_synapse::send`.
///
/// `post` must hold the target's spikes up to at least `t_spike_ms - delay_ms` (see the call contract
/// in [`crate::plasticity`]).
pub fn send(
    params: &Params,
    state: &mut State,
    t_spike_ms: f64,
    delay_ms: f64,
    post: &PostArchive,
) -> f64 {
    let p = params;
    let mut w = state.weight;
    // Facilitation by the postsynaptic spikes since the last presynaptic spike.
    for t_post in post.get_history(state.t_lastspike - delay_ms, t_spike_ms - delay_ms) {
        let minus_dt = state.t_lastspike - (t_post + delay_ms);
        w = facilitate(p, w, state.kplus * (minus_dt / p.tau_plus).exp());
    }
    // Depression by the post trace just before this spike arrives.
    w = depress(p, w, post.get_k_value(t_spike_ms - delay_ms));
    state.weight = w;
    state.kplus = state.kplus * ((state.t_lastspike - t_spike_ms) / p.tau_plus).exp() + 1.0;
    state.t_lastspike = t_spike_ms;
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(post_ms: &[f64], delay: f64) -> (PostArchive, State, Params) {
        let p = Params {
            mu_plus: 0.0,
            mu_minus: 0.0,
            ..Params::default()
        };
        let s = State::new(50.0, &p).unwrap();
        let mut a = PostArchive::new(20.0).unwrap();
        connect(&s, delay, &mut a);
        for &t in post_ms {
            a.record_spike(t, delay);
        }
        (a, s, p)
    }

    #[test]
    fn pre_then_post_potentiates_by_lambda_exp_wmax() {
        // Pre at 10 ms, post at 15 ms, delay 1 ms: the post spike is seen at 16 ms, dt = 6 ms.
        let (a, mut s, p) = archive(&[15.0], 1.0);
        let w1 = send(&p, &mut s, 10.0, 1.0, &a);
        assert_eq!(w1, 50.0); // no post spike before 10 - 1 ms: no change
        let w2 = send(&p, &mut s, 100.0, 1.0, &a);
        // Facilitation lambda exp(-6/20) Wmax, then depression alpha lambda Kminus(99) Wmax.
        let pot = p.lambda * (-6.0f64 / 20.0).exp() * p.w_max;
        let dep = p.alpha * p.lambda * (-(99.0 - 15.0) / 20.0f64).exp() * p.w_max;
        assert!((w2 - (50.0 + pot - dep)).abs() < 1e-12, "{w2}");
    }

    #[test]
    fn post_then_pre_depresses_by_alpha_lambda_exp_wmax() {
        let (a, mut s, p) = archive(&[20.0], 2.0);
        // Pre at 30 ms reads Kminus at 28 ms: dt = 8 ms.
        let w = send(&p, &mut s, 30.0, 2.0, &a);
        let dep = p.alpha * p.lambda * (-8.0f64 / 20.0).exp() * p.w_max;
        assert!((w - (50.0 - dep)).abs() < 1e-12, "{w}");
    }

    #[test]
    fn multiplicative_update_scales_with_the_distance_to_the_bounds() {
        let p = Params::default(); // mu = 1
        let mut s = State::new(80.0, &p).unwrap();
        let mut a = PostArchive::new(10.0).unwrap();
        connect(&s, 1.0, &mut a);
        send(&p, &mut s, 5.0, 1.0, &a);
        a.record_spike(7.0, 1.0);
        let w = send(&p, &mut s, 200.0, 1.0, &a);
        // Facilitation: w~ += lambda (1 - w~) exp(-(7 + 1 - 5)/20); then depression is ~exp(-19.2).
        let wt = 0.8 + 0.01 * 0.2 * (-3.0f64 / 20.0).exp();
        let expected = wt * (1.0 - 0.01 * (-192.0f64 / 10.0).exp()) * 100.0;
        assert!((w - expected).abs() < 1e-12, "{w} vs {expected}");
    }

    #[test]
    fn weights_stay_in_bounds() {
        let p = Params {
            lambda: 5.0,
            mu_plus: 0.0,
            mu_minus: 0.0,
            ..Params::default()
        };
        let mut s = State::new(50.0, &p).unwrap();
        let mut a = PostArchive::new(20.0).unwrap();
        connect(&s, 1.0, &mut a);
        send(&p, &mut s, 5.0, 1.0, &a);
        a.record_spike(6.0, 1.0);
        // Facilitation saturates at Wmax; then the depression by the trace of the spike at 6 ms.
        let w = send(&p, &mut s, 300.0, 1.0, &a);
        assert_eq!(w, 100.0 * (1.0 - 5.0 * (-293.0f64 / 20.0).exp()));
        a.record_spike(400.0, 1.0);
        assert_eq!(send(&p, &mut s, 402.0, 1.0, &a), 0.0);
    }

    #[test]
    fn bad_fields_are_named() {
        let e = serde_json::from_str::<Params>(r#"{"tau_pluss": 1.0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("tau_pluss"), "{e}");
        let p = Params {
            w_max: 0.0,
            ..Params::default()
        };
        assert!(p.validate().unwrap_err().to_string().contains("Wmax"));
        let e = State::new(-1.0, &Params::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("weight"), "{e}");
    }
}
