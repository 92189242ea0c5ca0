//! What each output neuron of a sensor engine senses: the map the proprioception and skin engines
//! write, when started by `neuroloop run`, to `<engine name>.afferents.json` in the run folder
//! (`NEUROLOOP_RUN_DIR`), so that a recording's neuron indices can be read without the engine's code.
//!
//! Layout (pretty JSON):
//!
//! ```json
//! { "engine": "proprio", "kind": "proprioception",
//!   "ports": { "ia": [ { "neuron": 0, "afferent": "ia", "muscle": "Foot1" }, ... ], "ii": [...], "ib": [...] } }
//! { "engine": "skin", "kind": "skin",
//!   "ports": { "sa1": [ { "neuron": 0, "afferent": "sa1", "taxel": "paw_ball0", "taxel_index": 0,
//!                         "shape": "paw_ball", "position_m": [x, y, z] }, ... ], "ra1": [...], "pc": [...] } }
//! ```
//!
//! Every spike output port is listed, with one entry per neuron in index order. For the skin, the
//! `events` port's `x` and the `pressure` port's channel `k` address the same taxel as neuron `k`;
//! positions are in the paw body's frame, in m.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use neuroloop_core::engine::{Engine, EngineConfigError, EngineError, InitContext, ResolvedConfig};
use neuroloop_core::port::PortSpec;
use serde::{Deserialize, Serialize};

/// The environment variable that names the run folder of an engine started by `neuroloop run`.
pub const RUN_DIR_ENV: &str = "NEUROLOOP_RUN_DIR";

/// What one output neuron senses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Afferent {
    /// Neuron index in the port.
    pub neuron: u32,
    /// Afferent class: `ia`, `ii`, `ib` (proprioception), `sa1`, `ra1`, `pc` (skin).
    pub afferent: String,
    /// The muscle (proprioception).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muscle: Option<String>,
    /// The taxel's name (skin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxel: Option<String>,
    /// The taxel's index (skin): the `events` x address and the `pressure` channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxel_index: Option<u32>,
    /// The collision shape the taxel lies on (skin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    /// The taxel's position in the paw frame, m (skin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_m: Option<[f64; 3]>,
}

/// The afferent map of one sensor engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AfferentMap {
    /// Engine name in the experiment.
    pub engine: String,
    /// Engine kind (`proprioception`, `skin`).
    pub kind: String,
    /// Per spike output port, one entry per neuron in index order.
    pub ports: BTreeMap<String, Vec<Afferent>>,
}

/// The file name of engine `engine`'s map: `<engine>.afferents.json`.
pub fn file_name(engine: &str) -> String {
    format!("{engine}.afferents.json")
}

/// The run folder named by [`RUN_DIR_ENV`], if set.
pub(crate) fn run_dir_from_env() -> Option<PathBuf> {
    std::env::var_os(RUN_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

impl AfferentMap {
    /// Writes the map as pretty JSON to `<dir>/<engine>.afferents.json`; returns the path. The error
    /// names the file.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, EngineError> {
        let path = dir.join(file_name(&self.engine));
        let fail = |e: &dyn std::fmt::Display| {
            EngineError::from(EngineConfigError::at(
                &self.engine,
                "",
                format!("cannot write the afferent map {}: {e}", path.display()),
            ))
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| fail(&e))?;
        text.push('\n');
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        std::fs::write(&path, text).map_err(|e| fail(&e))?;
        Ok(path)
    }

    /// Writes the map into `run_dir` when there is one (what the engines do at construction).
    pub(crate) fn write_into(&self, run_dir: Option<&Path>) -> Result<(), EngineError> {
        match run_dir {
            Some(dir) => self.write(dir).map(|_| ()),
            None => Ok(()),
        }
    }
}

/// A sensor engine that tells which afferent each of its output neurons stands for.
pub trait Afferents {
    /// The map, for the engine named `engine`.
    fn afferent_map(&self, engine: &str) -> AfferentMap;
}

impl Afferents for crate::skin::Skin {
    fn afferent_map(&self, engine: &str) -> AfferentMap {
        crate::skin::Skin::afferent_map(self, engine)
    }
}

impl Afferents for crate::proprio::Proprioception {
    fn afferent_map(&self, engine: &str) -> AfferentMap {
        crate::proprio::Proprioception::afferent_map(self, engine)
    }
}

/// A small sensor engine built when its configuration is resolved; its build stage writes its afferent
/// map into the run folder (`NEUROLOOP_RUN_DIR`, when `neuroloop run` started it).
pub struct WithAfferentMap<E>(pub E);

impl<E: Engine + Afferents + 'static> ResolvedConfig for WithAfferentMap<E> {
    fn ports(&self) -> Vec<PortSpec> {
        self.0.ports()
    }

    fn build(self: Box<Self>, ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
        self.0
            .afferent_map(&ctx.name)
            .write_into(run_dir_from_env().as_deref())?;
        Ok(Box::new(self.0))
    }
}
