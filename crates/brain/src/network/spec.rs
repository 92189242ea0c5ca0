//! The network description: populations, projections, devices and ports, as plain data.
//!
//! The same types are the network description file (TOML or JSON, read by [`NetworkSpec::from_toml`] /
//! [`NetworkSpec::from_json`], whose errors name the key path) and the Rust builder API
//! ([`NetworkSpec::population`], [`NetworkSpec::connect`], ...). Names follow NEST: a projection's
//! `connect` table is NEST's `conn_spec` (`rule`, `indegree`, `allow_autapses`, ...), its `synapse` table
//! NEST's `syn_spec` (`synapse_model`, `weight`, `delay`), parameters keep NEST's names and units.
//!
//! ```toml
//! resolution_ms = 0.1
//!
//! [[populations]]
//! name = "E"
//! model = "iaf_psc_exp"
//! n = 800
//! params = { tau_m = 10.0, C_m = 250.0 }
//! V_m = { distribution = "normal", mean = -58.0, std = 10.0 }
//!
//! [[projections]]
//! source = "E"
//! target = "E"
//! connect = { rule = "pairwise_bernoulli", p = 0.1 }
//! synapse = { weight = { distribution = "normal", mean = 87.8, std = 8.8, min = 0.0 }, delay = 1.5 }
//!
//! [[poisson_generators]]
//! target = "E"
//! rate = 8000.0
//! weight = 87.8
//!
//! [[spike_recorders]]
//! population = "E"
//! ```

use serde::{Deserialize, Serialize};

/// A network description. Build it with [`super::Network::build`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Simulation resolution h in ms (NEST's `resolution`, default 0.1).
    #[serde(default = "default_resolution")]
    pub resolution_ms: f64,
    /// Populations; global neuron ids are assigned in this order.
    #[serde(default)]
    pub populations: Vec<PopulationSpec>,
    /// Projections (NEST: `Connect` calls).
    #[serde(default)]
    pub projections: Vec<ProjectionSpec>,
    /// Independent Poisson spike trains into every neuron of a population.
    #[serde(default)]
    pub poisson_generators: Vec<PoissonGenerator>,
    /// Constant currents into every neuron of a population.
    #[serde(default)]
    pub dc_generators: Vec<DcGenerator>,
    /// Given spike trains into every neuron of a population.
    #[serde(default)]
    pub spike_generators: Vec<SpikeGenerator>,
    /// Populations whose spikes are recorded.
    #[serde(default)]
    pub spike_recorders: Vec<SpikeRecorder>,
    /// State variables sampled at an interval.
    #[serde(default)]
    pub multimeters: Vec<Multimeter>,
    /// Spike input ports (for the brain engine): spikes from other engines into a population.
    #[serde(default)]
    pub inputs: Vec<SpikeInput>,
    /// Spike output ports (for the brain engine): a population's spikes.
    #[serde(default)]
    pub outputs: Vec<SpikeOutput>,
    /// Volume transmitters: dopamine signals for `stdp_dopamine_synapse` projections.
    #[serde(default)]
    pub volume_transmitters: Vec<VolumeTransmitterSpec>,
}

fn default_resolution() -> f64 {
    0.1
}

fn default_true() -> bool {
    true
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            resolution_ms: default_resolution(),
            populations: Vec::new(),
            projections: Vec::new(),
            poisson_generators: Vec::new(),
            dc_generators: Vec::new(),
            spike_generators: Vec::new(),
            spike_recorders: Vec::new(),
            multimeters: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            volume_transmitters: Vec::new(),
        }
    }
}

