//! The step loop: rounds over base-step boundaries (who steps when and what each engine sees are the
//! rules of `neuroloop_core::lockstep`), the recording of what engines produced and what links
//! delivered, and the wait for `StepDone` under the step time-out.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use neuroloop_core::lockstep::Lockstep;
use neuroloop_core::time::Step;
use neuroloop_core::wire::{self, DataEntry, Message};
use neuroloop_transport::HubEvent;

use crate::coordinator::Coordinator;
use crate::RunError;

impl Coordinator {
    /// Advances by up to `n` base steps, stopping at the end of the run; returns the steps taken.
    /// The wall time spent here is added to the run's; real-time pacing counts from the first call.
    pub(crate) fn advance(&mut self, n: u64) -> Result<u64, RunError> {
        let mut lockstep = self
            .lockstep
            .take()
            .ok_or_else(|| RunError::Setup("no lockstep".into()))?;
        let t0 = Instant::now();
        let origin = *self.paced_from.get_or_insert(t0);
        let first = self.reached;
        let end = first.0.saturating_add(n).min(self.exp.duration.0);
        let mut result = Ok(());
        for t in first.0..end {
            result = self.round(&mut lockstep, Step(t), origin);
            if result.is_err() {
                break;
            }
        }
        self.wall_s += t0.elapsed().as_secs_f64();
        self.lockstep = Some(lockstep);
        result.map(|()| self.reached.0 - first.0)
    }

