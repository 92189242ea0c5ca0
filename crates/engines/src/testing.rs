//! Engines for tests and benchmarks: [`Probe`], [`Noop`] and [`Fault`].

use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::port::{PortKind, PortSpec};
use serde::Deserialize;

use neuroloop_core::engine::require;

/// Configuration of [`Probe`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Size of the `spikes` input and output populations (default 10).
    pub size: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig { size: 10 }
    }
}

/// Reports what it receives, to test the lockstep rules end to end. Output `seen` holds, after each
/// step: the `value` input, the time its producer made it (ms, -1 before any), the number of spikes
/// received in this step, and the total received so far. Output `spikes` emits one spike per step, of
/// neuron `step % size`, at the step's start.
pub struct Probe {
    size: u32,
    total_spikes: u64,
}

impl Probe {
    /// Builds the probe.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: ProbeConfig = ctx.config()?;
        require(cfg.size > 0, ctx, "size", "must be > 0")?;
        Ok(Probe {
            size: cfg.size,
            total_spikes: 0,
        })
    }
}

impl Engine for Probe {
    fn ports(&self) -> Vec<PortSpec> {
        vec![
            PortSpec::input("value", PortKind::analog(&[("value", "1")])),
            PortSpec::input("spikes", PortKind::Spikes { size: self.size }),
            PortSpec::output(
                "seen",
                PortKind::analog(&[
                    ("value", "1"),
                    ("value_stamp_ms", "ms"),
                    ("spikes_now", "1"),
                    ("spikes_total", "1"),
                ]),
            ),
            PortSpec::output("spikes", PortKind::Spikes { size: self.size }),
            PortSpec::output("time", PortKind::analog(&[("t_end", "ms")])),
        ]
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let n = inputs.spikes(1).len() as u64;
        self.total_spikes += n;
        let stamp = inputs.stamp(0).map_or(-1.0, |s| s.to_ms(ctx.base_step_ms));
        let seen = outputs.analog_mut(2);
        seen[0] = inputs.analog(0)[0];
        seen[1] = stamp;
        seen[2] = n as f64;
        seen[3] = self.total_spikes as f64;
        outputs
            .spikes_mut(3)
            .push((ctx.step.0 % u64::from(self.size)) as u32, ctx.t_ms());
        outputs.analog_mut(4)[0] = ctx.end_ms();
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.total_spikes = 0;
        Ok(())
    }
}

/// Configuration of [`Noop`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoopConfig {
    /// Length of the analog vectors (default 8).
    pub channels: u32,
    /// Size of the spike populations (default 100).
    pub size: u32,
    /// Spikes emitted per step (default 4).
    pub spikes_per_step: u32,
}

impl Default for NoopConfig {
    fn default() -> Self {
        NoopConfig {
            channels: 8,
            size: 100,
            spikes_per_step: 4,
        }
    }
}

/// Computes nothing; passes small payloads so the coupling benchmark measures only the coupling.
pub struct Noop {
    cfg: NoopConfig,
}

impl Noop {
    /// Builds the engine.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        let cfg: NoopConfig = ctx.config()?;
        require(cfg.size > 0, ctx, "size", "must be > 0")?;
        Ok(Noop { cfg })
    }
}

impl Engine for Noop {
    fn ports(&self) -> Vec<PortSpec> {
        let names: Vec<String> = (0..self.cfg.channels).map(|i| format!("c{i}")).collect();
        let channels: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
        vec![
            PortSpec::input("analog_in", PortKind::analog(&channels)),
            PortSpec::input(
                "spikes_in",
                PortKind::Spikes {
                    size: self.cfg.size,
                },
            ),
            PortSpec::output("analog_out", PortKind::analog(&channels)),
            PortSpec::output(
                "spikes_out",
                PortKind::Spikes {
                    size: self.cfg.size,
                },
            ),
        ]
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        _inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        for v in outputs.analog_mut(2) {
            *v = ctx.step.0 as f64;
        }
        let t = ctx.t_ms();
        let out = outputs.spikes_mut(3);
        for i in 0..u64::from(self.cfg.spikes_per_step) {
            out.push(((ctx.step.0 * 7 + i) % u64::from(self.cfg.size)) as u32, t);
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        Ok(())
    }
}

/// What [`Fault`] does.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    /// Abort the process (as a crash would).
    Crash,
    /// Stop answering (sleep forever).
    Hang,
    /// Return an error from `step`.
    Error,
    /// Exit the process with status 3.
    Exit,
    /// Panic in `step` (a bug in a model).
    Panic,
    /// Never fail.
    None,
}

/// Configuration of [`Fault`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// What to do.
    pub mode: FaultMode,
    /// Simulated time at which to do it, in ms (the step starting at or after it).
    #[serde(default)]
    pub at_ms: f64,
}

/// Fails on purpose at a given simulated time, after writing a line to stderr: for fault tests.
pub struct Fault {
    cfg: FaultConfig,
}

impl Fault {
    /// Builds the engine.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        Ok(Fault { cfg: ctx.config()? })
    }
}

impl Engine for Fault {
    fn ports(&self) -> Vec<PortSpec> {
        vec![PortSpec::output(
            "value",
            PortKind::analog(&[("value", "1")]),
        )]
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        _inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        outputs.analog_mut(0)[0] = ctx.t_ms();
        if ctx.t_ms() < self.cfg.at_ms {
            return Ok(());
        }
        match self.cfg.mode {
            FaultMode::Crash => {
                eprintln!("fault engine: crashing on purpose at {} ms", ctx.t_ms());
                std::process::abort();
            }
            FaultMode::Hang => {
                eprintln!("fault engine: hanging on purpose at {} ms", ctx.t_ms());
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
            }
            FaultMode::Error => Err(EngineError::Model(format!(
                "failing on purpose at {} ms",
                ctx.t_ms()
            ))),
            FaultMode::Panic => panic!("fault engine: panicking on purpose at {} ms", ctx.t_ms()),
            FaultMode::Exit => {
                eprintln!("fault engine: exiting with status 3 at {} ms", ctx.t_ms());
                std::process::exit(3);
            }
            FaultMode::None => Ok(()),
        }
    }
}
