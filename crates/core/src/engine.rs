//! The engine interface: what an engine author implements.
//!
//! An engine owns one simulator. The coordinator creates it from its configuration (an
//! [`EngineConstructor`]), asks for its [`ports`](Engine::ports) and outputs at t = 0, then calls
//! [`step`](Engine::step) once per sync step with the inputs its links deliver. `neuroloop-transport`
//! runs an engine as its own process over zenoh; the same engine can be stepped here in a unit test.
//!
//! The contract of `step` (after NEST's `update`): it takes the engine's state from `ctx.step` to
//! `ctx.end()`; the inputs are what its producers made up to the end of their last completed step (one
//! step of delay per link); every spike or event it emits is stamped inside `[ctx.t_ms(), ctx.end_ms()]`
//! (grid simulators such as the brain stamp a spike at the end of the step it fired in, which can be the
//! sync step's end).
//! Model code sees simulated time only: no wall clock.
//!
//! ```
//! use neuroloop_core::engine::*;
//! use neuroloop_core::port::{PortKind, PortSpec};
//!
//! /// Doubles its input.
//! struct Doubler;
//!
//! impl Engine for Doubler {
//!     fn ports(&self) -> Vec<PortSpec> {
//!         vec![
//!             PortSpec::input("x", PortKind::analog(&[("x", "1")])),
//!             PortSpec::output("y", PortKind::analog(&[("y", "1")])),
//!         ]
//!     }
//!     fn step(&mut self, _ctx: &StepContext, inputs: &Inputs, outputs: &mut Outputs) -> Result<(), EngineError> {
//!         let x = inputs.analog(0)[0];
//!         outputs.analog_mut(1)[0] = 2.0 * x;
//!         Ok(())
//!     }
//! }
//!
//! let mut e = Doubler;
//! let ports = e.ports();
//! let mut inputs = Inputs::for_ports(&ports);
//! let mut outputs = Outputs::for_ports(&ports);
//! inputs.set(0, neuroloop_core::payload::Payload::Analog(vec![1.5]), None);
//! let ctx = StepContext { step: neuroloop_core::time::Step(0), n_steps: 1, base_step_ms: 1.0 };
//! e.step(&ctx, &inputs, &mut outputs).unwrap();
//! assert_eq!(outputs.analog(1), &[3.0]);
//! ```

use crate::payload::{EventBatch, Payload, SpikeBatch};
use crate::port::{payload_type, Direction, PortRef, PortSpec};
use crate::time::Step;
use crate::wire::DataEntry;

/// Everything an engine is created from.
#[derive(Clone, Debug)]
pub struct InitContext {
    /// The engine's name in the experiment.
    pub name: String,
    /// The engine's `config` table from the experiment file.
    pub config: serde_json::Value,
    /// The engine's seed (derived from the run seed and the engine name unless set).
    pub seed: u64,
    /// Length of the base step in ms.
    pub base_step_ms: f64,
    /// The engine's sync step in base steps.
    pub period: u32,
    /// The episode of the run this engine is built for: 0 after `Init`, k after the k-th `Reset`
    /// (which rebuilds the engine with the episode's seed). Engines that write files into the run
    /// folder append to them in later episodes.
    pub episode: u32,
}

impl InitContext {
    /// The engine's sync step in ms.
    pub fn step_ms(&self) -> f64 {
        self.base_step_ms * f64::from(self.period)
    }

    /// Deserializes the `config` table into the engine's own configuration type. Unknown keys are refused
    /// if `T` uses `#[serde(deny_unknown_fields)]`; the error names the key.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T, EngineError> {
        let value = if self.config.is_null() {
            serde_json::json!({})
        } else {
            self.config.clone()
        };
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." { String::new() } else { path };
            EngineConfigError::config(&self.name, &key, e.inner().to_string()).into()
        })
    }
}

/// Where a step is in simulated time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepContext {
    /// Start of the step.
    pub step: Step,
    /// Length of the step in base steps.
    pub n_steps: u32,
    /// Length of a base step in ms.
    pub base_step_ms: f64,
}

impl StepContext {
    /// End of the step.
    pub fn end(&self) -> Step {
        Step(self.step.0 + u64::from(self.n_steps))
    }

    /// Start of the step in ms.
    pub fn t_ms(&self) -> f64 {
        self.step.to_ms(self.base_step_ms)
    }