/// Neurons of one model and one parameter set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// Name, unique in the network (e.g. `"L23E"`).
    pub name: String,
    /// NEST model name (`iaf_psc_delta`, `iaf_psc_exp`, `iaf_psc_alpha`, `iaf_cond_exp`,
    /// `izhikevich`, `aeif_cond_exp`).
    pub model: String,
    /// Number of neurons.
    pub n: usize,
    /// Model parameters with NEST's names and units; missing ones take NEST's defaults.
    #[serde(default = "empty_object")]
    pub params: serde_json::Value,
    /// Initial membrane potential in mV, constant or drawn per neuron (default: the model's).
    #[serde(default, rename = "V_m", skip_serializing_if = "Option::is_none")]
    pub v_m: Option<Dist>,
    /// Time constant of the post-synaptic STDP trace, ms (NEST's `tau_minus`, a neuron parameter in
    /// NEST too; default 20). Used only when plastic synapses end on this population.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_minus: Option<f64>,
    /// Named subgroups of the population's neurons (default none); a source or target written
    /// `"POP.GROUP"` refers to one of them. See [`GroupSpec`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSpec>,
}

/// A named subgroup of a population: exactly one of `size` (the next `size` neurons after the
/// previous `size` group: consecutive blocks from neuron 0), `range = [a, b]` (neurons `a..b`, `b`
/// excluded) or `neurons = [i, j, ...]` (these neurons, in this order). Indices are local (0 = the
/// population's first neuron). Groups of one population must not overlap; a group name must be
/// unique in its population and must not contain `.`.
///
/// ```toml
/// [[populations]]
/// name = "M1"
/// model = "iaf_psc_exp"
/// n = 200
/// groups = [{ name = "Foot1", size = 50 }, { name = "Foot2", size = 50 },
///           { name = "rest", range = [100, 200] }]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Name, unique in the population.
    pub name: String,
    /// A block of this many neurons following the previous `size` group (the first starts at 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Local neurons `[a, b)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[usize; 2]>,
    /// Local neuron indices, in the order the group numbers them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neurons: Option<Vec<usize>>,
}

impl GroupSpec {
    /// A group of `size` neurons after the previous `size` group.
    pub fn block(name: &str, size: usize) -> GroupSpec {
        GroupSpec {
            name: name.into(),
            size: Some(size),
            range: None,
            neurons: None,
        }
    }
}

impl PopulationSpec {
    /// The groups' local neuron indices (in each group's order), checked: one of `size`, `range`,
    /// `neurons` each, inside the population, no overlap, unique names without `.`. Errors name the
    /// key path below `path` (e.g. `populations[1]`).
    pub fn resolve_groups(&self, path: &str) -> Result<Vec<(String, Vec<u32>)>, SpecError> {
        let mut out: Vec<(String, Vec<u32>)> = Vec::new();
        let mut owner: Vec<Option<usize>> =
            vec![None; if self.groups.is_empty() { 0 } else { self.n }];
        let mut next_block = 0usize;
        for (j, g) in self.groups.iter().enumerate() {
            let err = |key: &str, message: String| SpecError {
                path: format!("{path}.groups[{j}]{key}"),
                message,
            };
            if g.name.is_empty() || g.name.contains('.') {
                return Err(err(
                    ".name",
                    format!(
                        "\"{}\": a group name must be non-empty and without `.`",
                        g.name
                    ),
                ));
            }
            if out.iter().any(|(n, _)| n == &g.name) {
                return Err(err(".name", format!("\"{}\" is used twice", g.name)));
            }
            let ids: Vec<usize> = match (g.size, g.range, &g.neurons) {
                (Some(size), None, None) => {
                    let ids = (next_block..next_block + size).collect();
                    next_block += size;
                    ids
                }
                (None, Some([a, b]), None) => {
                    if a >= b {
                        return Err(err(".range", format!("[{a}, {b}] is empty (needs a < b)")));
                    }
                    (a..b).collect()
                }
                (None, None, Some(list)) => list.clone(),
                _ => {
                    return Err(err(
                        "",
                        "give exactly one of `size`, `range` or `neurons`".into(),
                    ))
                }
            };
            if ids.is_empty() {
                return Err(err("", format!("group \"{}\" has no neuron", g.name)));
            }
            let key = match (g.size, g.range) {
                (Some(_), _) => ".size",
                (_, Some(_)) => ".range",
                _ => ".neurons",
            };
            for &i in &ids {
                if i >= self.n {
                    return Err(err(
                        key,
                        format!(
                            "neuron {i} is outside population \"{}\" of {} neurons",
                            self.name, self.n
                        ),
                    ));
                }
                if let Some(other) = owner[i] {
                    let message = if other == j {
                        format!("neuron {i} is listed twice")
                    } else {
                        format!(
                            "neuron {i} is also in group \"{}\" (groups must not overlap)",
                            self.groups[other].name
                        )
                    };
                    return Err(err(key, message));
                }
                owner[i] = Some(j);
            }
            out.push((g.name.clone(), ids.into_iter().map(|i| i as u32).collect()));
        }
        Ok(out)
    }
}

