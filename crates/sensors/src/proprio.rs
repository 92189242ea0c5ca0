//! Proprioception: muscle spindle primaries (Ia), secondaries (II) and Golgi tendon organs (Ib) per
//! muscle, from the body's `muscles` output, as rates and spikes.
//!
//! Spindle rate model (Prochazka & Gorassini, J Physiol 1998; coefficients of Prochazka, Prog Brain
//! Res 1999, cat hindlimb, lengths in mm, velocities in mm/s, activation 0..1 standing in for
//! fusimotor drive through alpha-gamma coactivation):
//!
//! ```text
//! Ia = ia_velocity_gain * sign(v) |v|^ia_velocity_exponent + ia_length_gain * d + ia_activation_gain * a + ia_offset
//! II = ii_length_gain * d + ii_activation_gain * a + ii_offset
//! ```
//!
//! with `d = (length - rest_length)` in mm, `v` the lengthening velocity in mm/s.
//!
//! Golgi tendon organs, `F` the muscle force in N, one of two models (`model.ib_model`):
//! - `linear` (default): `Ib = ib_force_gain * F + ib_offset`. Its gain of 333 Hz/N is NOT confirmed: it
//!   was attributed to Prochazka (1999) from memory, and no source found (web pages, docs, code)
//!   states it; only the proportionality of Ib rate to tendon force is standard (Houk & Henneman 1967).
//!   Treat it as a free parameter.
//! - `lin_crago`: Lin & Crago (Ann Biomed Eng 2002), a static nonlinearity `R = ib_log_gain_hz *
//!   ln(max(F, 0) / ib_log_force_n + 1)` (60 Hz and 4 N, cat scale) followed by the linear dynamics
//!   `H(s) = (1.7 s^2 + 2.58 s + 0.4) / (s^2 + 2.2 s + 0.4)` (s in 1/s; unit static gain, an
//!   overshoot of 1.7 times a force step that adapts with time constants of 0.5 s and 5 s), integrated
//!   on the sync step with the bilinear transform from a steady state at the first force received.
//!   Confirmed: this form and these numbers as implemented by two open-source models citing the paper
//!   (OpenSim's `Lin02GolgiTendonOrgan` by S. Verduzco-Flores: the same nonlinearity with 60 Hz, 4 N,
//!   and the same filter scaled by 40; MyoGen's `GolgiTendonOrgan`: the same filter in bilinear form).
//!   Not confirmed: the paper's own text was not available.
//!
//! Every rate is clipped to `[0, max_rate_hz]`. Rates are held over a sync step (the inputs are held
//! values) and turned into spikes on an internal grid of `dt_ms` by a Poisson or integrate-and-fire
//! encoder ([`RateEncoding`]).
//!
//! Muscles: the `[[muscles]]` of the body engine's world (`world_file`, the same file as the body's; by
//! default the world compiled into `neuroloop-body`), in the order of the body's `muscles` port, see
//! [`ProprioceptionConfig::from_world`]. The model works on lengths from the rest length (mm) and
//! forces (N), so it takes only the names from the world, not the optimal fiber lengths or forces.
//!
//! Ports: in `muscles` (per muscle `<m>.length_m`, `<m>.velocity_m_per_s`, `<m>.force_n`,
//! `<m>.activation`, the body engine's layout); out `ia`, `ii`, `ib` (spikes, `afferents_per_muscle`
//! neurons per muscle, neuron `muscle * afferents_per_muscle + j`), `rates` (per muscle `<m>.ia`,
//! `<m>.ii`, `<m>.ib` in Hz).

use std::path::{Path, PathBuf};

use neuroloop_body::world::WorldSpec;
use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::port::{PortKind, PortSpec};
use serde::Deserialize;

use crate::afferents::{Afferent, AfferentMap};
use crate::encoder::{RateEncoding, RateSpiker};
use crate::engine_config::{load_world_instead_of, substeps, substeps_at_run};
use neuroloop_core::engine::require;