    /// End of the step in ms.
    pub fn end_ms(&self) -> f64 {
        self.end().to_ms(self.base_step_ms)
    }

    /// Length of the step in ms.
    pub fn dt_ms(&self) -> f64 {
        f64::from(self.n_steps) * self.base_step_ms
    }
}

/// A configuration of an engine that cannot work: which engine, which key, and why. Shown as
/// `engines.<engine>.<key>: <reason>` (`engines.<engine>: <reason>` without a key), the key path of
/// the experiment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfigError {
    /// The engine's name in the experiment.
    pub engine: String,
    /// The key's path under `engines.<engine>`: `config.render.dt_ms`, `config` (the table as a whole),
    /// `step_ms`; empty for the engine as a whole.
    pub key: String,
    /// What is wrong, naming the offending value.
    pub reason: String,
}

/// `Ok` when `ok`; else the configuration error at `key` of the engine's `config` table, with `why`
/// (how every built-in engine checks a configuration value and names its key).
pub fn require(ok: bool, ctx: &InitContext, key: &str, why: &str) -> Result<(), EngineError> {
    if ok {
        Ok(())
    } else {
        Err(EngineConfigError::config(&ctx.name, key, why).into())
    }
}

impl EngineConfigError {
    /// An error at `key` of the engine's `config` table (a path such as `render.dt_ms`; empty: the
    /// table as a whole).
    pub fn config(engine: &str, key: &str, reason: impl Into<String>) -> Self {
        let key = if key.is_empty() {
            "config".to_string()
        } else {
            format!("config.{key}")
        };
        EngineConfigError::at(engine, &key, reason)
    }

    /// An error at `key` under `engines.<engine>` itself (e.g. `step_ms`; empty: the engine).
    pub fn at(engine: &str, key: &str, reason: impl Into<String>) -> Self {
        EngineConfigError {
            engine: engine.to_string(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// The key path in the experiment file: `engines.<engine>.<key>`.
    pub fn path(&self) -> String {
        if self.key.is_empty() {
            format!("engines.{}", self.engine)
        } else {
            format!("engines.{}.{}", self.engine, self.key)
        }
    }
}

impl std::fmt::Display for EngineConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path(), self.reason)
    }
}

impl std::error::Error for EngineConfigError {}

/// An engine failed; the text says why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration cannot work.
    #[error("configuration: {0}")]
    Config(#[from] EngineConfigError),
    /// The model failed during a step.
    #[error("{0}")]
    Model(String),
}

/// What an engine author implements. See the [module docs](self) for the contract.
pub trait Engine: Send {
    /// The engine's ports, inputs and outputs; a port's index in this list is its index everywhere else.
    fn ports(&self) -> Vec<PortSpec>;

    /// Fills the outputs at t = 0, which consumers see in their first step. The default leaves them
    /// empty (no spikes, no events) or zero.
    fn initial_outputs(&mut self, _outputs: &mut Outputs) {}

    /// Advances from `ctx.step` to `ctx.end()`.
    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError>;

    /// Goes back to the state at t = 0 (same seed, same parameters), for programs that hold the engine
    /// in-process. The engine runner of a run does not call it: on the protocol's `Reset` it builds
    /// the engine anew with the episode's seed (`InitContext::episode`). The default refuses.
    fn reset(&mut self) -> Result<(), EngineError> {
        Err(EngineError::Model("this engine cannot be reset".into()))
    }

    /// Releases resources before the process exits.
    fn shutdown(&mut self) {}
}

/// Creates an engine from its configuration.
pub type EngineConstructor = fn(&InitContext) -> Result<Box<dyn Engine>, EngineError>;

/// The first stage of creating an engine: its configuration read and checked (every check, units
/// turned into steps), which tells the engine's ports without building anything large (no network, no
/// physics world, no renderer). The experiment checker (`neuroloop validate`) stops here; a run then
/// [`build`](ResolvedConfig::build)s the engine, which only allocates and writes its files.
pub trait ResolvedConfig: Send {
    /// The ports the engine will have (the same list as its [`Engine::ports`]).
    fn ports(&self) -> Vec<PortSpec>;

