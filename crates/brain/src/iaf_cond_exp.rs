//! `iaf_cond_exp`: leaky integrate-and-fire neuron with exponentially decaying synaptic conductances.
//!
//! Source: Meffin et al. (2004) / Kuhn et al. (2004) conductance LIF; NEST 3.10 `iaf_cond_exp` (GSL RKF45).
//!
//! ```text
//! C_m dV_m/dt = -g_L (V - E_L) - g_ex (V - E_ex) - g_in (V - E_in) + I_e + I_stim
//! dg_X/dt = -g_X/tau_syn_X        (g_ex += w at an arriving spike with w > 0, g_in += -w if w < 0)
//! V = min(V_m, V_th) in the currents (V_reset while refractory, when dV_m/dt = 0)
//! ```
//!
//! Integrated as NEST does: GSL's adaptive RKF45 ([`crate::rkf45`]) with the error bound
//! `gsl_odeiv_control_y_new(1e-3, 0)` (1e-3 absolute on every state variable), applied until the end of
//! each step, the last proposed step size carried to the next step per neuron (NEST's
//! `IntegrationStep_`). Then, in NEST's order: arriving spikes are added to the conductances; a
//! refractory neuron counts down and is held at `V_reset`; otherwise `V_m >= V_th` emits a spike at the
//! end of the step, resets to `V_reset` and starts `t_ref` (rounded up to whole steps); the input current
//! is latched for the next step. Not modelled: NEST's `ignore_and_spike` test mode.

use serde::{Deserialize, Serialize};

use crate::error::{require, ParamError};
use crate::grid;
use crate::inputs::{check_inputs, input_at};
use crate::rkf45::{evolve_apply, Control};

const MODEL: &str = "iaf_cond_exp";

/// Parameters, with NEST's names (in serde) and units. Missing fields take NEST's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Spike threshold `V_th`, mV (default -55).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Reset potential `V_reset`, mV (default -60).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Absolute refractory period `t_ref`, ms (default 2); rounded up to whole steps.
    pub t_ref: f64,
    /// Leak conductance `g_L`, nS (default 16.6667).
    #[serde(rename = "g_L")]
    pub g_l: f64,
    /// Membrane capacitance `C_m`, pF (default 250).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Excitatory reversal potential `E_ex`, mV (default 0).
    #[serde(rename = "E_ex")]
    pub e_ex: f64,
    /// Inhibitory reversal potential `E_in`, mV (default -85).
    #[serde(rename = "E_in")]
    pub e_in: f64,
    /// Leak reversal (resting) potential `E_L`, mV (default -70).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Time constant of the excitatory conductance `tau_syn_ex`, ms (default 0.2).
    pub tau_syn_ex: f64,
    /// Time constant of the inhibitory conductance `tau_syn_in`, ms (default 2).
    pub tau_syn_in: f64,
    /// Constant input current `I_e`, pA (default 0).
    #[serde(rename = "I_e")]
    pub i_e: f64,
}

impl Default for Params {
    /// NEST 3.10's defaults (`nest.GetDefaults("iaf_cond_exp")`).
    fn default() -> Self {
        Params {
            v_th: -55.0,
            v_reset: -60.0,
            t_ref: 2.0,
            g_l: 16.6667,
            c_m: 250.0,
            e_ex: 0.0,
            e_in: -85.0,
            e_l: -70.0,
            tau_syn_ex: 0.2,
            tau_syn_in: 2.0,
            i_e: 0.0,
        }
    }
}