/// Rate-model coefficients (defaults: Prochazka 1999, cat; Ib see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpindleModel {
    /// Ia velocity gain, Hz per (mm/s)^exponent (default 4.3).
    pub ia_velocity_gain: f64,
    /// Ia velocity exponent (default 0.6; 0.5-0.6 fit best).
    pub ia_velocity_exponent: f64,
    /// Ia length gain, Hz/mm (default 2).
    pub ia_length_gain: f64,
    /// Ia activation (fusimotor) gain, Hz per unit activation (default 100).
    pub ia_activation_gain: f64,
    /// Ia rate at rest length, zero velocity and activation, Hz (default 80).
    pub ia_offset_hz: f64,
    /// II length gain, Hz/mm (default 13.5).
    pub ii_length_gain: f64,
    /// II activation gain, Hz per unit activation (default 20).
    pub ii_activation_gain: f64,
    /// II rate at rest, Hz (default 80).
    pub ii_offset_hz: f64,
    /// `linear`: Ib force gain, Hz/N (default 333; unconfirmed, see the [module docs](self)).
    pub ib_force_gain: f64,
    /// `linear`: Ib rate at zero force, Hz (default 0).
    pub ib_offset_hz: f64,
    /// Golgi tendon organ model (default `linear`; see the [module docs](self)).
    pub ib_model: IbModel,
    /// `lin_crago`: gain of the log nonlinearity, Hz (default 60).
    pub ib_log_gain_hz: f64,
    /// `lin_crago`: force scale of the log nonlinearity, N (default 4).
    pub ib_log_force_n: f64,
    /// Upper clip of every rate, Hz (default 500).
    pub max_rate_hz: f64,
}

impl Default for SpindleModel {
    fn default() -> Self {
        SpindleModel {
            ia_velocity_gain: 4.3,
            ia_velocity_exponent: 0.6,
            ia_length_gain: 2.0,
            ia_activation_gain: 100.0,
            ia_offset_hz: 80.0,
            ii_length_gain: 13.5,
            ii_activation_gain: 20.0,
            ii_offset_hz: 80.0,
            ib_force_gain: 333.0,
            ib_offset_hz: 0.0,
            ib_model: IbModel::Linear,
            ib_log_gain_hz: 60.0,
            ib_log_force_n: 4.0,
            max_rate_hz: 500.0,
        }
    }
}

/// Golgi tendon organ (Ib) models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IbModel {
    /// `ib_force_gain * F + ib_offset_hz` (gain unconfirmed, see the [module docs](self)).
    Linear,
    /// Lin & Crago (2002): log nonlinearity and second-order adapting dynamics.
    LinCrago,
}

/// The linear dynamics of the Lin & Crago (2002) tendon organ model, `H(s) = (1.7 s^2 + 2.58 s + 0.4)
/// / (s^2 + 2.2 s + 0.4)`, discretized with the bilinear transform (direct form I).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinCragoFilter {
    /// Previous two inputs and outputs, Hz; `None` before the first sample.
    state: Option<[f64; 4]>,
}

impl LinCragoFilter {
    /// Numerator and denominator of H(s), highest power first.
    const NUM: [f64; 3] = [1.7, 2.58, 0.4];
    const DEN: [f64; 3] = [1.0, 2.2, 0.4];

    /// Filters one sample `u` (Hz) taken `dt_s` after the previous one; the first sample sets a
    /// steady state (output = input).
    pub fn step(&mut self, u: f64, dt_s: f64) -> f64 {
        let [u1, u2, y1, y2] = *self.state.get_or_insert([u, u, u, u]);
        // s = (2 / T) (1 - z^-1) / (1 + z^-1), multiplied through by T^2 (1 + z^-1)^2.
        let k = 2.0 / dt_s;
        let poly = |c: [f64; 3]| {
            [
                c[0] * k * k + c[1] * k + c[2],
                2.0 * (c[2] - c[0] * k * k),
                c[0] * k * k - c[1] * k + c[2],
            ]
        };
        let (b, a) = (poly(Self::NUM), poly(Self::DEN));
        let y = (b[0] * u + b[1] * u1 + b[2] * u2 - a[1] * y1 - a[2] * y2) / a[0];
        self.state = Some([u, u1, y, y1]);
        y
    }
}