    /// Builds the engine. `ctx` is the context this configuration was resolved from.
    fn build(self: Box<Self>, ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError>;
}

/// Resolves an engine's configuration (the first stage; see [`ResolvedConfig`]).
pub type ConfigResolver = fn(&InitContext) -> Result<Box<dyn ResolvedConfig>, EngineError>;

/// A small engine that holds nothing but its checked configuration is resolved by building it: its
/// ports come from the built engine, and building it again is not needed.
pub struct Built(pub Box<dyn Engine>);

impl ResolvedConfig for Built {
    fn ports(&self) -> Vec<PortSpec> {
        self.0.ports()
    }

    fn build(self: Box<Self>, _ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
        Ok(self.0)
    }
}

/// One built-in engine kind: the name an experiment's `kind` gives and how its configuration is
/// resolved. Each engine crate lists its kinds in one table of these.
#[derive(Clone, Copy)]
pub struct BuiltinKind {
    /// The `kind` of the experiment file.
    pub name: &'static str,
    /// The first stage: configuration checked, ports known, nothing large built.
    pub resolve: ConfigResolver,
}

impl BuiltinKind {
    /// Both stages: resolves the configuration, then builds the engine.
    pub fn construct(&self, ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
        (self.resolve)(ctx)?.build(ctx)
    }
}

impl std::fmt::Debug for BuiltinKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinKind")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The inputs of one step, one slot per port (output ports' slots stay empty).
///
/// Held values (analog, scalar) stay until new data arrives; batches (spikes, events) hold only what
/// arrived for this step.
#[derive(Clone, Debug)]
pub struct Inputs {
    slots: Vec<Payload>,
    stamps: Vec<Option<Step>>,
    is_input: Vec<bool>,
}

impl Inputs {
    /// Empty inputs for a port list.
    pub fn for_ports(ports: &[PortSpec]) -> Self {
        Inputs {
            slots: ports.iter().map(|p| Payload::empty_for(&p.kind)).collect(),
            stamps: vec![None; ports.len()],
            is_input: ports
                .iter()
                .map(|p| p.direction == Direction::Input)
                .collect(),
        }
    }

    /// Starts a new step: empties the batches (held values stay).
    pub fn begin_step(&mut self) {
        for s in &mut self.slots {
            match s {
                Payload::Spikes(b) => b.clear(),
                Payload::Events(b) => b.clear(),
                _ => {}
            }
        }
    }

    /// Stores the data for one input port. Returns an error text if `port` is not an input of the
    /// payload's type.
    pub fn set(
        &mut self,
        port: usize,
        payload: Payload,
        stamp: Option<Step>,
    ) -> Result<(), String> {
        match self.slots.get(port) {
            None => return Err(format!("port index {port} does not exist")),
            Some(_) if !self.is_input[port] => {
                return Err(format!("port index {port} is not an input"))
            }
            Some(s) if s.port_type() != payload.port_type() => {
                return Err(format!(
                    "port {port} is {}, got {}",
                    s.port_type(),
                    payload.port_type()
                ))
            }
            _ => {}
        }
        self.slots[port] = payload;
        self.stamps[port] = stamp;
        Ok(())
    }

    /// The data on a port (any type).
    pub fn get(&self, port: usize) -> &Payload {
        &self.slots[port]
    }

    /// When the held value on `port` was produced (`None` before any data arrived).
    pub fn stamp(&self, port: usize) -> Option<Step> {
        self.stamps[port]
    }

    /// The analog vector on `port`. Panics if the port is not analog (a programming error).
    pub fn analog(&self, port: impl PortRef<payload_type::Analog>) -> &[f64] {
        let port = port.port_index();
        match &self.slots[port] {
            Payload::Analog(v) => v,
            p => panic!("port {port} is {}, not analog", p.port_type()),
        }
    }

    /// The spikes on `port`. Panics if the port is not a spike port.
    pub fn spikes(&self, port: impl PortRef<payload_type::Spikes>) -> &SpikeBatch {
        let port = port.port_index();
        match &self.slots[port] {
            Payload::Spikes(b) => b,
            p => panic!("port {port} is {}, not spikes", p.port_type()),
        }
    }

    /// The events on `port`. Panics if the port is not an event port.
    pub fn events(&self, port: impl PortRef<payload_type::Events>) -> &EventBatch {
        let port = port.port_index();
        match &self.slots[port] {
            Payload::Events(b) => b,
            p => panic!("port {port} is {}, not events", p.port_type()),
        }
    }

