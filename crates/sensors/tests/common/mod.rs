//! Steps a sensor engine in-process through the Engine trait.
#![allow(dead_code)]

use neuroloop_body::world::WorldSpec;
use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::payload::{EventBatch, Payload, SpikeBatch};
use neuroloop_core::port::{Direction, PortSpec};
use neuroloop_core::time::Step;
use std::path::PathBuf;

pub type Constructor = fn(&InitContext) -> Result<Box<dyn Engine>, EngineError>;

pub fn ctx(name: &str, config: serde_json::Value, seed: u64, period: u32) -> InitContext {
    InitContext {
        name: name.into(),
        config,
        seed,
        base_step_ms: 1.0,
        period,
        episode: 0,
    }
}

/// An engine with its port buffers.
pub struct Harness {
    pub engine: Box<dyn Engine>,
    pub ports: Vec<PortSpec>,
    inputs: Inputs,
    pub outputs: Outputs,
    step: u64,
    period: u32,
}

impl Harness {
    pub fn new(make: Constructor, ctx: &InitContext) -> Self {
        let engine = make(ctx).expect("valid configuration");
        let ports = engine.ports();
        Harness {
            inputs: Inputs::for_ports(&ports),
            outputs: Outputs::for_ports(&ports),
            engine,
            ports,
            step: 0,
            period: ctx.period,
        }
    }

    pub fn port(&self, name: &str) -> usize {
        self.ports
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("no port {name}"))
    }

    /// One sync step with the given analog input (if the engine has an input port); checks every output
    /// against its declared kind and the step's time window.
    pub fn step(&mut self, analog_input: Option<&[f64]>) {
        self.inputs.begin_step();
        if let Some(x) = analog_input {
            let i = self
                .ports
                .iter()
                .position(|p| p.direction == Direction::Input)
                .expect("an input port");
            self.inputs
                .set(i, Payload::Analog(x.to_vec()), Some(Step(self.step)))
                .unwrap();
        }
        self.outputs.begin_step();
        let c = StepContext {
            step: Step(self.step),
            n_steps: self.period,
            base_step_ms: 1.0,
        };
        self.engine
            .step(&c, &self.inputs, &mut self.outputs)
            .unwrap();
        for &o in self.outputs.output_ports() {
            let o = usize::from(o);
            let p = self.outputs.get(o);
            p.check_against(&self.ports[o].kind).unwrap();
            let times: &[f64] = match p {
                Payload::Spikes(b) => &b.time_ms,
                Payload::Events(b) => &b.time_ms,
                _ => &[],
            };
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
            assert!(
                times.iter().all(|&t| t >= c.t_ms() && t < c.end_ms()),
                "inside the step"
            );
        }
        self.step += u64::from(self.period);
    }

    /// Resets the engine and the clock to t = 0.
    pub fn reset(&mut self) {
        self.engine.reset().unwrap();
        self.step = 0;
        self.inputs = Inputs::for_ports(&self.ports);
    }

    pub fn spikes(&self, name: &str) -> SpikeBatch {
        match self.outputs.get(self.port(name)) {
            Payload::Spikes(b) => b.clone(),
            _ => panic!("{name} is not spikes"),
        }
    }

    pub fn events(&self, name: &str) -> EventBatch {
        match self.outputs.get(self.port(name)) {
            Payload::Events(b) => b.clone(),
            _ => panic!("{name} is not events"),
        }
    }

    pub fn analog(&self, name: &str) -> Vec<f64> {
        self.outputs.analog(self.port(name)).to_vec()
    }
}

/// The shipped world file, `worlds/mouse_forelimb_joystick.toml`.
pub fn shipped_world_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../worlds/mouse_forelimb_joystick.toml")
}

/// Writes `text` to a fresh world file in the temporary folder (unique per test binary and `tag`).
pub fn temp_world(tag: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "neuroloop-sensors-world-{}-{tag}.toml",
        std::process::id()
    ));
    std::fs::write(&p, text).unwrap();
    p
}

/// The configuration error of engine `make` for `config` (fails the test if it is accepted).
pub fn config_error(make: Constructor, config: serde_json::Value) -> String {
    match make(&ctx("s", config.clone(), 1, 1)) {
        Ok(_) => panic!("accepted {config}"),
        Err(EngineError::Config(m)) => m.to_string(),
        Err(e) => panic!("not a configuration error: {e}"),
    }
}

/// Reference poses of `w`'s bodies as the body engine reports them before it moves (7 numbers per
/// body: x, y, z, qw, qx, qy, qz).
pub fn reference_poses(w: &WorldSpec) -> Vec<f64> {
    (0..w.bodies.len())
        .flat_map(|i| {
            let p = w.reference_pose(i);
            let (t, q) = (p.translation, p.rotation);
            [t.x, t.y, t.z, q.w, q.x, q.y, q.z]
        })
        .collect()
}

/// Engine `make` refuses a missing world file and an invalid one (the shipped world with `from`
/// replaced by `to`), naming `world_file` and, for the invalid one, the world's own key `world_key`.
pub fn assert_world_file_errors(
    make: Constructor,
    tag: &str,
    from: &str,
    to: &str,
    world_key: &str,
) {
    let missing = std::env::temp_dir().join(format!("neuroloop-{tag}-no-such-world.toml"));
    let m = config_error(make, serde_json::json!({ "world_file": missing }));
    assert!(
        m.starts_with("engines.s.config.world_file: ") && m.contains("cannot read"),
        "{m}"
    );
    // An invalid world: its own key path follows world_file.
    let text = neuroloop_body::world::MOUSE_FORELIMB_JOYSTICK.replacen(from, to, 1);
    assert_ne!(
        text,
        neuroloop_body::world::MOUSE_FORELIMB_JOYSTICK,
        "{from:?} not found"
    );
    let bad = temp_world(&format!("{tag}-bad"), &text);
    let m = config_error(make, serde_json::json!({ "world_file": bad }));
    std::fs::remove_file(&bad).unwrap();
    assert!(
        m.starts_with("engines.s.config.world_file: ") && m.contains(world_key),
        "{m}"
    );
}