impl SpindleModel {
    /// The three rates (Ia, II, Ib) in Hz for one muscle: length and rest length in m, lengthening
    /// velocity in m/s, force in N, activation 0..1.
    pub fn rates(
        &self,
        length_m: f64,
        rest_length_m: f64,
        velocity_m_per_s: f64,
        force_n: f64,
        activation: f64,
    ) -> [f64; 3] {
        let d_mm = (length_m - rest_length_m) * 1e3;
        let v_mm = velocity_m_per_s * 1e3;
        let v_term = v_mm.signum() * v_mm.abs().powf(self.ia_velocity_exponent);
        let clip = |r: f64| {
            if r.is_finite() {
                r.clamp(0.0, self.max_rate_hz)
            } else {
                0.0
            }
        };
        [
            clip(
                self.ia_velocity_gain * v_term
                    + self.ia_length_gain * d_mm
                    + self.ia_activation_gain * activation
                    + self.ia_offset_hz,
            ),
            clip(
                self.ii_length_gain * d_mm
                    + self.ii_activation_gain * activation
                    + self.ii_offset_hz,
            ),
            clip(self.ib_static(force_n)),
        ]
    }

    /// The Ib rate before any dynamics, Hz (unclipped): linear, or Lin & Crago's log nonlinearity.
    pub fn ib_static(&self, force_n: f64) -> f64 {
        match self.ib_model {
            IbModel::Linear => self.ib_force_gain * force_n + self.ib_offset_hz,
            // Lin & Crago, Ann Biomed Eng 30:54-67 (2002), eq. 1.
            IbModel::LinCrago => {
                self.ib_log_gain_hz * (force_n.max(0.0) / self.ib_log_force_n).ln_1p()
            }
        }
    }
}

/// Configuration of [`Proprioception`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProprioceptionConfig {
    /// The body engine's world file (a path relative to the experiment file): `muscles` are its
    /// `[[muscles]]` (see [`world_muscles`]). Absent: the world compiled into `neuroloop-body`
    /// (`worlds/mouse_forelimb_joystick.toml`).
    pub world_file: Option<PathBuf>,
    /// Muscle names, in the order of the body's `muscles` port (default: [`world_muscles`] of the
    /// world; with the shipped world the 8 muscles of the NRP mouse forelimb, `Foot1`, `Foot2`,
    /// `Radius1`, `Radius2`, `Humerus1` .. `Humerus4`). Given by hand only without `world_file`.
    pub muscles: Vec<String>,
    /// Rest length per muscle in m (lengths are measured from it). Default: the first lengths received
    /// (the body's state at t = 0), all > 0.
    pub rest_length_m: Option<Vec<f64>>,
    /// Afferents of each class per muscle (default 1); they share the rate, their spikes are independent.
    pub afferents_per_muscle: u32,
    /// Spike encoder (default `poisson`).
    pub encoding: RateEncoding,
    /// Internal grid of the encoder in ms (default 0.1); must divide the sync step.
    pub dt_ms: f64,
    /// Rate-model coefficients.
    pub model: SpindleModel,
}

impl Default for ProprioceptionConfig {
    /// [`ProprioceptionConfig::from_world`] of the world compiled into `neuroloop-body`.
    fn default() -> Self {
        Self::from_world(&WorldSpec::mouse_forelimb_joystick())
    }
}

/// The names of a world's `[[muscles]]` in world order, the order of the body engine's `muscles` port.
pub fn world_muscles(world: &WorldSpec) -> Vec<String> {
    world.muscles.iter().map(|m| m.name.clone()).collect()
}

impl ProprioceptionConfig {
    /// The default configuration for a world: `muscles` = [`world_muscles`], the default model and
    /// encoder.
    pub fn from_world(world: &WorldSpec) -> Self {
        ProprioceptionConfig {
            world_file: None,
            muscles: world_muscles(world),
            rest_length_m: None,
            afferents_per_muscle: 1,
            encoding: RateEncoding::Poisson,
            dt_ms: 0.1,
            model: SpindleModel::default(),
        }
    }
}

const IN_MUSCLES: usize = 0;
const OUT_IA: usize = 1;
const OUT_RATES: usize = 4;

/// The proprioception engine (see the [module docs](self)).
pub struct Proprioception {
    cfg: ProprioceptionConfig,
    rest_length_m: Option<Vec<f64>>,
    /// One encoder per class (Ia, II, Ib).
    spikers: [RateSpiker; 3],
    /// Scratch: per class, rate of every afferent.
    afferent_rates: [Vec<f64>; 3],
    /// Per muscle, the tendon organ dynamics (`lin_crago`).
    ib_filters: Vec<LinCragoFilter>,
}