    /// The scalar on `port`. Panics if the port is not scalar.
    pub fn scalar(&self, port: impl PortRef<payload_type::Scalar>) -> f64 {
        let port = port.port_index();
        match &self.slots[port] {
            Payload::Scalar(x) => *x,
            p => panic!("port {port} is {}, not scalar", p.port_type()),
        }
    }
}

/// The outputs of one step, one slot per port (input ports' slots are unused).
///
/// Batches (spikes, events) are emptied before every step; held values (analog, scalar) keep what the
/// engine last wrote.
#[derive(Clone, Debug)]
pub struct Outputs {
    slots: Vec<Payload>,
    outputs: Vec<u16>,
}

impl Outputs {
    /// Empty or zero outputs for a port list.
    pub fn for_ports(ports: &[PortSpec]) -> Self {
        Outputs {
            slots: ports.iter().map(|p| Payload::empty_for(&p.kind)).collect(),
            outputs: ports
                .iter()
                .enumerate()
                .filter(|(_, p)| p.direction == Direction::Output)
                .map(|(i, _)| i as u16)
                .collect(),
        }
    }

    /// Starts a new step: empties the batches.
    pub fn begin_step(&mut self) {
        for &i in &self.outputs {
            match &mut self.slots[usize::from(i)] {
                Payload::Spikes(b) => b.clear(),
                Payload::Events(b) => b.clear(),
                _ => {}
            }
        }
    }

    /// Indices of the output ports.
    pub fn output_ports(&self) -> &[u16] {
        &self.outputs
    }

    /// The data on a port.
    pub fn get(&self, port: usize) -> &Payload {
        &self.slots[port]
    }

    /// Mutable access to a port's data.
    pub fn get_mut(&mut self, port: usize) -> &mut Payload {
        &mut self.slots[port]
    }

    /// The analog vector on `port`. Panics if the port is not analog.
    pub fn analog(&self, port: impl PortRef<payload_type::Analog>) -> &[f64] {
        let port = port.port_index();
        match &self.slots[port] {
            Payload::Analog(v) => v,
            p => panic!("port {port} is {}, not analog", p.port_type()),
        }
    }

    /// Mutable analog vector on `port` (its length is the port's). Panics if the port is not analog.
    pub fn analog_mut(&mut self, port: impl PortRef<payload_type::Analog>) -> &mut [f64] {
        let port = port.port_index();
        match &mut self.slots[port] {
            Payload::Analog(v) => v,
            p => panic!("port {port} is {}, not analog", p.port_type()),
        }
    }

    /// The spike batch on `port`, to push spikes into. Panics if the port is not a spike port.
    pub fn spikes_mut(&mut self, port: impl PortRef<payload_type::Spikes>) -> &mut SpikeBatch {
        let port = port.port_index();
        match &mut self.slots[port] {
            Payload::Spikes(b) => b,
            p => panic!("port {port} is {}, not spikes", p.port_type()),
        }
    }

    /// The event batch on `port`, to push events into. Panics if the port is not an event port.
    pub fn events_mut(&mut self, port: impl PortRef<payload_type::Events>) -> &mut EventBatch {
        let port = port.port_index();
        match &mut self.slots[port] {
            Payload::Events(b) => b,
            p => panic!("port {port} is {}, not events", p.port_type()),
        }
    }

    /// Sets the scalar on `port`. Panics if the port is not scalar.
    pub fn set_scalar(&mut self, port: impl PortRef<payload_type::Scalar>, value: f64) {
        let port = port.port_index();
        match &mut self.slots[port] {
            Payload::Scalar(x) => *x = value,
            p => panic!("port {port} is {}, not scalar", p.port_type()),
        }
    }

    /// All output ports' data as wire entries stamped `stamp`.
    pub fn entries(&self, stamp: Step) -> Vec<DataEntry> {
        self.outputs
            .iter()
            .map(|&i| DataEntry {
                port: i,
                stamp,
                payload: self.slots[usize::from(i)].clone(),
            })
            .collect()
    }
}

/// Memory the system reports as available (Linux `MemAvailable`), in bytes: what an engine checks its
/// estimate against before it allocates (and refuses with the figures instead of aborting).
pub fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
