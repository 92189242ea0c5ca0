//! The joystick pull task of Mathis, Mathis & Uchida (2017), Neuron 93:1493: trial state machine,
//! session blocks, the lateral force pulse and the per-trial records.
//!
//! States (the `task` port reports the number):
//!
//! | # | state | leaves when |
//! |---|---|---|
//! | 0 | `Iti` | `iti_ms` elapsed -> `Home` |
//! | 1 | `Home` | grip inside the home box for `home_dwell_ms` -> `Armed` |
//! | 2 | `Armed` | pull crosses `start_line_mm` -> `Moving` (trial starts, pulse starts in force-field trials); grip leaves the home box other than by pulling -> `Home` |
//! | 3 | `Moving` | grip in the end box -> `Holding`; `movement_window_ms` after the start -> `Iti` (timeout) |
//! | 4 | `Holding` | held `hold_ms` -> reward, `Iti` (success); leaves the box -> `Moving` |
//! | 5 | `Done` | all trials of the session are over |
//!
//! The home box is |pull| and |lateral| <= `home_half_width_mm`; the end box is pull >= `end_pull_mm`
//! and |lateral| <= `end_lateral_mm`. Reaction time: from `Armed` to the start crossing; movement time:
//! from the start crossing to the first entry into the end box of a successful trial.

use serde::{Deserialize, Serialize};

use crate::BodyError;

/// Task parameters (world file `[task]`, overridable from the engine config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskSpec {
    /// Half width of the home box around the rest position, mm (default 1.0).
    pub home_half_width_mm: f64,
    /// Dwell in the home box before a trial can start, ms (default 100).
    pub home_dwell_ms: f64,
    /// Pull distance that starts a trial, mm (default 1.0).
    pub start_line_mm: f64,
    /// Pull distance of the end box, mm (default 3.5; see the shipped world file for why not 4).
    pub end_pull_mm: f64,
    /// Lateral half width of the end box, mm (default 1.0).
    pub end_lateral_mm: f64,
    /// Hold in the end box for a reward, ms (default 50).
    pub hold_ms: f64,
    /// Time from the start crossing to reach and hold, ms (default 400).
    pub movement_window_ms: f64,
    /// Inter-trial interval, ms (default 1000).
    pub iti_ms: f64,
    /// Trials in the baseline block (default 75).
    pub baseline_trials: u32,
    /// Trials in the force-field block (default 100).
    pub force_field_trials: u32,
    /// Trials in the washout block (default 75).
    pub washout_trials: u32,
    /// Pull positions past the start line at which lateral displacement is sampled, mm (default 0.5, 1,
    /// 1.5, 2).
    pub bins_mm: Vec<f64>,
    /// The lateral force pulse of the force-field block.
    pub perturbation: PerturbationSpec,
    /// Samples of the trajectory kept per trial record: one every this many ms (default 5).
    pub trajectory_sample_ms: f64,
}

/// The lateral force pulse on the joystick grip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerturbationSpec {
    /// Magnitude, N (default 0.1).
    pub force_n: f64,
    /// Duration from the start crossing, ms (default 100).
    pub duration_ms: f64,
    /// Sign along the lateral axis: +1 or -1 (default +1).
    pub direction: f64,
}

impl Default for PerturbationSpec {
    fn default() -> Self {
        PerturbationSpec {
            force_n: 0.1,
            duration_ms: 100.0,
            direction: 1.0,
        }
    }
}

impl Default for TaskSpec {
    fn default() -> Self {
        TaskSpec {
            home_half_width_mm: 1.0,
            home_dwell_ms: 100.0,
            start_line_mm: 1.0,
            end_pull_mm: 3.5,
            end_lateral_mm: 1.0,
            hold_ms: 50.0,
            movement_window_ms: 400.0,
            iti_ms: 1000.0,
            baseline_trials: 75,
            force_field_trials: 100,
            washout_trials: 75,
            bins_mm: vec![0.5, 1.0, 1.5, 2.0],
            perturbation: PerturbationSpec::default(),
            trajectory_sample_ms: 5.0,
        }
    }
}

