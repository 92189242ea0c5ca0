//! `izhikevich`: Izhikevich's simple spiking model, forward-Euler integrated on the grid as NEST does.
//!
//! Source: Izhikevich (2003) IEEE Trans. Neural Netw. 14:1569; NEST 3.10 `izhikevich`.
//!
//! ```text
//! dV_m/dt = 0.04 V_m^2 + 5 V_m + 140 - U_m + I_e + I_stim + sum_k w_k delta(t - t_k)
//! dU_m/dt = a (b V_m - U_m)
//! if V_m >= V_th: V_m = c, U_m = U_m + d        (V_m >= V_min at all times)
//! ```
//!
//! One step of h, with NEST's floating-point operations in NEST's order. With `consistent_integration`
//! (NEST's default) both variables take one explicit Euler step from the old values and the arriving
//! spike weights (mV) are added to `V_m`; without it, `V_m` takes two half steps that include the
//! spike input as a current, then `U_m` one step from the new `V_m` (Izhikevich's published code, meant
//! for h = 1 ms). Then the `V_min` bound, threshold and reset (a spike at the end of the step), and the
//! input current is latched for the next step. There is no refractory period. Not modelled: NEST's
//! `ignore_and_spike` test mode.

use serde::{Deserialize, Serialize};

use crate::error::{require, ParamError};
use crate::grid;
use crate::inputs::{check_inputs, input_at};

const MODEL: &str = "izhikevich";

/// Parameters, with NEST's names (in serde) and units. Missing fields take NEST's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Time scale of the recovery variable `a`, 1/ms (default 0.02).
    pub a: f64,
    /// Sensitivity of the recovery variable to `V_m`, `b` (default 0.2).
    pub b: f64,
    /// After-spike reset value of `V_m`, `c`, mV (default -65).
    pub c: f64,
    /// After-spike increment of `U_m`, `d` (default 8).
    pub d: f64,
    /// Constant input current `I_e`, pA (default 0).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Spike threshold `V_th`, mV (default 30).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Lower bound of the membrane potential `V_min`, mV (default: none, NEST's `-DBL_MAX`).
    #[serde(rename = "V_min")]
    pub v_min: Option<f64>,
    /// NEST's `consistent_integration` (default true): Euler step from the old values; false: the
    /// published two half steps.
    pub consistent_integration: bool,
}

impl Default for Params {
    /// NEST 3.10's defaults (`nest.GetDefaults("izhikevich")`).
    fn default() -> Self {
        Params {
            a: 0.02,
            b: 0.2,
            c: -65.0,
            d: 8.0,
            i_e: 0.0,
            v_th: 30.0,
            v_min: None,
            consistent_integration: true,
        }
    }
}

impl Params {
    /// Checks that every value is finite (NEST has no other constraint); the error names the field.
    pub fn validate(&self) -> Result<(), ParamError> {
        let finite = [
            ("a", self.a),
            ("b", self.b),
            ("c", self.c),
            ("d", self.d),
            ("I_e", self.i_e),
            ("V_th", self.v_th),
            ("V_min", self.v_min.unwrap_or(0.0)),
        ];
        for (field, value) in finite {
            require(value.is_finite(), MODEL, field, value, "must be finite")?;
        }
        Ok(())
    }
}

/// Values derived once from [`Params`] and the resolution by [`prepare`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Derived {
    /// Resolution h, ms.
    pub h_ms: f64,
    /// The parameters.
    pub p: Params,
    /// `V_min`, mV (`-f64::MAX` if unbounded, as NEST).
    pub v_min: f64,
}

/// Validates `p` and derives the values for resolution `h_ms`.
pub fn prepare(p: &Params, h_ms: f64) -> Result<Derived, ParamError> {
    p.validate()?;
    grid::resolution_tics(h_ms)?;
    Ok(Derived {
        h_ms,
        p: *p,
        v_min: p.v_min.unwrap_or(-f64::MAX),
    })
}

/// NEST's initial `V_m`, mV.
pub const V_M_INIT: f64 = -65.0;
/// NEST's initial `U_m` (`0.2 * -65`, whatever `b` is).
pub const U_M_INIT: f64 = 0.2 * -65.0;

/// The state of `n` neurons sharing one [`Params`], one vector per state variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Membrane potential `V_m`, mV (initially -65, NEST's default).
    pub v_m: Vec<f64>,
    /// Recovery variable `U_m` (initially -13, NEST's default).
    pub u_m: Vec<f64>,
    /// Stepwise constant input current latched at the end of the last step (NEST's `I_`), pA.
    pub i_stim: Vec<f64>,
}