/// Connections from one population to another (NEST: `Connect(source, target, conn_spec, syn_spec)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionSpec {
    /// Source population name, or `"POP.GROUP"` for one of its groups.
    pub source: String,
    /// Target population name, or `"POP.GROUP"`; rules count within the group (a
    /// `fixed_indegree` target draws its sources from the source group only).
    pub target: String,
    /// Connection rule (NEST's `conn_spec`).
    pub connect: Connect,
    /// Synapse model, weight and delay (NEST's `syn_spec`).
    #[serde(default)]
    pub synapse: SynapseSpec,
}

/// NEST's connection rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Every source to every target.
    AllToAll,
    /// Source i to target i (equal sizes).
    OneToOne,
    /// Each target gets `indegree` sources drawn uniformly.
    FixedIndegree,
    /// Each source gets `outdegree` targets drawn uniformly.
    FixedOutdegree,
    /// `N` (source, target) pairs drawn uniformly.
    FixedTotalNumber,
    /// Each (source, target) pair independently with probability `p`.
    PairwiseBernoulli,
}

/// A connection rule with its parameters (NEST's `conn_spec`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connect {
    /// The rule.
    pub rule: Rule,
    /// In-degree, for `fixed_indegree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indegree: Option<u64>,
    /// Out-degree, for `fixed_outdegree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outdegree: Option<u64>,
    /// Total number of synapses, for `fixed_total_number`.
    #[serde(default, rename = "N", skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Connection probability, for `pairwise_bernoulli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// Whether a neuron may connect to itself (default true, as NEST).
    #[serde(default = "default_true")]
    pub allow_autapses: bool,
    /// Whether a pair may be connected more than once (default true, as NEST).
    #[serde(default = "default_true")]
    pub allow_multapses: bool,
}

impl Connect {
    fn rule(rule: Rule) -> Connect {
        Connect {
            rule,
            indegree: None,
            outdegree: None,
            n: None,
            p: None,
            allow_autapses: true,
            allow_multapses: true,
        }
    }

    /// `all_to_all`.
    pub fn all_to_all() -> Connect {
        Connect::rule(Rule::AllToAll)
    }

    /// `one_to_one`.
    pub fn one_to_one() -> Connect {
        Connect::rule(Rule::OneToOne)
    }

    /// `fixed_indegree` with `indegree`.
    pub fn fixed_indegree(indegree: u64) -> Connect {
        Connect {
            indegree: Some(indegree),
            ..Connect::rule(Rule::FixedIndegree)
        }
    }

    /// `fixed_outdegree` with `outdegree`.
    pub fn fixed_outdegree(outdegree: u64) -> Connect {
        Connect {
            outdegree: Some(outdegree),
            ..Connect::rule(Rule::FixedOutdegree)
        }
    }

    /// `fixed_total_number` with `N`.
    pub fn fixed_total_number(n: u64) -> Connect {
        Connect {
            n: Some(n),
            ..Connect::rule(Rule::FixedTotalNumber)
        }
    }

    /// `pairwise_bernoulli` with `p`.
    pub fn pairwise_bernoulli(p: f64) -> Connect {
        Connect {
            p: Some(p),
            ..Connect::rule(Rule::PairwiseBernoulli)
        }
    }

