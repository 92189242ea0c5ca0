//! `iaf_psc_alpha`: leaky integrate-and-fire neuron with alpha-shaped synaptic currents.
//!
//! Source: Rotter & Diesmann (1999), exact integration; NEST 3.10 `iaf_psc_alpha`.
//!
//! ```text
//! dV_m/dt = -(V_m - E_L)/tau_m + (I_syn_ex + I_syn_in + I_e + I_stim)/C_m,   V_m >= V_min
//! i_syn_X(t) = w e/tau_syn_X t exp(-t/tau_syn_X)    (peak w at t = tau_syn_X; inhibitory w < 0)
//! ```
//!
//! Each current is the pair (`dI_syn_X`, `I_syn_X`) of a critically damped linear system; a spike of
//! weight `w` adds `w e/tau_syn_X` to `dI_syn_X`. A spike is emitted at the end of the step in which
//! `V_m >= V_th`; `V_m` is then clamped to `V_reset` for `t_ref` (rounded up to whole steps) while the
//! currents keep evolving.

use serde::{Deserialize, Serialize};

use crate::error::{require, ParamError};
use crate::inputs::{check_inputs, input_at};
use crate::{grid, propagator};

const MODEL: &str = "iaf_psc_alpha";

/// Parameters, with NEST's names (in serde) and units. Missing fields take NEST's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Membrane capacitance `C_m`, pF (default 250).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Membrane time constant `tau_m`, ms (default 10).
    pub tau_m: f64,
    /// Absolute refractory period `t_ref`, ms (default 2); rounded up to whole steps.
    pub t_ref: f64,
    /// Resting potential `E_L`, mV (default -70).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Spike threshold `V_th`, mV (default -55).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Reset potential `V_reset`, mV (default -70).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Constant input current `I_e`, pA (default 0).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Rise time of the excitatory alpha current `tau_syn_ex`, ms (default 2).
    pub tau_syn_ex: f64,
    /// Rise time of the inhibitory alpha current `tau_syn_in`, ms (default 2).
    pub tau_syn_in: f64,
    /// Lower bound of the membrane potential `V_min`, mV (default: none, NEST's `-inf`).
    #[serde(rename = "V_min")]
    pub v_min: Option<f64>,
}

impl Default for Params {
    /// NEST 3.10's defaults (`nest.GetDefaults("iaf_psc_alpha")`).
    fn default() -> Self {
        Params {
            c_m: 250.0,
            tau_m: 10.0,
            t_ref: 2.0,
            e_l: -70.0,
            v_th: -55.0,
            v_reset: -70.0,
            i_e: 0.0,
            tau_syn_ex: 2.0,
            tau_syn_in: 2.0,
            v_min: None,
        }
    }
}

impl Params {
    /// Checks NEST's constraints; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ParamError> {
        let finite = [
            ("C_m", self.c_m),
            ("tau_m", self.tau_m),
            ("t_ref", self.t_ref),
            ("E_L", self.e_l),
            ("V_th", self.v_th),
            ("V_reset", self.v_reset),
            ("I_e", self.i_e),
            ("tau_syn_ex", self.tau_syn_ex),
            ("tau_syn_in", self.tau_syn_in),
        ];
        for (field, value) in finite {
            require(value.is_finite(), MODEL, field, value, "must be finite")?;
        }
        require(self.c_m > 0.0, MODEL, "C_m", self.c_m, "must be > 0")?;
        require(self.tau_m > 0.0, MODEL, "tau_m", self.tau_m, "must be > 0")?;
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
        require(
            self.t_ref >= 0.0,
            MODEL,
            "t_ref",
            self.t_ref,
            "must be >= 0",
        )?;
        require(
            self.v_reset < self.v_th,
            MODEL,
            "V_reset",
            self.v_reset,
            "must be < V_th",
        )?;
        if let Some(v_min) = self.v_min {
            require(!v_min.is_nan(), MODEL, "V_min", v_min, "must be a number")?;
            require(
                self.v_reset >= v_min,
                MODEL,
                "V_reset",
                self.v_reset,
                "must be >= V_min",
            )?;
        }
        Ok(())
    }
}

/// Values derived once from [`Params`] and the resolution by [`prepare`]: the propagators of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Derived {
    /// Resolution h, ms.
    pub h_ms: f64,
    /// `E_L`, mV.
    pub e_l: f64,
    /// Threshold relative to `E_L`, mV.
    pub theta: f64,
    /// Reset potential relative to `E_L`, mV.
    pub v_reset_rel: f64,
    /// Lower bound relative to `E_L`, mV (`-inf` if none).
    pub v_min_rel: f64,
    /// `I_e`, pA.
    pub i_e: f64,
    /// `expm1(-h/tau_m)`: V to V, minus one (NEST adds `V` separately for accuracy).
    pub expm1_tau_m: f64,
    /// `-tau_m/C_m expm1(-h/tau_m)`: constant current (pA) to V (mV).
    pub p30: f64,
    /// `dI_syn_ex` (pA/ms) to V (mV), exact (limit at `tau_syn_ex == tau_m`).
    pub p31_ex: f64,
    /// `I_syn_ex` (pA) to V (mV), exact (limit at `tau_syn_ex == tau_m`).
    pub p32_ex: f64,
    /// `dI_syn_in` (pA/ms) to V (mV).
    pub p31_in: f64,
    /// `I_syn_in` (pA) to V (mV).
    pub p32_in: f64,
    /// `exp(-h/tau_syn_ex)`: `dI` to `dI` and `I` to `I`.
    pub p11_ex: f64,
    /// `h exp(-h/tau_syn_ex)`: `dI` to `I`.
    pub p21_ex: f64,
    /// `exp(-h/tau_syn_in)`.
    pub p11_in: f64,
    /// `h exp(-h/tau_syn_in)`.
    pub p21_in: f64,
    /// `e/tau_syn_ex`: jump of `dI_syn_ex` per pA of weight, so that the current peaks at the weight.
    pub epsc_initial: f64,
    /// `e/tau_syn_in`.
    pub ipsc_initial: f64,
    /// `t_ref` in steps (NEST's `RefractoryCounts`).
    pub refractory_steps: u32,
}