impl Population {
    /// `n` neurons in NEST's initial state `V_m = -65`, `U_m = -13` (independent of the parameters,
    /// as in NEST; set `v_m`/`u_m` for other initial conditions).
    pub fn new(n: usize, _p: &Params) -> Self {
        Population {
            v_m: vec![V_M_INIT; n],
            u_m: vec![U_M_INIT; n],
            i_stim: vec![0.0; n],
        }
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.v_m.len()
    }

    /// Whether the population has no neurons.
    pub fn is_empty(&self) -> bool {
        self.v_m.is_empty()
    }

    /// Advances every neuron by one step of `d.h_ms` (see the module doc for the order).
    ///
    /// - `ex_in`, `in_in`: summed weights (mV) of the spikes arriving in this step, per neuron; both
    ///   move `V_m` (NEST keeps one buffer for both signs).
    /// - `i_stim`: input current (pA) arriving in this step; it drives the membrane during the next step.
    /// - `spiked` is cleared, then receives the indices of the neurons that fired (spike time: the end
    ///   of this step).
    ///
    /// An input slice may be empty (no input); otherwise it must have one entry per neuron.
    pub fn step(
        &mut self,
        d: &Derived,
        ex_in: &[f64],
        in_in: &[f64],
        i_stim: &[f64],
        spiked: &mut Vec<u32>,
    ) {
        let n = self.len();
        check_inputs(n, ex_in, in_in, i_stim);
        spiked.clear();
        let p = &d.p;
        let h = d.h_ms;
        for i in 0..n {
            let syn = input_at(ex_in, i) + input_at(in_in, i);
            let (mut v, mut u) = (self.v_m[i], self.u_m[i]);
            let stim = self.i_stim[i];
            if p.consistent_integration {
                let (v_old, u_old) = (v, u);
                v += h * (0.04 * v_old * v_old + 5.0 * v_old + 140.0 - u_old + stim + p.i_e) + syn;
                u += h * p.a * (p.b * v_old - u_old);
            } else {
                v += h * 0.5 * (0.04 * v * v + 5.0 * v + 140.0 - u + stim + p.i_e + syn);
                v += h * 0.5 * (0.04 * v * v + 5.0 * v + 140.0 - u + stim + p.i_e + syn);
                u += h * p.a * (p.b * v - u);
            }
            v = if v < d.v_min { d.v_min } else { v };
            if v >= p.v_th {
                v = p.c;
                u += p.d;
                spiked.push(i as u32);
            }
            self.v_m[i] = v;
            self.u_m[i] = u;
            self.i_stim[i] = input_at(i_stim, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed point of the default model without input: 0.04 V^2 + 5 V + 140 = b V... with U = b V:
    /// 0.04 V^2 + (5 - b) V + 140 = 0, V = -70 for b = 0.2; the state stays there exactly.
    #[test]
    fn resting_fixed_point() {
        let p = Params::default();
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(1, &p);
        pop.v_m[0] = -70.0;
        pop.u_m[0] = -14.0;
        let mut spiked = Vec::new();
        for _ in 0..1000 {
            pop.step(&d, &[], &[], &[], &mut spiked);
        }
        assert!((pop.v_m[0] + 70.0).abs() < 1e-12 && (pop.u_m[0] + 14.0).abs() < 1e-12);
    }

    /// Regular spiking with 10 pA: it fires repeatedly, resets to c and adds d to U_m.
    #[test]
    fn tonic_spiking_resets() {
        let p = Params::default();
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(1, &p);
        let mut spiked = Vec::new();
        let mut count = 0;
        for _ in 0..10000 {
            let u_before = pop.u_m[0];
            pop.step(&d, &[], &[], &[10.0], &mut spiked);
            if !spiked.is_empty() {
                count += 1;
                assert_eq!(pop.v_m[0], p.c);
                assert!(pop.u_m[0] > u_before + 0.9 * p.d);
            }
        }
        assert!(count > 5, "{count} spikes in 1 s");
    }

    #[test]
    fn v_min_bounds_v_m() {
        let p = Params {
            v_min: Some(-80.0),
            ..Params::default()
        };
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(1, &p);
        let mut spiked = Vec::new();
        pop.step(&d, &[], &[-50.0], &[], &mut spiked);
        assert_eq!(pop.v_m[0], -80.0);
    }
}