fn bad(key: &str, why: impl Into<String>) -> BodyError {
    BodyError::World {
        key: format!("task.{key}"),
        why: why.into(),
    }
}

impl TaskSpec {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), BodyError> {
        for (v, k) in [
            (self.home_half_width_mm, "home_half_width_mm"),
            (self.start_line_mm, "start_line_mm"),
            (self.end_pull_mm, "end_pull_mm"),
            (self.end_lateral_mm, "end_lateral_mm"),
            (self.movement_window_ms, "movement_window_ms"),
            (self.trajectory_sample_ms, "trajectory_sample_ms"),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(bad(k, format!("must be > 0 (got {v})")));
            }
        }
        for (v, k) in [
            (self.home_dwell_ms, "home_dwell_ms"),
            (self.hold_ms, "hold_ms"),
            (self.iti_ms, "iti_ms"),
            (self.perturbation.force_n, "perturbation.force_n"),
            (self.perturbation.duration_ms, "perturbation.duration_ms"),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(bad(k, format!("must be >= 0 (got {v})")));
            }
        }
        if self.start_line_mm < self.home_half_width_mm {
            return Err(bad(
                "start_line_mm",
                format!(
                    "must be >= home_half_width_mm ({} < {})",
                    self.start_line_mm, self.home_half_width_mm
                ),
            ));
        }
        if self.end_pull_mm <= self.start_line_mm {
            return Err(bad(
                "end_pull_mm",
                format!(
                    "must be > start_line_mm ({} <= {})",
                    self.end_pull_mm, self.start_line_mm
                ),
            ));
        }
        if self.perturbation.direction != 1.0 && self.perturbation.direction != -1.0 {
            return Err(bad("perturbation.direction", "must be +1 or -1"));
        }
        if let Some(b) = self.bins_mm.iter().find(|b| !(**b > 0.0 && b.is_finite())) {
            return Err(bad("bins_mm", format!("bins must be > 0 (got {b})")));
        }
        Ok(())
    }

    /// Total number of trials in the session.
    pub fn n_trials(&self) -> u32 {
        self.baseline_trials + self.force_field_trials + self.washout_trials
    }

    /// The block of trial `i` (0-based).
    pub fn block_of(&self, i: u32) -> Block {
        if i < self.baseline_trials {
            Block::Baseline
        } else if i < self.baseline_trials + self.force_field_trials {
            Block::ForceField
        } else {
            Block::Washout
        }
    }
}

/// Session blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    /// No perturbation.
    Baseline,
    /// The lateral pulse at every start crossing.
    ForceField,
    /// No perturbation (after-effects).
    Washout,
}

/// Task states; the number is what the `task` port reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Inter-trial interval.
    Iti = 0,
    /// Waiting for the grip to dwell in the home box.
    Home = 1,
    /// Dwelled: a pull across the start line starts the trial.
    Armed = 2,
    /// Trial running, end box not reached.
    Moving = 3,
    /// In the end box, holding.
    Holding = 4,
    /// Session over.
    Done = 5,
}

/// How a trial ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Reached and held the end box in the window: rewarded.
    Success = 1,
    /// The movement window ran out.
    Timeout = 2,
}

/// One trial's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Trial index, 0-based.
    pub index: u32,
    /// Block of the trial.
    pub block: Block,
    /// Outcome.
    pub outcome: Outcome,
    /// Simulated time of the start crossing, ms.
    pub start_ms: f64,
    /// From `Armed` to the start crossing, ms.
    pub reaction_time_ms: f64,
    /// From the start crossing to the end-box entry of a successful trial, ms (NaN when unrewarded;
    /// `null` in JSON).
    #[serde(deserialize_with = "null_as_nan")]
    pub movement_time_ms: f64,
    /// Whether the force pulse was applied.
    pub perturbed: bool,
    /// Largest pull reached, mm.
    pub peak_pull_mm: f64,
    /// Lateral displacement when the pull first reached each of `bins_mm` (measured past the start
    /// line), mm; NaN for bins never reached (`null` in JSON).
    #[serde(deserialize_with = "nulls_as_nan")]
    pub lateral_at_bins_mm: Vec<f64>,
    /// Trajectory from the start crossing: (time since start ms, pull mm, lateral mm), every
    /// `trajectory_sample_ms`.
    pub trajectory: Vec<[f64; 3]>,
}