impl Params {
    /// Checks NEST's constraints (plus finiteness); the error names the first bad field.
    pub fn validate(&self) -> Result<(), ParamError> {
        let finite = [
            ("V_th", self.v_th),
            ("V_reset", self.v_reset),
            ("t_ref", self.t_ref),
            ("g_L", self.g_l),
            ("C_m", self.c_m),
            ("E_ex", self.e_ex),
            ("E_in", self.e_in),
            ("E_L", self.e_l),
            ("tau_syn_ex", self.tau_syn_ex),
            ("tau_syn_in", self.tau_syn_in),
            ("I_e", self.i_e),
        ];
        for (field, value) in finite {
            require(value.is_finite(), MODEL, field, value, "must be finite")?;
        }
        require(
            self.v_reset < self.v_th,
            MODEL,
            "V_reset",
            self.v_reset,
            "must be < V_th",
        )?;
        require(self.c_m > 0.0, MODEL, "C_m", self.c_m, "must be > 0")?;
        require(
            self.t_ref >= 0.0,
            MODEL,
            "t_ref",
            self.t_ref,
            "must be >= 0",
        )?;
        require(
            self.tau_syn_ex > 0.0,
            MODEL,
            "tau_syn_ex",
            self.tau_syn_ex,
            "must be > 0",
        )?;
        require(
            self.tau_syn_in > 0.0,
            MODEL,
            "tau_syn_in",
            self.tau_syn_in,
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
    /// `t_ref` in steps (NEST's `RefractoryCounts_`).
    pub refractory_steps: u32,
}

/// Validates `p` and derives the values for resolution `h_ms`.
pub fn prepare(p: &Params, h_ms: f64) -> Result<Derived, ParamError> {
    p.validate()?;
    let h_tics = grid::resolution_tics(h_ms)?;
    Ok(Derived {
        h_ms,
        p: *p,
        refractory_steps: grid::steps_up(p.t_ref, h_tics),
    })
}

/// NEST's error bound for this model: `gsl_odeiv_control_y_new(1e-3, 0.0)`.
const CONTROL: Control = Control {
    eps_abs: 1e-3,
    eps_rel: 0.0,
    a_y: 1.0,
    a_dydt: 0.0,
};

/// NEST's `iaf_cond_exp_dynamics`, operation for operation; `y = [V_m, g_ex, g_in]`.
#[inline(always)]
fn dynamics(p: &Params, refractory: bool, i_stim: f64, y: &[f64; 3], f: &mut [f64; 3]) {
    let v = if refractory {
        p.v_reset
    } else {
        y[0].min(p.v_th)
    };
    let i_syn_exc = y[1] * (v - p.e_ex);
    let i_syn_inh = y[2] * (v - p.e_in);
    let i_l = p.g_l * (v - p.e_l);
    f[0] = if refractory {
        0.0
    } else {
        (-i_l + i_stim + p.i_e - i_syn_exc - i_syn_inh) / p.c_m
    };
    f[1] = -y[1] / p.tau_syn_ex;
    f[2] = -y[2] / p.tau_syn_in;
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
    /// Stepwise constant input current latched at the end of the last step (NEST's `I_stim_`), pA.
    pub i_stim: Vec<f64>,
    /// Remaining refractory steps.
    pub refractory: Vec<u32>,
    /// The integrator's proposed step size, ms (NEST's `IntegrationStep_`); 0 before the first step,
    /// which starts with the resolution h as NEST does.
    pub integration_step: Vec<f64>,
}

impl Population {
    /// `n` neurons at rest: `V_m = E_L`, no conductance, not refractory (NEST keeps `V_m` at -70 mV when
    /// only `E_L` is changed; this starts at the new `E_L`).
    pub fn new(n: usize, p: &Params) -> Self {
        Population {
            v_m: vec![p.e_l; n],
            g_ex: vec![0.0; n],
            g_in: vec![0.0; n],
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

    /// Advances every neuron by one step of `d.h_ms`, in NEST's order: RKF45 integration over the step
    /// with the current latched in the last step, arriving spikes added to the conductances, refractory
    /// countdown or threshold and reset, then the input current is latched for the next step.
    ///
    /// - `ex_in`: summed non-negative weights (nS) of the spikes arriving in this step: `g_ex += ex_in`.
    /// - `in_in`: summed negative weights (nS) arriving in this step: `g_in -= in_in`.
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
        for i in 0..n {
            let refractory = self.refractory[i] > 0;
            let stim = self.i_stim[i];
            let mut y = [self.v_m[i], self.g_ex[i], self.g_in[i]];
            let mut h = self.integration_step[i];
            if h <= 0.0 {
                h = d.h_ms;
            }
            let mut f = |y: &[f64; 3], dy: &mut [f64; 3]| dynamics(p, refractory, stim, y, dy);
            let mut t = 0.0;
            while t < d.h_ms {
                evolve_apply(&CONTROL, &mut f, &mut t, d.h_ms, &mut h, &mut y);
            }
            self.integration_step[i] = h;
            y[1] += input_at(ex_in, i);
            y[2] += -input_at(in_in, i);
            if self.refractory[i] > 0 {
                self.refractory[i] -= 1;
                y[0] = p.v_reset;
            } else if y[0] >= p.v_th {
                self.refractory[i] = d.refractory_steps;
                y[0] = p.v_reset;
                spiked.push(i as u32);
            }
            self.v_m[i] = y[0];
            self.g_ex[i] = y[1];
            self.g_in[i] = y[2];
            self.i_stim[i] = input_at(i_stim, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without input the neuron stays exactly at E_L.
    #[test]
    fn rest_stays_at_e_l() {
        let p = Params::default();
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(3, &p);
        let mut spiked = Vec::new();
        for _ in 0..1000 {
            pop.step(&d, &[], &[], &[], &mut spiked);
            assert!(spiked.is_empty());
        }
        assert!(pop.v_m.iter().all(|&v| v == -70.0));
    }

    /// A constant current I relaxes V_m to E_L + I/g_L with time constant C_m/g_L (no synaptic input).
    #[test]
    fn constant_current_relaxes_exponentially() {
        let p = Params {
            v_th: 0.0,
            ..Params::default()
        };
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(1, &p);
        let mut spiked = Vec::new();
        let i = 150.0;
        pop.step(&d, &[], &[], &[i], &mut spiked); // latched: drives from t = 0.1 ms
        let tau = p.c_m / p.g_l;
        let v_inf = p.e_l + i / p.g_l;
        for k in 1..=500 {
            pop.step(&d, &[], &[], &[i], &mut spiked);
            let t = k as f64 * 0.1;
            let exact = v_inf + (p.e_l - v_inf) * (-t / tau).exp();
            // The control bounds the local error by 1e-3 mV per step; in practice far below.
            assert!(
                (pop.v_m[0] - exact).abs() < 1e-4,
                "t {t}: {} vs {exact}",
                pop.v_m[0]
            );
        }
    }

    /// Under a constant conductance (tau_syn very long) V_m settles at the conductance-weighted mean of
    /// the reversal potentials.
    #[test]
    fn steady_state_under_constant_conductance() {
        let p = Params {
            tau_syn_ex: 1e12,
            tau_syn_in: 1e12,
            ..Params::default()
        };
        let d = prepare(&p, 0.1).unwrap();
        let mut pop = Population::new(1, &p);
        let mut spiked = Vec::new();
        let (g_ex, g_in) = (2.0, 10.0);
        pop.step(&d, &[g_ex], &[-g_in], &[], &mut spiked);
        for _ in 0..3000 {
            pop.step(&d, &[], &[], &[], &mut spiked);
        }
        let v_inf = (p.g_l * p.e_l + g_ex * p.e_ex + g_in * p.e_in) / (p.g_l + g_ex + g_in);
        assert!(
            (pop.v_m[0] - v_inf).abs() < 1e-6,
            "{} vs {v_inf}",
            pop.v_m[0]
        );
        assert!((pop.g_ex[0] - g_ex).abs() < 1e-6 && (pop.g_in[0] - g_in).abs() < 1e-6);
    }

    #[test]
    fn validate_names_the_field() {
        let bad = Params {
            tau_syn_in: 0.0,
            ..Params::default()
        };
        let e = prepare(&bad, 0.1).unwrap_err().to_string();
        assert!(e.contains("tau_syn_in"), "{e}");
        let bad = Params {
            v_reset: -50.0,
            ..Params::default()
        };
        assert!(prepare(&bad, 0.1).is_err());
    }
}
