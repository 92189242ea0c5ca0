//! The coordinator's state: the engines as it sees them, the lockstep, the recorder and the timings.
//! Its behaviour is spread by concern: [`crate::handshake`] (start), [`crate::stepping`] (the step
//! loop), [`crate::faults`] (errors and shutdown), [`crate::report`] (report and manifest).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use neuroloop_core::experiment::Experiment;
use neuroloop_core::lockstep::Lockstep;
use neuroloop_core::port::PortSpec;
use neuroloop_core::time::Step;
use neuroloop_core::wire::DataEntry;
use neuroloop_record::Recorder;
use neuroloop_transport::Hub;

use crate::processes::EngineProcess;
use crate::stats::Histogram;
use crate::RunError;

/// One engine as the coordinator sees it.
pub(crate) struct EngineState {
    pub name: String,
    pub kind: String,
    pub external: bool,
    pub process: Option<EngineProcess>,
    pub ports: Vec<PortSpec>,
    /// The step (or window of steps) it is computing: (start, when it was sent).
    pub busy: Option<(Step, Instant)>,
    /// Where the step or window it was last sent ends, and how many steps it holds.
    pub busy_until: Step,
    pub busy_steps: u32,
    /// Its finished step or window, not yet taken in: (start, outputs of each step, compute ns).
    pub done: Option<(Step, Vec<Vec<DataEntry>>, u64)>,
    /// Compute time of its steps.
    pub compute: Histogram,
    pub joined: bool,
    /// The pid its `Hello` gave (for an external engine's error reports).
    pub hello_pid: Option<u32>,
    pub said_bye: bool,
    /// Its liveliness token went away (it exited or lost its connection).
    pub gone: bool,
    /// When its last message came (how long it was silent when its connection was lost).
    pub last_heard: Option<Instant>,
    /// Recorded output ports: (port index, recorder index).
    pub recorded: Vec<(u16, usize)>,
    /// Recorded input ports (what their links delivered): (port index, recorder index).
    pub recorded_inputs: Vec<(u16, usize)>,
    /// How the process ended, if not normally (filled when the run stops).
    pub exit: Option<String>,
}

/// An output port whose every step's value is kept until read (`Run::tap`), the oldest dropped
/// beyond `capacity`.
pub(crate) struct Tap {
    pub port: u16,
    pub capacity: usize,
    /// (end of the step, the value sent at its end).
    pub values: std::collections::VecDeque<(Step, neuroloop_core::payload::Payload)>,
}

/// The coordinator of one run.
pub(crate) struct Coordinator {
    pub exp: Experiment,
    pub hub: Hub,
    pub engines: Vec<EngineState>,
    pub lockstep: Option<Lockstep>,
    pub recorder: Option<Recorder>,
    pub interrupt: Arc<AtomicBool>,
    pub step_timeout: Duration,
    /// Last boundary all engines reached.
    pub reached: Step,
    /// Wall seconds spent stepping.
    pub wall_s: f64,
    /// Coupling overhead and wall time of every round (bounded memory).
    pub overhead: Histogram,
    pub step_wall: Histogram,
    /// Every round's overhead, kept only for benchmarks (`RunOptions::keep_step_times`).
    pub overhead_ns: Option<Vec<u64>>,
    pub late_steps: u64,
    pub realtime: bool,
    /// The episode (0 until the first reset) and its run seed (the run seed for episode 0).
    pub episode: u32,
    pub episode_seed: u64,
    /// Base steps of the episodes before this one.
    pub steps_before: u64,
    /// Per engine, the outputs of the last step it finished (its initial outputs before that).
    pub latest: Vec<Vec<DataEntry>>,
    /// When stepping first began (real-time pacing counts from there).
    pub paced_from: Option<Instant>,
    /// When the recorder was last flushed.
    pub last_flush: Instant,
    /// Outputs collected in the last round, recorded while the engines compute the next one:
    /// (engine, end of the step, outputs).
    pub unrecorded: Vec<(usize, Step, Vec<DataEntry>)>,
    /// Per engine, its tapped output ports (see `Run::tap`).
    pub taps: Vec<Vec<Tap>>,
    /// Scratch for the inputs of one `Step` message and its encoding.
    pub inputs: Vec<DataEntry>,
    pub buf: Vec<u8>,
}

/// A failed start: the error and the processes started so far (killed when dropped).
pub(crate) type StartError = (RunError, Vec<EngineProcess>);