/// A number of a trials file: JSON writes NaN as `null`, read back as NaN.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Numbers of a trials file, `null` read back as NaN.
fn nulls_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|x| x.unwrap_or(f64::NAN))
        .collect())
}

/// The task's state machine, stepped once per physics step.
#[derive(Clone, Debug)]
pub struct Task {
    spec: TaskSpec,
    state: TaskState,
    /// Time the current state was entered, ms.
    since_ms: f64,
    /// Time of the current dwell/hold's start, ms.
    dwell_start_ms: Option<f64>,
    trial: u32,
    armed_ms: f64,
    start_ms: f64,
    reached_ms: Option<f64>,
    peak_pull_mm: f64,
    lateral_at_bins: Vec<f64>,
    trajectory: Vec<[f64; 3]>,
    next_sample_ms: f64,
    /// Records of the finished trials not yet taken by [`Task::take_records`].
    records: Vec<TrialRecord>,
    /// Outcome of the last finished trial (0 none yet, 1 success, 2 timeout).
    last_outcome: f64,
}

/// What one task step produced.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TaskOutput {
    /// Reward given in this step (1.0 on success, else 0).
    pub reward: f64,
    /// Lateral force to apply to the grip during the next physics step, N (along the lateral axis).
    pub lateral_force_n: f64,
}

impl Task {
    /// A session at t = 0, starting in `Iti` (so the limb settles first).
    pub fn new(spec: TaskSpec) -> Self {
        let n_bins = spec.bins_mm.len();
        let state = if spec.n_trials() == 0 {
            TaskState::Done
        } else {
            TaskState::Iti
        };
        Task {
            spec,
            state,
            since_ms: 0.0,
            dwell_start_ms: None,
            trial: 0,
            armed_ms: 0.0,
            start_ms: 0.0,
            reached_ms: None,
            peak_pull_mm: 0.0,
            lateral_at_bins: vec![f64::NAN; n_bins],
            trajectory: Vec::new(),
            next_sample_ms: 0.0,
            records: Vec::new(),
            last_outcome: 0.0,
        }
    }

    /// The parameters.
    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    /// Current state.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// Index of the current (or next) trial.
    pub fn trial(&self) -> u32 {
        self.trial
    }

    /// Records of the trials finished so far (since the last [`Task::take_records`]).
    pub fn records(&self) -> &[TrialRecord] {
        &self.records
    }

    /// Takes the records of the trials finished since the last call, so that a long session that
    /// writes them out keeps none in memory.
    pub fn take_records(&mut self) -> Vec<TrialRecord> {
        std::mem::take(&mut self.records)
    }

    /// Outcome of the last finished trial as a number (0 none yet, 1 success, 2 timeout).
    pub fn last_outcome(&self) -> f64 {
        self.last_outcome
    }

    fn enter(&mut self, s: TaskState, t_ms: f64) {
        self.state = s;
        self.since_ms = t_ms;
        self.dwell_start_ms = None;
    }

    fn finish(&mut self, outcome: Outcome, t_ms: f64) {
        let perturbed = self.spec.block_of(self.trial) == Block::ForceField
            && self.spec.perturbation.force_n > 0.0;
        self.last_outcome = outcome as u8 as f64;
        self.records.push(TrialRecord {
            index: self.trial,
            block: self.spec.block_of(self.trial),
            outcome,
            start_ms: self.start_ms,
            reaction_time_ms: self.start_ms - self.armed_ms,
            movement_time_ms: match (outcome, self.reached_ms) {
                (Outcome::Success, Some(r)) => r - self.start_ms,
                _ => f64::NAN,
            },
            perturbed,
            peak_pull_mm: self.peak_pull_mm,
            lateral_at_bins_mm: std::mem::take(&mut self.lateral_at_bins),
            trajectory: std::mem::take(&mut self.trajectory),
        });
        self.lateral_at_bins = vec![f64::NAN; self.spec.bins_mm.len()];
        self.trial += 1;
        if self.trial >= self.spec.n_trials() {
            self.enter(TaskState::Done, t_ms);
        } else {
            self.enter(TaskState::Iti, t_ms);
        }
    }