    /// The same rule with autapses and multapses switched.
    pub fn with(mut self, allow_autapses: bool, allow_multapses: bool) -> Connect {
        self.allow_autapses = allow_autapses;
        self.allow_multapses = allow_multapses;
        self
    }
}

/// NEST's synapse models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SynapseModel {
    /// Fixed weight.
    #[default]
    StaticSynapse,
    /// Pair-based STDP (NEST's `stdp_synapse`).
    StdpSynapse,
    /// Dopamine-modulated STDP (NEST's `stdp_dopamine_synapse`).
    StdpDopamineSynapse,
}

/// NEST's `syn_spec`: model, weight, delay and (plastic models) parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynapseSpec {
    /// Synapse model (default `static_synapse`).
    #[serde(default)]
    pub synapse_model: SynapseModel,
    /// Weight: pA for current-based models, nS for conductance-based, mV for `iaf_psc_delta` and
    /// `izhikevich`; negative = inhibitory. Constant or drawn per synapse. Drawn weights of
    /// `static_synapse` are stored as `f32`, each within 2^-24 (relative) of its draw; constant
    /// weights and the weights of plastic synapses are exact (`f64`).
    #[serde(default = "Dist::one")]
    pub weight: Dist,
    /// Delay in ms, a whole number of steps of at least one; drawn delays are rounded to the grid and
    /// redrawn below one step (as NEST). Default: the resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dist>,
    /// Parameters of a plastic synapse model, with NEST's names (`tau_plus`, `lambda`, `Wmax`, ...).
    #[serde(default = "empty_object")]
    pub params: serde_json::Value,
    /// For `stdp_dopamine_synapse`: the volume transmitter's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_transmitter: Option<String>,
}

impl Default for SynapseSpec {
    fn default() -> Self {
        SynapseSpec {
            synapse_model: SynapseModel::StaticSynapse,
            weight: Dist::one(),
            delay: None,
            params: empty_object(),
            volume_transmitter: None,
        }
    }
}

impl SynapseSpec {
    /// A static synapse with this weight and delay (ms).
    pub fn fixed(weight: f64, delay_ms: f64) -> SynapseSpec {
        SynapseSpec {
            weight: Dist::Const(weight),
            delay: Some(Dist::Const(delay_ms)),
            ..SynapseSpec::default()
        }
    }
}

/// A number, constant or drawn independently for each synapse (or neuron).
///
/// In a file: a number, or a table `{ distribution = "uniform", min, max }`,
/// `{ distribution = "normal", mean, std, min?, max? }` (NEST 3's `nest.random.normal` with
/// `nest.math.redraw` when `min`/`max` are given: values outside are drawn again; `"normal_clipped"`
/// is accepted as NEST 2's name for the same).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// The same value everywhere.
    Const(f64),
    /// Uniform in `[min, max)`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal, redrawn until inside `[min, max]`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
        /// Lower bound (-inf if none).
        min: f64,
        /// Upper bound (+inf if none).
        max: f64,
    },
}

impl Dist {
    fn one() -> Dist {
        Dist::Const(1.0)
    }

    /// Whether the value is the same for every element.
    pub fn is_const(&self) -> bool {
        matches!(self, Dist::Const(_))
    }

