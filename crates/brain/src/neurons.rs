//! One interface over every neuron model, so that a network can hold any population as
//! `Box<dyn Neurons>`, and [`create`], which builds one from a model name and NEST-named parameters.
//!
//! A boxed population holds its model's `Derived` values (the resolution is fixed at [`create`]);
//! [`Neurons::step`] has the same input conventions as each model's `Population::step`: `ex_in` the
//! summed non-negative weights, `in_in` the summed negative weights (as negative numbers) and `i_stim`
//! the current (pA) arriving in this step, each empty or one entry per neuron.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::{aeif_cond_exp, iaf_cond_exp, iaf_psc_alpha, iaf_psc_delta, iaf_psc_exp, izhikevich};

/// A population of one neuron model with its per-step constants.
pub trait Neurons: Send + Sync {
    /// The model's NEST name, e.g. `"iaf_psc_exp"`.
    fn model(&self) -> &'static str;
    /// Number of neurons.
    fn len(&self) -> usize;
    /// Whether there are no neurons.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One step for every neuron (see the module doc for the inputs); `spiked` is cleared, then gets
    /// the indices of the neurons that fired in this step, in increasing order, once per spike (only
    /// `aeif_cond_exp` with `t_ref = 0`, NEST's default, can fire twice in one step, as in NEST).
    ///
    /// # Panics
    /// If an input slice is neither empty nor `self.len()` long.
    fn step(&mut self, ex_in: &[f64], in_in: &[f64], i_stim: &[f64], spiked: &mut Vec<u32>);
    /// The names of the state variables [`Neurons::recordable`] gives, NEST's recordables.
    fn recordables(&self) -> &'static [&'static str];
    /// A state variable of every neuron by its NEST name (`"V_m"`, `"g_ex"`, ...), or `None`.
    fn recordable(&self, name: &str) -> Option<&[f64]>;
    /// Sets the membrane potential `V_m` (mV) of neuron `i` (an initial condition).
    ///
    /// # Panics
    /// If `i >= self.len()`.
    fn set_v_m(&mut self, i: usize, v_m: f64);
    /// The full state, for checkpoints (JSON: the model name and the population's state vectors).
    fn save(&self) -> Vec<u8>;
    /// Restores a state written by [`Neurons::save`]; refuses another model or population size and
    /// leaves the state unchanged then.
    fn load(&mut self, bytes: &[u8]) -> Result<(), String>;
}

/// The NEST names of the models [`create`] knows.
pub const MODELS: &[&str] = &[
    "iaf_psc_delta",
    "iaf_psc_exp",
    "iaf_psc_alpha",
    "iaf_cond_exp",
    "izhikevich",
    "aeif_cond_exp",
];

/// Builds `n` neurons of `model` (a NEST name from [`MODELS`]) with `params` (a JSON object with NEST's
/// parameter names; missing ones take NEST's defaults) at resolution `h_ms`. Errors name the problem:
/// `params.tau_m: invalid type: ...`, `params: unknown field ...`, an unknown model (listing the known
/// ones), or the model's [`crate::ParamError`] text for a bad value.
pub fn create(
    model: &str,
    params: &Value,
    n: usize,
    h_ms: f64,
) -> Result<Box<dyn Neurons>, String> {
    match model {
        "iaf_psc_delta" => build::<iaf_psc_delta::Population>(params, n, h_ms),
        "iaf_psc_exp" => build::<iaf_psc_exp::Population>(params, n, h_ms),
        "iaf_psc_alpha" => build::<iaf_psc_alpha::Population>(params, n, h_ms),
        "iaf_cond_exp" => build::<iaf_cond_exp::Population>(params, n, h_ms),
        "izhikevich" => build::<izhikevich::Population>(params, n, h_ms),
        "aeif_cond_exp" => build::<aeif_cond_exp::Population>(params, n, h_ms),
        other => Err(format!(
            "unknown neuron model {other:?}; known models: {}",
            MODELS.join(", ")
        )),
    }
}

fn build<P: Model>(params: &Value, n: usize, h_ms: f64) -> Result<Box<dyn Neurons>, String> {
    // serde would also fill a struct from an array, field by field: only a map is parameters.
    if !params.is_object() {
        return Err(format!(
            "params: expected an object of {} parameters by NEST name, got {params}",
            P::MODEL
        ));
    }
    let p: P::Params = serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("params: {}", e.inner())
        } else {
            format!("params.{path}: {}", e.inner())
        }
    })?;
    let derived = P::prepare(&p, h_ms).map_err(|e| e.to_string())?;
    Ok(Box::new(Prepared {
        derived,
        pop: P::new(n, &p),
    }))
}