impl Proprioception {
    /// Builds the engine from its configuration and seed; started by `neuroloop run`
    /// (`NEUROLOOP_RUN_DIR` set), it writes its [afferent map](crate::afferents) into the run folder.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        Self::with_run_dir(ctx, crate::afferents::run_dir_from_env().as_deref())
    }

    /// [`new`](Self::new) with the run folder given: the afferent map is written into `run_dir` when
    /// there is one.
    pub fn with_run_dir(ctx: &InitContext, run_dir: Option<&Path>) -> Result<Self, EngineError> {
        let engine = Self::resolve(ctx)?;
        engine.afferent_map(&ctx.name).write_into(run_dir)?;
        Ok(engine)
    }

    /// Which muscle and afferent class each neuron of the `ia`, `ii` and `ib` ports stands for
    /// (neuron `muscle * afferents_per_muscle + j`).
    pub fn afferent_map(&self, engine: &str) -> AfferentMap {
        let k = self.cfg.afferents_per_muscle;
        let ports = ["ia", "ii", "ib"]
            .into_iter()
            .map(|class| {
                let list = (0..self.n_afferents())
                    .map(|n| Afferent {
                        neuron: n,
                        afferent: class.to_string(),
                        muscle: Some(self.cfg.muscles[(n / k) as usize].clone()),
                        taxel: None,
                        taxel_index: None,
                        shape: None,
                        position_m: None,
                    })
                    .collect();
                (class.to_string(), list)
            })
            .collect();
        AfferentMap {
            engine: engine.to_string(),
            kind: "proprioception".to_string(),
            ports,
        }
    }

    /// Reads and checks the configuration and builds the engine (it is small), writing no file: the
    /// first stage of [`new`](Self::new).
    pub fn resolve(ctx: &InitContext) -> Result<Self, EngineError> {
        let mut cfg: ProprioceptionConfig = ctx.config()?;
        if let Some(path) = cfg.world_file.clone() {
            let (world, origin) = load_world_instead_of(ctx, &path, "muscles")?;
            cfg.muscles = world_muscles(&world);
            require(
                !cfg.muscles.is_empty(),
                ctx,
                "world_file",
                &format!("{origin}: the world has no [[muscles]] to sense"),
            )?;
        }
        require(
            !cfg.muscles.is_empty(),
            ctx,
            "muscles",
            "needs at least one muscle",
        )?;
        for (i, m) in cfg.muscles.iter().enumerate() {
            require(
                !m.is_empty() && !cfg.muscles[..i].contains(m),
                ctx,
                &format!("muscles[{i}]"),
                "muscle names must be non-empty and unique",
            )?;
        }
        if let Some(rest) = &cfg.rest_length_m {
            require(
                rest.len() == cfg.muscles.len(),
                ctx,
                "rest_length_m",
                "needs one length per muscle",
            )?;
            require(
                rest.iter().all(|l| l.is_finite() && *l > 0.0),
                ctx,
                "rest_length_m",
                "lengths must be finite and > 0",
            )?;
        }
        require(
            cfg.afferents_per_muscle > 0,
            ctx,
            "afferents_per_muscle",
            "must be > 0",
        )?;
        substeps(ctx, "dt_ms", cfg.dt_ms)?;
        let m = &cfg.model;
        require(
            m.ia_velocity_exponent > 0.0 && m.ia_velocity_exponent <= 1.0,
            ctx,
            "model.ia_velocity_exponent",
            "must be in (0, 1]",
        )?;
        require(
            m.max_rate_hz > 0.0 && m.max_rate_hz * cfg.dt_ms * 1e-3 <= 1.0,
            ctx,
            "model.max_rate_hz",
            "must be > 0 and at most 1 spike per dt_ms",
        )?;
        let gains = [
            m.ia_velocity_gain,
            m.ia_length_gain,
            m.ia_activation_gain,
            m.ia_offset_hz,
            m.ii_length_gain,
            m.ii_activation_gain,
            m.ii_offset_hz,
            m.ib_force_gain,
            m.ib_offset_hz,
            m.ib_log_gain_hz,
        ];
        require(
            gains.iter().all(|g| g.is_finite()),
            ctx,
            "model",
            "gains and offsets must be finite",
        )?;
        require(
            m.ib_log_force_n > 0.0 && m.ib_log_force_n.is_finite(),
            ctx,
            "model.ib_log_force_n",
            "must be > 0",
        )?;
        let n = cfg.muscles.len() * cfg.afferents_per_muscle as usize;
        let seed = |k: u64| neuroloop_core::seed::splitmix64(ctx.seed ^ k);
        Ok(Proprioception {
            rest_length_m: cfg.rest_length_m.clone(),
            spikers: [
                RateSpiker::new(cfg.encoding, n, seed(1)),
                RateSpiker::new(cfg.encoding, n, seed(2)),
                RateSpiker::new(cfg.encoding, n, seed(3)),
            ],
            afferent_rates: [vec![0.0; n], vec![0.0; n], vec![0.0; n]],
            ib_filters: vec![LinCragoFilter::default(); cfg.muscles.len()],
            cfg,
        })
    }

    fn n_afferents(&self) -> u32 {
        self.cfg.muscles.len() as u32 * self.cfg.afferents_per_muscle
    }
}

