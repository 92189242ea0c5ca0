//! `aeif_cond_exp`: adaptive exponential integrate-and-fire neuron (AdEx) with exponential conductances.
//!
//! Source: Brette & Gerstner (2005) J. Neurophysiol. 94:3637; NEST 3.10 `aeif_cond_exp` (GSL RKF45).
//!
//! ```text
//! C_m dV_m/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_th)/Delta_T) - g_ex (V - E_ex) - g_in (V - E_in)
//!               - w + I_e + I_stim
//! tau_w dw/dt = a (V - E_L) - w
//! dg_X/dt = -g_X/tau_syn_X        (g_ex += w_k at an arriving spike with w_k > 0, g_in += -w_k if w_k < 0)
//! V = min(V_m, V_peak) in the currents (V_reset while refractory, when dV_m/dt = 0)
//! ```
//!
//! Integrated as NEST does: GSL's adaptive RKF45 ([`crate::rkf45`]) with the error bound
//! `gsl_odeiv_control_yp_new(gsl_error_tol, gsl_error_tol)` applied until the end of each step, the last
//! proposed step size carried to the next step per neuron. After each accepted RKF45 step inside the
//! step: a refractory neuron is held at `V_reset`; otherwise `V_m >= V_peak` (`V_th` if `Delta_T = 0`)
//! emits a spike (stamped at the end of the step), resets `V_m` to `V_reset`, adds `b` to `w` and starts
//! `t_ref` (so with `t_ref = 0`, NEST's default, a neuron may fire more than once per step). At the end of
//! the step: the refractory count goes down, arriving spikes are added to the conductances and the input
//! current is latched for the next step. Not modelled: NEST's `NumericalInstability` exception
//! (`V_m < -1e3` mV or `|w| > 1e6` pA; here the state simply runs on) and `ignore_and_spike`.

use serde::{Deserialize, Serialize};

use crate::error::{require, ParamError};
use crate::grid;
use crate::inputs::{check_inputs, input_at};
use crate::rkf45::{evolve_apply, Control};

const MODEL: &str = "aeif_cond_exp";

/// Parameters, with NEST's names (in serde) and units. Missing fields take NEST's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Membrane capacitance `C_m`, pF (default 281).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Spike initiation threshold `V_th`, mV (default -50.4).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Spike detection threshold `V_peak`, mV (default 0).
    #[serde(rename = "V_peak")]
    pub v_peak: f64,
    /// Reset potential `V_reset`, mV (default -60).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Absolute refractory period `t_ref`, ms (default 0); rounded up to whole steps.
    pub t_ref: f64,
    /// Leak conductance `g_L`, nS (default 30).
    #[serde(rename = "g_L")]
    pub g_l: f64,
    /// Leak reversal potential `E_L`, mV (default -70.6).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Excitatory reversal potential `E_ex`, mV (default 0).
    #[serde(rename = "E_ex")]
    pub e_ex: f64,
    /// Inhibitory reversal potential `E_in`, mV (default -85).
    #[serde(rename = "E_in")]
    pub e_in: f64,
    /// Slope factor `Delta_T`, mV (default 2; 0 gives integrate-and-fire dynamics with threshold `V_th`).
    #[serde(rename = "Delta_T")]
    pub delta_t: f64,
    /// Adaptation time constant `tau_w`, ms (default 144).
    pub tau_w: f64,
    /// Subthreshold adaptation `a`, nS (default 4).
    pub a: f64,
    /// Spike-triggered adaptation `b`, pA (default 80.5).
    pub b: f64,
    /// Time constant of the excitatory conductance `tau_syn_ex`, ms (default 0.2).
    pub tau_syn_ex: f64,
    /// Time constant of the inhibitory conductance `tau_syn_in`, ms (default 2).
    pub tau_syn_in: f64,
    /// Constant input current `I_e`, pA (default 0).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Error bound of the integrator `gsl_error_tol` (default 1e-6).
    pub gsl_error_tol: f64,
}

impl Default for Params {
    /// NEST 3.10's defaults (`nest.GetDefaults("aeif_cond_exp")`).
    fn default() -> Self {
        Params {
            c_m: 281.0,
            v_th: -50.4,
            v_peak: 0.0,
            v_reset: -60.0,
            t_ref: 0.0,
            g_l: 30.0,
            e_l: -70.6,
            e_ex: 0.0,
            e_in: -85.0,
            delta_t: 2.0,
            tau_w: 144.0,
            a: 4.0,
            b: 80.5,
            tau_syn_ex: 0.2,
            tau_syn_in: 2.0,
            i_e: 0.0,
            gsl_error_tol: 1e-6,
        }
    }
}