    /// Checks the parameters; the text says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Dist::Const(v) if !v.is_finite() => Err(format!("{v} is not a finite number")),
            Dist::Const(_) => Ok(()),
            Dist::Uniform { min, max } => {
                if !(min.is_finite() && max.is_finite() && min < max) {
                    Err(format!(
                        "uniform needs finite min < max (min = {min}, max = {max})"
                    ))
                } else {
                    Ok(())
                }
            }
            Dist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
                    return Err(format!(
                        "normal needs a finite mean and std >= 0 (mean = {mean}, std = {std})"
                    ));
                }
                if min.is_nan() || max.is_nan() || min >= max {
                    return Err(format!("normal needs min < max (min = {min}, max = {max})"));
                }
                // Redrawing must be able to succeed: at least 1e-6 of the mass inside.
                let cdf = |x: f64| {
                    if std == 0.0 {
                        if x >= mean {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        0.5 * erfc(-(x - mean) / (std * std::f64::consts::SQRT_2))
                    }
                };
                let inside = cdf(max) - cdf(min);
                if std == 0.0 && !(min..=max).contains(&mean) || std > 0.0 && inside < 1e-6 {
                    return Err(format!(
                        "normal(mean = {mean}, std = {std}) almost never falls inside [{min}, {max}]"
                    ));
                }
                Ok(())
            }
        }
    }

    /// The mean of the distribution (after redrawing, approximately: used for estimates only).
    pub fn rough_mean(&self) -> f64 {
        match *self {
            Dist::Const(v) => v,
            Dist::Uniform { min, max } => 0.5 * (min + max),
            Dist::Normal { mean, min, max, .. } => mean.clamp(min, max),
        }
    }

    /// The smallest and largest values it can take.
    pub fn bounds(&self) -> (f64, f64) {
        match *self {
            Dist::Const(v) => (v, v),
            Dist::Uniform { min, max } => (min, max),
            Dist::Normal { min, max, .. } => (min, max),
        }
    }

    fn from_value(v: &serde_json::Value) -> Result<Dist, String> {
        use serde_json::Value as J;
        match v {
            J::Number(n) => n
                .as_f64()
                .map(Dist::Const)
                .ok_or_else(|| format!("{n} is not a number")),
            J::Object(m) => {
                let kind = match m.get("distribution") {
                    Some(J::String(s)) => s.as_str(),
                    Some(other) => return Err(format!("distribution = {other}: expected a name")),
                    None => {
                        return Err(
                            "a table here needs `distribution` (\"uniform\" or \"normal\")".into(),
                        )
                    }
                };
                let allowed: &[&str] = match kind {
                    "uniform" => &["distribution", "min", "max"],
                    "normal" | "normal_clipped" => &["distribution", "mean", "std", "min", "max"],
                    other => {
                        return Err(format!(
                        "unknown distribution \"{other}\" (known: uniform, normal, normal_clipped)"
                    ))
                    }
                };
                if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
                    return Err(format!(
                        "unknown key `{k}` for distribution \"{kind}\" (expected one of {})",
                        allowed[1..].join(", ")
                    ));
                }
                let num = |key: &str, default: Option<f64>| -> Result<f64, String> {
                    match m.get(key) {
                        Some(J::Number(n)) => {
                            n.as_f64().ok_or_else(|| format!("{key}: bad number"))
                        }
                        Some(other) => Err(format!("{key} = {other}: expected a number")),
                        None => {
                            default.ok_or_else(|| format!("distribution \"{kind}\" needs `{key}`"))
                        }
                    }
                };
                let d = if kind == "uniform" {
                    Dist::Uniform {
                        min: num("min", None)?,
                        max: num("max", None)?,
                    }
                } else {
                    Dist::Normal {
                        mean: num("mean", None)?,
                        std: num("std", None)?,
                        min: num("min", Some(f64::NEG_INFINITY))?,
                        max: num("max", Some(f64::INFINITY))?,
                    }
                };
                d.validate()?;
                Ok(d)
            }
            other => Err(format!(
                "{other}: expected a number or a table with `distribution`"
            )),
        }
    }

    fn to_value(self) -> serde_json::Value {
        use serde_json::json;
        let num = |x: f64| {
            if x.is_finite() {
                json!(x)
            } else {
                serde_json::Value::Null
            }
        };
        match self {
            Dist::Const(v) => json!(v),
            Dist::Uniform { min, max } => {
                json!({"distribution": "uniform", "min": min, "max": max})
            }
            Dist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                let mut m = json!({"distribution": "normal", "mean": mean, "std": std});
                if min.is_finite() {
                    m["min"] = num(min);
                }
                if max.is_finite() {
                    m["max"] = num(max);
                }
                m
            }
        }
    }
}