impl Engine for Proprioception {
    fn ports(&self) -> Vec<PortSpec> {
        let mut input = Vec::new();
        let mut rates = Vec::new();
        for m in &self.cfg.muscles {
            for (q, u) in [
                ("length_m", "m"),
                ("velocity_m_per_s", "m/s"),
                ("force_n", "N"),
                ("activation", "1"),
            ] {
                input.push((format!("{m}.{q}"), u));
            }
            for q in ["ia", "ii", "ib"] {
                rates.push((format!("{m}.{q}"), "Hz"));
            }
        }
        let analog = |v: &[(String, &str)]| {
            PortKind::analog(&v.iter().map(|(n, u)| (n.as_str(), *u)).collect::<Vec<_>>())
        };
        let size = self.n_afferents();
        vec![
            PortSpec::input("muscles", analog(&input)),
            PortSpec::output("ia", PortKind::Spikes { size }),
            PortSpec::output("ii", PortKind::Spikes { size }),
            PortSpec::output("ib", PortKind::Spikes { size }),
            PortSpec::output("rates", analog(&rates)),
        ]
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let x = inputs.analog(IN_MUSCLES);
        let n_m = self.cfg.muscles.len();
        if x.len() != 4 * n_m {
            return Err(EngineError::Model(format!(
                "muscles has {} values, expected {} (4 per muscle)",
                x.len(),
                4 * n_m
            )));
        }
        if self.rest_length_m.is_none()
            && inputs.stamp(IN_MUSCLES).is_some()
            && (0..n_m).all(|i| x[4 * i] > 0.0)
        {
            self.rest_length_m = Some((0..n_m).map(|i| x[4 * i]).collect());
        }
        // Before the first lengths arrive, lengths count as rest lengths.
        let rest: Vec<f64> = match &self.rest_length_m {
            Some(r) => r.clone(),
            None => (0..n_m).map(|i| x[4 * i]).collect(),
        };
        let k = self.cfg.afferents_per_muscle as usize;
        let rates_out = outputs.analog_mut(OUT_RATES);
        let model = &self.cfg.model;
        for i in 0..n_m {
            let mut r = model.rates(x[4 * i], rest[i], x[4 * i + 1], x[4 * i + 2], x[4 * i + 3]);
            if model.ib_model == IbModel::LinCrago {
                let u = model.ib_static(x[4 * i + 2]);
                let y = self.ib_filters[i].step(u, ctx.dt_ms() * 1e-3);
                r[2] = if y.is_finite() {
                    y.clamp(0.0, model.max_rate_hz)
                } else {
                    0.0
                };
            }
            for c in 0..3 {
                rates_out[3 * i + c] = r[c];
                self.afferent_rates[c][i * k..(i + 1) * k].fill(r[c]);
            }
        }
        let dt = self.cfg.dt_ms;
        let n_sub = substeps_at_run(ctx.dt_ms(), dt)?;
        for c in 0..3 {
            let out = outputs.spikes_mut(OUT_IA + c);
            for s in 0..n_sub {
                let t = ctx.t_ms() + f64::from(s) * dt;
                self.spikers[c].slot(&self.afferent_rates[c], t, dt, 0, out);
            }
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.rest_length_m = self.cfg.rest_length_m.clone();
        self.spikers.iter_mut().for_each(RateSpiker::reset);
        self.ib_filters.fill(LinCragoFilter::default());
        Ok(())
    }
}