impl Params {
    /// Checks NEST's constraints (plus finiteness); the error names the first bad field.
    pub fn validate(&self) -> Result<(), ParamError> {
        let finite = [
            ("C_m", self.c_m),
            ("V_th", self.v_th),
            ("V_peak", self.v_peak),
            ("V_reset", self.v_reset),
            ("t_ref", self.t_ref),
            ("g_L", self.g_l),
            ("E_L", self.e_l),
            ("E_ex", self.e_ex),
            ("E_in", self.e_in),
            ("Delta_T", self.delta_t),
            ("tau_w", self.tau_w),
            ("a", self.a),
            ("b", self.b),
            ("tau_syn_ex", self.tau_syn_ex),
            ("tau_syn_in", self.tau_syn_in),
            ("I_e", self.i_e),
            ("gsl_error_tol", self.gsl_error_tol),
        ];
        for (field, value) in finite {
            require(value.is_finite(), MODEL, field, value, "must be finite")?;
        }
        require(
            self.v_peak >= self.v_th,
            MODEL,
            "V_peak",
            self.v_peak,
            "must be >= V_th",
        )?;
        require(
            self.delta_t >= 0.0,
            MODEL,
            "Delta_T",
            self.delta_t,
            "must be >= 0",
        )?;
        if self.delta_t > 0.0 {
            let max_exp_arg = (f64::MAX / 1e20).ln();
            require(
                (self.v_peak - self.v_th) / self.delta_t < max_exp_arg,
                MODEL,
                "Delta_T",
                self.delta_t,
                "too small for V_peak - V_th: exp((V_peak - V_th)/Delta_T) would overflow",
            )?;
        }
        require(
            self.v_reset < self.v_peak,
            MODEL,
            "V_reset",
            self.v_reset,
            "must be < V_peak",
        )?;
        require(self.c_m > 0.0, MODEL, "C_m", self.c_m, "must be > 0")?;
        require(
            self.t_ref >= 0.0,
            MODEL,
            "t_ref",
            self.t_ref,
            "must be >= 0",
        )?;
        for (field, value) in [
            ("tau_syn_ex", self.tau_syn_ex),
            ("tau_syn_in", self.tau_syn_in),
            ("tau_w", self.tau_w),
        ] {
            require(value > 0.0, MODEL, field, value, "must be > 0")?;
        }
        require(
            self.gsl_error_tol > 0.0,
            MODEL,
            "gsl_error_tol",
            self.gsl_error_tol,
            "must be > 0",
        )?;
        Ok(())
    }
}

/// Values derived once from [`Params`] and the resolution by [`prepare`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Derived {
    /// Resolution h, ms.
    pub h_ms: f64,
    /// The parameters the right-hand side reads.
    pub p: Params,
    /// Spike detection threshold: `V_peak`, or `V_th` if `Delta_T = 0`, mV.
    pub v_spike: f64,
    /// `t_ref` in steps (NEST's `refractory_counts_`).
    pub refractory_steps: u32,
    /// The integrator's error control.
    pub control: Control,
}

/// Validates `p` and derives the values for resolution `h_ms`.
pub fn prepare(p: &Params, h_ms: f64) -> Result<Derived, ParamError> {
    p.validate()?;
    let h_tics = grid::resolution_tics(h_ms)?;
    Ok(Derived {
        h_ms,
        p: *p,
        v_spike: if p.delta_t > 0.0 { p.v_peak } else { p.v_th },
        refractory_steps: grid::steps_up(p.t_ref, h_tics),
        control: Control::yp(p.gsl_error_tol, p.gsl_error_tol),
    })
}

/// NEST's `aeif_cond_exp_dynamics`, operation for operation; `y = [V_m, g_ex, g_in, w]`.
#[inline(always)]
fn dynamics(p: &Params, refractory: bool, i_stim: f64, y: &[f64; 4], f: &mut [f64; 4]) {
    let v = if refractory {
        p.v_reset
    } else {
        y[0].min(p.v_peak)
    };
    let (g_ex, g_in, w) = (y[1], y[2], y[3]);
    let i_syn_exc = g_ex * (v - p.e_ex);
    let i_syn_inh = g_in * (v - p.e_in);
    let i_spike = if p.delta_t == 0.0 {
        0.0
    } else {
        p.g_l * p.delta_t * ((v - p.v_th) / p.delta_t).exp()
    };
    f[0] = if refractory {
        0.0
    } else {
        (-p.g_l * (v - p.e_l) + i_spike - i_syn_exc - i_syn_inh - w + p.i_e + i_stim) / p.c_m
    };
    f[1] = -g_ex / p.tau_syn_ex;
    f[2] = -g_in / p.tau_syn_in;
    f[3] = (p.a * (v - p.e_l) - w) / p.tau_w;
}

/// The state of `n` neurons sharing one [`Params`], one vector per state variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Membrane potential `V_m`, mV (initially `E_L`).
    pub v_m: Vec<f64>,
    /// Excitatory conductance `g_ex`, nS.
    pub g_ex: Vec<f64>,
    /// Inhibitory conductance `g_in`, nS (positive).
    pub g_in: Vec<f64>,
    /// Adaptation current `w`, pA.
    pub w: Vec<f64>,
    /// Stepwise constant input current latched at the end of the last step (NEST's `I_stim_`), pA.
    pub i_stim: Vec<f64>,
    /// Refractory counter (NEST's `r_`: `t_ref` steps + 1 right after a spike, counted down at the end
    /// of each step).
    pub refractory: Vec<u32>,
    /// The integrator's proposed step size, ms (NEST's `IntegrationStep_`); 0 before the first step,
    /// which starts with the resolution h as NEST does.
    pub integration_step: Vec<f64>,
}