/// What [`Prepared`] needs of a model's `Population` (implemented below for each model).
trait Model: Serialize + DeserializeOwned + Send + Sync + 'static {
    type Params: DeserializeOwned;
    type Derived: Send + Sync + 'static;
    const MODEL: &'static str;
    const RECORDABLES: &'static [&'static str];
    fn prepare(p: &Self::Params, h_ms: f64) -> Result<Self::Derived, crate::ParamError>;
    fn new(n: usize, p: &Self::Params) -> Self;
    fn len(&self) -> usize;
    fn step(
        &mut self,
        d: &Self::Derived,
        ex: &[f64],
        inh: &[f64],
        stim: &[f64],
        out: &mut Vec<u32>,
    );
    fn recordable(&self, name: &str) -> Option<&[f64]>;
    fn v_m_mut(&mut self) -> &mut Vec<f64>;
}

/// A population with its derived values: the [`Neurons`] object of every model.
struct Prepared<P: Model> {
    derived: P::Derived,
    pop: P,
}

/// The checkpoint format: the model name, then the population's state.
#[derive(Serialize)]
struct SavedRef<'a, P> {
    model: &'a str,
    state: &'a P,
}

impl<P: Model> Neurons for Prepared<P> {
    fn model(&self) -> &'static str {
        P::MODEL
    }

    fn len(&self) -> usize {
        self.pop.len()
    }

    fn step(&mut self, ex_in: &[f64], in_in: &[f64], i_stim: &[f64], spiked: &mut Vec<u32>) {
        self.pop.step(&self.derived, ex_in, in_in, i_stim, spiked);
    }

    fn recordables(&self) -> &'static [&'static str] {
        P::RECORDABLES
    }

    fn recordable(&self, name: &str) -> Option<&[f64]> {
        self.pop.recordable(name)
    }

    fn set_v_m(&mut self, i: usize, v_m: f64) {
        self.pop.v_m_mut()[i] = v_m;
    }

    fn save(&self) -> Vec<u8> {
        serde_json::to_vec(&SavedRef {
            model: P::MODEL,
            state: &self.pop,
        })
        .expect("a population's state serializes to JSON")
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), String> {
        let bad = |what: String| format!("bad {} checkpoint: {what}", P::MODEL);
        let saved: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        match saved.get("model").and_then(Value::as_str) {
            Some(m) if m == P::MODEL => {}
            Some(m) => return Err(format!("checkpoint of model {m}, not {}", P::MODEL)),
            None => return Err(bad("no \"model\"".into())),
        }
        let state = saved
            .get("state")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no \"state\" object".into()))?;
        let n = self.pop.len();
        for (name, values) in state {
            if let Some(len) = values.as_array().map(Vec::len) {
                if len != n {
                    return Err(format!(
                        "checkpoint of {len} {} neurons (state.{name}), this population has {n}",
                        P::MODEL
                    ));
                }
            }
        }
        let pop: P = serde_path_to_error::deserialize(&saved["state"])
            .map_err(|e| bad(format!("state.{}: {}", e.path(), e.inner())))?;
        self.pop = pop;
        Ok(())
    }
}

/// Implements [`Model`] for a model module whose `Population` has the usual `new`/`len`/`step`.
macro_rules! model {
    ($m:ident, [$($name:literal => $field:ident),+ $(,)?]) => {
        impl Model for $m::Population {
            type Params = $m::Params;
            type Derived = $m::Derived;
            const MODEL: &'static str = stringify!($m);
            const RECORDABLES: &'static [&'static str] = &[$($name),+];
            fn prepare(p: &$m::Params, h_ms: f64) -> Result<$m::Derived, crate::ParamError> {
                $m::prepare(p, h_ms)
            }
            fn new(n: usize, p: &$m::Params) -> Self {
                $m::Population::new(n, p)
            }
            fn len(&self) -> usize {
                $m::Population::len(self)
            }
            fn step(&mut self, d: &$m::Derived, ex: &[f64], inh: &[f64], stim: &[f64], out: &mut Vec<u32>) {
                $m::Population::step(self, d, ex, inh, stim, out)
            }
            fn recordable(&self, name: &str) -> Option<&[f64]> {
                match name {
                    $($name => Some(&self.$field),)+
                    _ => None,
                }
            }
            fn v_m_mut(&mut self) -> &mut Vec<f64> {
                &mut self.v_m
            }
        }
    };
}

model!(iaf_psc_delta, ["V_m" => v_m]);
model!(iaf_psc_exp, ["V_m" => v_m, "I_syn_ex" => i_syn_ex, "I_syn_in" => i_syn_in]);
model!(iaf_psc_alpha, ["V_m" => v_m, "I_syn_ex" => i_syn_ex, "I_syn_in" => i_syn_in]);
model!(iaf_cond_exp, ["V_m" => v_m, "g_ex" => g_ex, "g_in" => g_in]);
model!(izhikevich, ["V_m" => v_m, "U_m" => u_m]);
model!(aeif_cond_exp, ["V_m" => v_m, "g_ex" => g_ex, "g_in" => g_in, "w" => w]);