/// erfc(x) to ~1e-7 (Numerical Recipes' erfcc), enough to check that a redraw can succeed.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

impl Serialize for Dist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Dist::from_value(&v).map_err(serde::de::Error::custom)
    }
}

impl From<f64> for Dist {
    fn from(v: f64) -> Dist {
        Dist::Const(v)
    }
}

/// NEST's `poisson_generator` connected to every neuron of a population: each neuron gets its own
/// independent train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoissonGenerator {
    /// Target population, or `"POP.GROUP"`.
    pub target: String,
    /// Rate of each train, Hz (NEST's `rate`).
    pub rate: f64,
    /// Weight of each spike.
    pub weight: f64,
    /// Delay in ms (default: the resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<f64>,
}

/// NEST's `dc_generator` connected to every neuron of a population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcGenerator {
    /// Target population, or `"POP.GROUP"`.
    pub target: String,
    /// Current, pA.
    pub amplitude: f64,
    /// Start, ms (default 0).
    #[serde(default)]
    pub start: f64,
    /// Stop, ms (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<f64>,
}

/// NEST's `spike_generator` connected to every neuron of a population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeGenerator {
    /// Target population, or `"POP.GROUP"`.
    pub target: String,
    /// Spike times in ms, on the grid, > 0, non-decreasing.
    pub spike_times: Vec<f64>,
    /// Weight of each spike.
    pub weight: f64,
    /// Delay in ms (default: the resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<f64>,
}

/// NEST's `spike_recorder` connected from a population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeRecorder {
    /// Recorded population, or `"POP.GROUP"`.
    pub population: String,
}

/// NEST's `multimeter` connected to (the first `n` neurons of) a population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Multimeter {
    /// Recorded population.
    pub population: String,
    /// State variables by NEST name (`V_m`, `I_syn_ex`, `g_ex`, `w`, ...).
    pub record_from: Vec<String>,
    /// Sampling interval in ms, a whole number of steps (default 1.0, as NEST).
    #[serde(default = "default_interval")]
    pub interval: f64,
    /// Record only the first `n` neurons (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
}

fn default_interval() -> f64 {
    1.0
}

/// A spike input port: spike `i` of the port arrives at neuron `i` of `target` (a population or a
/// group), after `delay` ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeInput {
    /// Port name.
    pub name: String,
    /// Target population, or `"POP.GROUP"`: the port has one channel per neuron of it (channel `i`
    /// = neuron `i` of the population, or the group's `i`-th neuron).
    pub target: String,
    /// Weight of each spike.
    pub weight: f64,
    /// Delay in ms from the spike's time stamp (default: the resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<f64>,
}

/// A spike output port: the spikes of a population or group (channel `i` = its neuron `i`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeOutput {
    /// Port name.
    pub name: String,
    /// Source population, or `"POP.GROUP"` (channel `i` = the group's `i`-th neuron).
    pub population: String,
}

/// NEST's `volume_transmitter`: the dopamine signal of `stdp_dopamine_synapse` projections, fed by
/// the spikes of a population and/or by the brain engine's reward port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeTransmitterSpec {
    /// Name, referred to by `synapse.volume_transmitter`.
    pub name: String,
    /// Dopaminergic population (or `"POP.GROUP"`) whose spikes are the dopamine signal (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<String>,
    /// Name of a scalar input port of the brain engine (e.g. `"reward"`): a value r > 0 received in a
    /// sync step is delivered as a dopamine spike of multiplicity r at the step's start (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_port: Option<String>,
    /// NEST's `deliver_interval`, in units of the minimum delay (default 1).
    #[serde(default = "default_deliver_interval")]
    pub deliver_interval: u32,
    /// Delay in ms from a dopaminergic neuron's spike to its arrival (default: the resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<f64>,
}