impl Population {
    /// `n` neurons at rest: `V_m = E_L`, no conductance, `w = 0`, not refractory (NEST keeps `V_m` at
    /// -70.6 mV when only `E_L` is changed; this starts at the new `E_L`).
    pub fn new(n: usize, p: &Params) -> Self {
        Population {
            v_m: vec![p.e_l; n],
            g_ex: vec![0.0; n],
            g_in: vec![0.0; n],
            w: vec![0.0; n],
            i_stim: vec![0.0; n],
            refractory: vec![0; n],
            integration_step: vec![0.0; n],
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
    /// - `ex_in`: summed non-negative weights (nS) of the spikes arriving in this step: `g_ex += ex_in`.
    /// - `in_in`: summed negative weights (nS) arriving in this step: `g_in -= in_in`.
    /// - `i_stim`: input current (pA) arriving in this step; it drives the membrane during the next step.
    /// - `spiked` is cleared, then receives the index of a neuron once per spike it fired in this step
    ///   (spike time: the end of this step; more than once only if it fired again within the step).
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
        for i in 0..n {
            let stim = self.i_stim[i];
            let mut r = self.refractory[i];
            let mut y = [self.v_m[i], self.g_ex[i], self.g_in[i], self.w[i]];
            let mut h = self.integration_step[i];
            if h <= 0.0 {
                h = d.h_ms;
            }
            let mut t = 0.0;
            while t < d.h_ms {
                let refractory = r > 0;
                let mut f = |y: &[f64; 4], dy: &mut [f64; 4]| dynamics(p, refractory, stim, y, dy);
                evolve_apply(&d.control, &mut f, &mut t, d.h_ms, &mut h, &mut y);
                if r > 0 {
                    y[0] = p.v_reset;
                } else if y[0] >= d.v_spike {
                    y[0] = p.v_reset;
                    y[3] += p.b;
                    r = if d.refractory_steps > 0 {
                        d.refractory_steps + 1
                    } else {
                        0
                    };
                    spiked.push(i as u32);
                }
            }
            self.integration_step[i] = h;
            self.refractory[i] = r.saturating_sub(1);
            y[1] += input_at(ex_in, i);
            y[2] += -input_at(in_in, i);
            self.v_m[i] = y[0];
            self.g_ex[i] = y[1];
            self.g_in[i] = y[2];
            self.w[i] = y[3];
            self.i_stim[i] = input_at(i_stim, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without input the neuron stays at rest (V_m = E_L, w = 0: the exponential term is balanced by a
    /// small depolarisation, so "rest" is the fixed point near E_L; from E_L it moves < 0.1 mV).
    #[test]
    fn rest_is_near_e_l() {
        let p = Params::default();
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(1, &p);
        let mut spiked = Vec::new();
        for _ in 0..5000 {
            pop.step(&d, &[], &[], &[], &mut spiked);
            assert!(spiked.is_empty());
        }
        // Fixed point: -g_L (V - E_L) + g_L Delta_T exp((V - V_th)/Delta_T) - a (V - E_L) = 0.
        let v = pop.v_m[0];
        let residual = -p.g_l * (v - p.e_l) + p.g_l * p.delta_t * ((v - p.v_th) / p.delta_t).exp()
            - p.a * (v - p.e_l);
        assert!((v - p.e_l).abs() < 0.1, "{v}");
        assert!(residual.abs() < 1e-3, "{residual}");
        assert!((pop.w[0] - p.a * (v - p.e_l)).abs() < 1e-3);
    }

    /// Delta_T = 0 with a = b = 0 is a conductance LIF: a constant current relaxes V_m exponentially.
    #[test]
    fn delta_t_zero_is_lif() {
        let p = Params {
            delta_t: 0.0,
            a: 0.0,
            b: 0.0,
            v_th: 0.0,
            ..Params::default()
        };
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(1, &p);
        let mut spiked = Vec::new();
        let i = 300.0;
        pop.step(&d, &[], &[], &[i], &mut spiked);
        let (tau, v_inf) = (p.c_m / p.g_l, p.e_l + i / p.g_l);
        for k in 1..=300 {
            pop.step(&d, &[], &[], &[i], &mut spiked);
            let exact = v_inf + (p.e_l - v_inf) * (-(k as f64) * 0.1 / tau).exp();
            assert!(
                (pop.v_m[0] - exact).abs() < 1e-6,
                "{k}: {} vs {exact}",
                pop.v_m[0]
            );
        }
    }

    #[test]
    fn validate_names_the_field() {
        let bad = Params {
            v_peak: -55.0,
            ..Params::default()
        };
        let e = prepare(&bad, 0.1).unwrap_err().to_string();
        assert!(e.contains("V_peak"), "{e}");
        let bad = Params {
            delta_t: -1.0,
            ..Params::default()
        };
        assert!(prepare(&bad, 0.1)
            .unwrap_err()
            .to_string()
            .contains("Delta_T"));
    }
}
