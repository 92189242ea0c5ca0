//! Steps a sensor engine in-process through the Engine trait.
#![allow(dead_code)]

use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::payload::{EventBatch, Payload, SpikeBatch};
use neuroloop_core::port::{Direction, PortSpec};
use neuroloop_core::time::Step;

pub type Constructor = fn(&InitContext) -> Result<Box<dyn Engine>, EngineError>;

pub fn ctx(name: &str, config: serde_json::Value, seed: u64, period: u32) -> InitContext {
    InitContext {
        name: name.into(),
        config,
        seed,
        base_step_ms: 1.0,
        period,
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