    /// Advances the state machine to time `t_ms` (end of a physics step) with the grip at
    /// (`pull_mm`, `lateral_mm`) relative to its rest position.
    pub fn step(&mut self, t_ms: f64, pull_mm: f64, lateral_mm: f64) -> TaskOutput {
        let s = &self.spec;
        let in_home =
            pull_mm.abs() <= s.home_half_width_mm && lateral_mm.abs() <= s.home_half_width_mm;
        let in_end = pull_mm >= s.end_pull_mm && lateral_mm.abs() <= s.end_lateral_mm;
        let mut out = TaskOutput::default();
        // Tolerance for comparing float times built from integer steps.
        let eps = 1e-9;
        match self.state {
            TaskState::Done => {}
            TaskState::Iti => {
                if t_ms - self.since_ms >= s.iti_ms - eps {
                    self.enter(TaskState::Home, t_ms);
                }
            }
            TaskState::Home => {
                if in_home {
                    let d0 = *self.dwell_start_ms.get_or_insert(t_ms);
                    if t_ms - d0 >= s.home_dwell_ms - eps {
                        self.armed_ms = t_ms;
                        self.enter(TaskState::Armed, t_ms);
                    }
                } else {
                    self.dwell_start_ms = None;
                }
            }
            TaskState::Armed => {
                if pull_mm >= s.start_line_mm {
                    self.start_ms = t_ms;
                    self.reached_ms = None;
                    self.peak_pull_mm = pull_mm;
                    self.trajectory.clear();
                    self.next_sample_ms = t_ms;
                    self.enter(TaskState::Moving, t_ms);
                } else if !in_home {
                    self.enter(TaskState::Home, t_ms);
                }
            }
            TaskState::Moving | TaskState::Holding => {}
        }
        if matches!(self.state, TaskState::Moving | TaskState::Holding) {
            let s = &self.spec;
            self.peak_pull_mm = self.peak_pull_mm.max(pull_mm);
            if t_ms >= self.next_sample_ms - 1e-9 {
                self.trajectory
                    .push([t_ms - self.start_ms, pull_mm, lateral_mm]);
                self.next_sample_ms += s.trajectory_sample_ms;
            }
            for (b, slot) in s.bins_mm.iter().zip(self.lateral_at_bins.iter_mut()) {
                if slot.is_nan() && pull_mm >= s.start_line_mm + b {
                    *slot = lateral_mm;
                }
            }
            let elapsed = t_ms - self.start_ms;
            if self.state == TaskState::Moving && in_end {
                self.reached_ms.get_or_insert(t_ms);
                self.state = TaskState::Holding;
                self.dwell_start_ms = Some(t_ms);
            } else if self.state == TaskState::Holding && !in_end {
                self.state = TaskState::Moving;
                self.dwell_start_ms = None;
                self.reached_ms = None;
            }
            if self.state == TaskState::Holding
                && t_ms - self.dwell_start_ms.unwrap_or(t_ms) >= s.hold_ms - eps
            {
                out.reward = 1.0;
                self.finish(Outcome::Success, t_ms);
            } else if elapsed >= s.movement_window_ms - eps {
                self.finish(Outcome::Timeout, t_ms);
            }
        }
        // The pulse: from the start crossing for duration_ms, in force-field trials.
        if matches!(self.state, TaskState::Moving | TaskState::Holding)
            && self.spec.block_of(self.trial) == Block::ForceField
            && t_ms - self.start_ms < self.spec.perturbation.duration_ms - 1e-9
        {
            out.lateral_force_n = self.spec.perturbation.force_n * self.spec.perturbation.direction;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TaskSpec {
        TaskSpec {
            baseline_trials: 1,
            force_field_trials: 1,
            washout_trials: 0,
            iti_ms: 10.0,
            home_dwell_ms: 5.0,
            ..TaskSpec::default()
        }
    }

    /// Drives the machine with a scripted trajectory: rest, then a straight pull at 20 mm/s.
    fn run_trial(task: &mut Task, t: &mut f64, lateral: f64) -> Vec<TaskOutput> {
        let mut outs = Vec::new();
        while task.state() != TaskState::Armed {
            *t += 1.0;
            outs.push(task.step(*t, 0.0, 0.0));
        }
        let t0 = *t;
        let n = task.records().len();
        while task.records().len() == n {
            *t += 1.0;
            let pull = ((*t - t0) * 0.02).min(4.5);
            // The lateral offset appears past the start line (inside the home box it would disarm).
            let lat = if pull >= 1.0 { lateral } else { 0.0 };
            outs.push(task.step(*t, pull, lat));
        }
        outs
    }

    #[test]
    fn a_straight_pull_is_rewarded_with_the_right_times() {
        let mut task = Task::new(spec());
        let mut t = 0.0;
        let outs = run_trial(&mut task, &mut t, 0.0);
        let r = &task.records()[0];
        assert_eq!(r.outcome, Outcome::Success);
        // Start line 1 mm at 20 mm/s: 50 ms after arming; end box at 3.5 mm: 125 ms after the start.
        assert!(
            (r.reaction_time_ms - 50.0).abs() <= 1.0,
            "{}",
            r.reaction_time_ms
        );
        assert!(
            (r.movement_time_ms - 125.0).abs() <= 1.0,
            "{}",
            r.movement_time_ms
        );
        assert_eq!(outs.iter().filter(|o| o.reward == 1.0).count(), 1);
        assert!(
            outs.iter().all(|o| o.lateral_force_n == 0.0),
            "baseline has no pulse"
        );
        assert_eq!(r.lateral_at_bins_mm, vec![0.0; 4]);
        assert!(!r.perturbed);
    }

    #[test]
    fn force_field_trials_pulse_and_lateral_misses_time_out() {
        let mut task = Task::new(spec());
        let mut t = 0.0;
        run_trial(&mut task, &mut t, 0.0);
        // Second trial: force field; lateral 1.5 mm keeps it out of the end box: timeout.
        let outs = run_trial(&mut task, &mut t, 1.5);
        let r = &task.records()[1];
        assert_eq!(r.block, Block::ForceField);
        assert!(r.perturbed);
        assert_eq!(r.outcome, Outcome::Timeout);
        let pulse_steps = outs.iter().filter(|o| o.lateral_force_n == 0.1).count();
        assert_eq!(pulse_steps, 100);
        assert!(outs.iter().all(|o| o.reward == 0.0));
        assert_eq!(r.lateral_at_bins_mm, vec![1.5; 4]);
        assert_eq!(task.state(), TaskState::Done);
    }

    #[test]
    fn bad_task_values_name_the_key() {
        let s = TaskSpec {
            end_pull_mm: 0.5,
            ..TaskSpec::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("task.end_pull_mm"), "{e}");
        let s = TaskSpec {
            perturbation: PerturbationSpec {
                direction: 0.3,
                ..PerturbationSpec::default()
            },
            ..TaskSpec::default()
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("task.perturbation.direction"));
    }

    #[test]
    fn a_record_reads_back_from_its_json_line_with_nan_as_null() {
        let r = TrialRecord {
            index: 3,
            block: Block::ForceField,
            outcome: Outcome::Timeout,
            start_ms: 1324.0,
            reaction_time_ms: 223.0,
            movement_time_ms: f64::NAN,
            perturbed: true,
            peak_pull_mm: 1.45,
            lateral_at_bins_mm: vec![0.1, f64::NAN],
            trajectory: vec![[0.0, 1.0, -0.2]],
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains("\"movement_time_ms\":null"), "{line}");
        let back: TrialRecord = serde_json::from_str(&line).unwrap();
        assert!(back.movement_time_ms.is_nan() && back.lateral_at_bins_mm[1].is_nan());
        assert_eq!(back.lateral_at_bins_mm[0], 0.1);
        assert_eq!(
            (back.index, back.outcome, back.trajectory),
            (3, Outcome::Timeout, r.trajectory)
        );
    }
}