/// Validates `p` and computes the propagators for resolution `h_ms` (the only place that calls `exp`).
pub fn prepare(p: &Params, h_ms: f64) -> Result<Derived, ParamError> {
    p.validate()?;
    let h_tics = grid::resolution_tics(h_ms)?;
    let h = h_ms;
    let expm1_tau_m = (-h / p.tau_m).exp_m1();
    let p11_ex = (-h / p.tau_syn_ex).exp();
    let p11_in = (-h / p.tau_syn_in).exp();
    let (p31_ex, p32_ex) = propagator::alpha_p_vdi_vi(p.tau_syn_ex, p.tau_m, p.c_m, h);
    let (p31_in, p32_in) = propagator::alpha_p_vdi_vi(p.tau_syn_in, p.tau_m, p.c_m, h);
    Ok(Derived {
        h_ms,
        e_l: p.e_l,
        theta: p.v_th - p.e_l,
        v_reset_rel: p.v_reset - p.e_l,
        v_min_rel: p.v_min.map_or(f64::NEG_INFINITY, |v| v - p.e_l),
        i_e: p.i_e,
        expm1_tau_m,
        p30: -p.tau_m / p.c_m * expm1_tau_m,
        p31_ex,
        p32_ex,
        p31_in,
        p32_in,
        p11_ex,
        p21_ex: h * p11_ex,
        p11_in,
        p21_in: h * p11_in,
        epsc_initial: std::f64::consts::E / p.tau_syn_ex,
        ipsc_initial: std::f64::consts::E / p.tau_syn_in,
        refractory_steps: grid::steps_up(p.t_ref, h_tics),
    })
}

/// The state of `n` neurons sharing one [`Params`], one vector per state variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Membrane potential `V_m`, mV (initially `E_L`).
    pub v_m: Vec<f64>,
    /// Excitatory synaptic current `I_syn_ex`, pA.
    pub i_syn_ex: Vec<f64>,
    /// Its derivative `dI_syn_ex`, pA/ms.
    pub di_syn_ex: Vec<f64>,
    /// Inhibitory synaptic current `I_syn_in`, pA (negative when driven by inhibitory weights).
    pub i_syn_in: Vec<f64>,
    /// Its derivative `dI_syn_in`, pA/ms.
    pub di_syn_in: Vec<f64>,
    /// Stepwise constant input current latched at the end of the last step (NEST's `y0`), pA.
    pub i_stim: Vec<f64>,
    /// Remaining refractory steps.
    pub refractory: Vec<u32>,
}

impl Population {
    /// `n` neurons at rest: `V_m = E_L`, no current, not refractory (as NEST creates them with default
    /// parameters; NEST keeps `V_m` at -70 mV when only `E_L` is changed, this starts at the new `E_L`).
    pub fn new(n: usize, p: &Params) -> Self {
        Population {
            v_m: vec![p.e_l; n],
            i_syn_ex: vec![0.0; n],
            di_syn_ex: vec![0.0; n],
            i_syn_in: vec![0.0; n],
            di_syn_in: vec![0.0; n],
            i_stim: vec![0.0; n],
            refractory: vec![0; n],
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

    /// Advances every neuron by one step of `d.h_ms`, in NEST's order: membrane update from the
    /// currents of the last step (skipped while refractory) and the `V_min` bound, current
    /// propagation, arriving spike input added to `dI`, threshold and reset, then the input current is
    /// latched for the next step.
    ///
    /// - `ex_in`, `in_in`: summed weights (pA, the peak current of each spike) arriving in this step,
    ///   per neuron (NEST: weight > 0 goes to `ex`, otherwise to `in`); they act from the end of the step.
    /// - `i_stim`: input current (pA, e.g. a `dc_generator`'s) arriving in this step; it drives the
    ///   membrane during the next step.
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
        for i in 0..n {
            let mut v = self.v_m[i] - d.e_l;
            if self.refractory[i] == 0 {
                v = d.p30 * (self.i_stim[i] + d.i_e)
                    + d.p31_ex * self.di_syn_ex[i]
                    + d.p32_ex * self.i_syn_ex[i]
                    + d.p31_in * self.di_syn_in[i]
                    + d.p32_in * self.i_syn_in[i]
                    + d.expm1_tau_m * v
                    + v;
                v = if v < d.v_min_rel { d.v_min_rel } else { v };
                self.v_m[i] = v + d.e_l;
            } else {
                self.refractory[i] -= 1;
            }

            self.i_syn_ex[i] = d.p21_ex * self.di_syn_ex[i] + d.p11_ex * self.i_syn_ex[i];
            self.di_syn_ex[i] = self.di_syn_ex[i] * d.p11_ex + d.epsc_initial * input_at(ex_in, i);
            self.i_syn_in[i] = d.p21_in * self.di_syn_in[i] + d.p11_in * self.i_syn_in[i];
            self.di_syn_in[i] = self.di_syn_in[i] * d.p11_in + d.ipsc_initial * input_at(in_in, i);

            if v >= d.theta {
                self.refractory[i] = d.refractory_steps;
                self.v_m[i] = d.v_reset_rel + d.e_l;
                spiked.push(i as u32);
            }
            self.i_stim[i] = input_at(i_stim, i);
        }
    }
}