    /// One round: `Step` to every engine due at `t` (with what its links deliver), then the `StepDone`
    /// of every engine whose step ends at `t + 1`, fed to the links and recorded.
    pub(crate) fn round(
        &mut self,
        lockstep: &mut Lockstep,
        t: Step,
        origin: Instant,
    ) -> Result<(), RunError> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        let base = self.exp.base_step_ms;
        if self.realtime {
            let target = origin + Duration::from_secs_f64(t.0 as f64 * base * 1e-3);
            let now = Instant::now();
            if now < target {
                std::thread::sleep(target - now);
            } else if now.duration_since(target) > Duration::from_secs_f64(base * 1e-3) {
                self.late_steps += 1;
            }
        }
        let round_start = Instant::now();
        let n = self.engines.len();
        for e in 0..n {
            if !lockstep.is_due(e, t) {
                continue;
            }
            let mut inputs = std::mem::take(&mut self.inputs);
            inputs.clear();
            lockstep.take_inputs(e, t, &mut inputs);
            if !self.engines[e].recorded_inputs.is_empty() {
                self.record_inputs(e, t, &inputs)?;
            }
            let msg = Message::Step {
                step: t,
                n_steps: lockstep.period(e),
                inputs,
            };
            wire::encode_into(&msg, &mut self.buf);
            if let Message::Step { inputs, .. } = msg {
                self.inputs = inputs;
            }
            self.hub.send_bytes(e, &self.buf)?;
            self.engines[e].busy = Some((t, round_start));
        }
        let next = Step(t.0 + 1);
        self.wait_for(|c, e| lockstep.ends_at(e, next) && c.engines[e].done.is_none())?;
        let round_end = Instant::now();
        let mut max_compute = 0;
        for e in 0..n {
            if !lockstep.ends_at(e, next) {
                continue;
            }
            let (_, outs, compute) = self.engines[e].done.take().expect("waited for");
            max_compute = max_compute.max(compute);
            self.engines[e].compute.push(compute);
            lockstep.push_outputs(e, next, &outs);
            self.record(e, next, &outs)?;
            self.latest[e] = outs;
        }
        let wall = round_end.duration_since(round_start).as_nanos() as u64;
        let overhead = wall.saturating_sub(max_compute);
        self.step_wall.push(wall);
        self.overhead.push(overhead);
        if let Some(all) = self.overhead_ns.as_mut() {
            all.push(overhead);
        }
        self.reached = next;
        if t.0.is_multiple_of(64)
            && round_end.duration_since(self.last_flush) > Duration::from_millis(200)
        {
            self.last_flush = round_end;
            if let Some(rec) = self.recorder.as_mut() {
                rec.flush_if_due(round_end)
                    .map_err(|e| RunError::Setup(format!("recording: {e}")))?;
            }
        }
        Ok(())
    }

    /// Records what the links delivered into `engine`'s recorded input ports for its step starting at
    /// `start` (stamped with the step's start).
    pub(crate) fn record_inputs(
        &mut self,
        engine: usize,
        start: Step,
        inputs: &[DataEntry],
    ) -> Result<(), RunError> {
        let Some(rec) = self.recorder.as_mut() else {
            return Ok(());
        };
        let t_ms = start.to_ms(self.exp.base_step_ms);
        for &(port, idx) in &self.engines[engine].recorded_inputs {
            if let Some(entry) = inputs.iter().find(|d| d.port == port) {
                rec.push(idx, start, t_ms, &entry.payload).map_err(|e| {
                    RunError::Setup(format!("recording {}: {e}", self.engines[engine].name))
                })?;
            }
        }
        Ok(())
    }

    pub(crate) fn record(
        &mut self,
        engine: usize,
        end: Step,
        outputs: &[DataEntry],
    ) -> Result<(), RunError> {
        let Some(rec) = self.recorder.as_mut() else {
            return Ok(());
        };
        let t_ms = end.to_ms(self.exp.base_step_ms);
        for &(port, idx) in &self.engines[engine].recorded {
            if let Some(entry) = outputs.iter().find(|d| d.port == port) {
                rec.push(idx, end, t_ms, &entry.payload).map_err(|e| {
                    RunError::Setup(format!("recording {}: {e}", self.engines[engine].name))
                })?;
            }
        }
        Ok(())
    }

    /// Handles events until no engine satisfies `missing`; fails on a time-out, a dead engine, a
    /// malformed message or Ctrl-C.
    pub(crate) fn wait_for(
        &mut self,
        missing: impl Fn(&Self, usize) -> bool,
    ) -> Result<(), RunError> {
        let mut events = Vec::with_capacity(self.engines.len());
        // Time the coordinator itself was stopped (SIGSTOP, starved) while waiting does not count
        // against the engines: a poll returns within 50 ms, so a longer gap is the coordinator's.
        let (mut last_poll, mut own_stall) = (Instant::now(), Duration::ZERO);
        loop {
            let mut waiting = (0..self.engines.len()).filter(|&e| missing(self, e));
            let Some(first) = waiting.next() else {
                return Ok(());
            };
            let want = 1 + waiting.count();
            let sent = self.engines[first]
                .busy
                .map_or_else(Instant::now, |(_, at)| at);
            let now = Instant::now();
            let gap = now.duration_since(last_poll);
            if gap > Duration::from_secs(1) {
                own_stall += gap;
            }
            last_poll = now;
            let deadline = sent + self.step_timeout + own_stall;
            self.hub.recv_many(
                want,
                deadline.min(Instant::now() + Duration::from_millis(50)),
                &mut events,
            );
            if events.is_empty() {
                self.check_alive()?;
                if self.interrupt.load(Ordering::Relaxed) {
                    return Err(RunError::Interrupted);
                }
                if Instant::now() >= deadline {
                    // An engine that gave up on the coordinator (status 75) or crashed meanwhile is
                    // reported as such, not as hanging.
                    let exited = self.engines[first]
                        .process
                        .as_mut()
                        .and_then(|p| p.wait_for_exit(Duration::from_secs(2)));
                    if exited.is_some() {
                        self.check_alive()?;
                    }
                    let at = self.engines[first]
                        .busy
                        .map_or(0.0, |(s, _)| s.to_ms(self.exp.base_step_ms));
                    let err = self.engine_error(
                        first,
                        format!(
                            "did not finish its step starting at {at} ms within {} ms (run.step_timeout_ms): it hangs or is far too slow",
                            self.exp.step_timeout_ms
                        ),
                    );
                    if let Some(p) = self.engines[first].process.as_mut() {
                        p.kill();
                    }
                    return Err(err);
                }
            }
            for ev in events.drain(..) {
                self.handle(ev)?;
            }
        }
    }

    pub(crate) fn handle(&mut self, ev: HubEvent) -> Result<(), RunError> {
        match ev {
            HubEvent::Message { engine, bytes } => match self.decode(engine, &bytes)? {
                Message::StepDone {
                    step,
                    compute_ns,
                    outputs,
                } => {
                    match self.engines[engine].busy {
                        Some((s, _)) if s == step => {}
                        other => {
                            let expected = other.map_or("no step".into(), |(s, _)| {
                                format!("the step starting at {}", s.0)
                            });
                            return Err(self.engine_error(
                                engine,
                                format!("sent StepDone for the step starting at {} while {expected} was running", step.0),
                            ));
                        }
                    }
                    self.check_outputs(engine, &outputs)?;
                    let st = &mut self.engines[engine];
                    st.busy = None;
                    st.done = Some((step, outputs, compute_ns));
                    Ok(())
                }
                Message::Error { message } => {
                    Err(self.engine_error(engine, format!("failed: {message}")))
                }
                other => Err(self.engine_error(
                    engine,
                    format!("sent an unexpected {} message", other.kind_name()),
                )),
            },
            HubEvent::Left { engine } => Err(self.lost(engine, "during the run")),
            HubEvent::Joined { .. } => Ok(()),
            HubEvent::Stray { key } => {
                tracing::warn!("ignoring a message on {key}: no such engine in this run");
                Ok(())
            }
        }
    }
}