fn default_deliver_interval() -> u32 {
    1
}

/// A network file that cannot be read: the key path and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    /// Key path (`projections[2].synapse.weight`), or `""` for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl NetworkSpec {
    /// Reads a network description from TOML text; errors name the key path.
    pub fn from_toml(text: &str) -> Result<NetworkSpec, SpecError> {
        let value: toml::Value = toml::from_str(text).map_err(|e| SpecError {
            path: String::new(),
            message: format!("not valid TOML: {}", e.message()),
        })?;
        let json = serde_json::to_value(value).map_err(|e| SpecError {
            path: String::new(),
            message: e.to_string(),
        })?;
        NetworkSpec::from_json(json)
    }

    /// Reads a network description from a JSON value; errors name the key path.
    pub fn from_json(value: serde_json::Value) -> Result<NetworkSpec, SpecError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            SpecError {
                path: if path == "." { String::new() } else { path },
                message: e.inner().to_string(),
            }
        })
    }

    /// Reads a network description file (`.toml`, or `.json`).
    pub fn load(path: &std::path::Path) -> Result<NetworkSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            path: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let r = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text)
                .map_err(|e| SpecError {
                    path: String::new(),
                    message: format!("not valid JSON: {e}"),
                })
                .and_then(NetworkSpec::from_json)
        } else {
            NetworkSpec::from_toml(&text)
        };
        r.map_err(|e| SpecError {
            path: e.path,
            message: format!("{} ({})", e.message, path.display()),
        })
    }

    /// Builder: adds a population of `n` neurons of `model` with NEST-named `params`.
    pub fn population(
        &mut self,
        name: &str,
        model: &str,
        n: usize,
        params: serde_json::Value,
    ) -> &mut Self {
        self.populations.push(PopulationSpec {
            name: name.into(),
            model: model.into(),
            n,
            params,
            v_m: None,
            tau_minus: None,
            groups: Vec::new(),
        });
        self
    }

    /// Builder: sets the initial `V_m` of the last added population.
    pub fn v_m(&mut self, v_m: Dist) -> &mut Self {
        if let Some(p) = self.populations.last_mut() {
            p.v_m = Some(v_m);
        }
        self
    }

    /// Builder: connects `source` to `target`.
    pub fn connect(
        &mut self,
        source: &str,
        target: &str,
        connect: Connect,
        synapse: SynapseSpec,
    ) -> &mut Self {
        self.projections.push(ProjectionSpec {
            source: source.into(),
            target: target.into(),
            connect,
            synapse,
        });
        self
    }

    /// Builder: independent Poisson trains of `rate_hz` into every neuron of `target`.
    pub fn poisson(&mut self, target: &str, rate_hz: f64, weight: f64, delay_ms: f64) -> &mut Self {
        self.poisson_generators.push(PoissonGenerator {
            target: target.into(),
            rate: rate_hz,
            weight,
            delay: Some(delay_ms),
        });
        self
    }

    /// Builder: a constant current of `amplitude_pa` into every neuron of `target`.
    pub fn dc(&mut self, target: &str, amplitude_pa: f64) -> &mut Self {
        self.dc_generators.push(DcGenerator {
            target: target.into(),
            amplitude: amplitude_pa,
            start: 0.0,
            stop: None,
        });
        self
    }

    /// Builder: records the spikes of `population`.
    pub fn record_spikes(&mut self, population: &str) -> &mut Self {
        self.spike_recorders.push(SpikeRecorder {
            population: population.into(),
        });
        self
    }

    /// Builder: adds groups to the last added population.
    pub fn groups(&mut self, groups: Vec<GroupSpec>) -> &mut Self {
        if let Some(p) = self.populations.last_mut() {
            p.groups.extend(groups);
        }
        self
    }

    /// The index of the population called `name`.
    pub fn population_index(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }

    /// Resolves a source or target: `"POP"` (the whole population) or `"POP.GROUP"` (one of its
    /// groups) to (population index, group index). A population whose name itself contains `.`
    /// is matched first. The error says what is missing and what exists.
    pub fn find(&self, reference: &str) -> Result<(usize, Option<usize>), String> {
        if let Some(p) = self.population_index(reference) {
            return Ok((p, None));
        }
        let names = || {
            self.populations
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((pop, group)) = reference.split_once('.') else {
            return Err(format!(
                "no population \"{reference}\" (populations: {})",
                names()
            ));
        };
        let Some(p) = self.population_index(pop) else {
            return Err(format!(
                "no population \"{pop}\" in \"{reference}\" (populations: {})",
                names()
            ));
        };
        let groups = &self.populations[p].groups;
        groups
            .iter()
            .position(|g| g.name == group)
            .map(|g| (p, Some(g)))
            .ok_or_else(|| {
                format!(
                    "population \"{pop}\" has no group \"{group}\" (groups: {})",
                    if groups.is_empty() {
                        "none".to_string()
                    } else {
                        groups
                            .iter()
                            .map(|g| g.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_with_defaults() {
        let spec = NetworkSpec::from_toml(
            r#"
[[populations]]
name = "E"
model = "iaf_psc_exp"
n = 10
V_m = { distribution = "normal", mean = -58.0, std = 10.0 }

[[projections]]
source = "E"
target = "E"
connect = { rule = "fixed_indegree", indegree = 3, allow_autapses = false }
synapse = { weight = { distribution = "uniform", min = 1.0, max = 2.0 }, delay = 1.5 }
"#,
        )
        .unwrap();
        assert_eq!(spec.resolution_ms, 0.1);
        assert_eq!(spec.populations[0].params, serde_json::json!({}));
        let c = spec.projections[0].connect;
        assert_eq!(c.rule, Rule::FixedIndegree);
        assert_eq!(c.indegree, Some(3));
        assert!(!c.allow_autapses && c.allow_multapses);
        assert_eq!(
            spec.projections[0].synapse.weight,
            Dist::Uniform { min: 1.0, max: 2.0 }
        );
        assert_eq!(spec.projections[0].synapse.delay, Some(Dist::Const(1.5)));
        // Round trip through JSON.
        let back = NetworkSpec::from_json(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn errors_name_the_key_path() {
        let cases = [
            (
                "[[populations]]\nname = \"E\"\nmodel = \"x\"\nn = 1\nsize = 2\n",
                "populations[0].size",
                "unknown field `size`",
            ),
            (
                "[[populations]]\nname = \"E\"\nmodel = \"x\"\nn = -1\n",
                "populations[0].n",
                "invalid value",
            ),
            (
                "[[projections]]\nsource = \"E\"\ntarget = \"E\"\nconnect = { rule = \"random\" }\n",
                "projections[0].connect.rule",
                "unknown variant `random`",
            ),
            (
                "[[projections]]\nsource = \"E\"\ntarget = \"E\"\nconnect = { rule = \"all_to_all\" }\nsynapse = { weight = { distribution = \"normal\", mean = 1.0 } }\n",
                "projections[0].synapse.weight",
                "needs `std`",
            ),
            (
                "[[projections]]\nsource = \"E\"\ntarget = \"E\"\nconnect = { rule = \"all_to_all\" }\nsynapse = { delay = { distribution = \"normal\", mean = 1.0, std = 0.1, min = 5.0 } }\n",
                "projections[0].synapse.delay",
                "almost never",
            ),
            ("resolution_ms = \"fast\"\n", "resolution_ms", "invalid type"),
            ("[[populations]\n", "", "not valid TOML"),
        ];
        for (text, path, msg) in cases {
            let e = NetworkSpec::from_toml(text).unwrap_err();
            assert_eq!(e.path, path, "{text}: {e}");
            assert!(e.message.contains(msg), "{text}: {e}");
        }
    }

    #[test]
    fn erfc_is_accurate_enough() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-2.0) - 1.995_322_265).abs() < 1e-7);
    }
}
