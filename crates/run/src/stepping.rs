//! The step loop: rounds over exchange-window boundaries (who steps when and what each engine sees are
//! the rules of `neuroloop_core::lockstep`; the window is one base step unless every link is later),
//! the recording of what engines produced and what links delivered, step by step, and the wait for
//! `StepDone` / `WindowDone` under the step time-out.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use neuroloop_core::lockstep::Lockstep;
use neuroloop_core::time::Step;
use neuroloop_core::wire::{self, DataEntry, Message};
use neuroloop_transport::{probe, HubEvent};

use crate::coordinator::Coordinator;
use crate::RunError;

impl Coordinator {
    /// Advances by at least `n` base steps (whole exchange windows: up to a window more), stopping at
    /// the end of the run; returns the steps taken. The wall time spent here is added to the run's;
    /// real-time pacing counts from the first call.
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
        while self.reached.0 < end {
            result = self.round(&mut lockstep, self.reached, origin);
            if result.is_err() {
                break;
            }
        }
        // What the last round collected is on the record before the caller sees the run again.
        if let Err(e) = self.record_collected() {
            result = result.and(Err(e));
        }
        self.wall_s += t0.elapsed().as_secs_f64();
        self.lockstep = Some(lockstep);
        result.map(|()| self.reached.0 - first.0)
    }

    /// One round: `Step` (or `Window`) to every engine whose exchange starts at the window boundary
    /// `t` (with what its links deliver at each of its steps), then the `StepDone` (`WindowDone`) of
    /// every engine whose exchange ends at the next boundary, fed to the links and recorded step by
    /// step.
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
        probe::note("c.round", t.0, None);
        let n = self.engines.len();
        // Every message is encoded first, then they are published, the engine whose last exchange
        // took longest first: the round ends with the slowest engine's reply, and an engine woken
        // early does not hold up the coordinator's encoding of the others.
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        for e in 0..n {
            let steps = lockstep.steps_in_exchange(e, t);
            if steps == 0 {
                continue;
            }
            let p = lockstep.period(e);
            // One step: the Step message reuses the inputs buffer (no allocation per step); a window
            // of several steps carries the inputs of each.
            let msg = if steps == 1 {
                let buf = std::mem::take(&mut self.inputs);
                let inputs = self.inputs_at(lockstep, e, t, buf)?;
                Message::Step {
                    step: t,
                    n_steps: p,
                    inputs,
                }
            } else {
                let mut substeps = Vec::with_capacity(steps as usize);
                for k in 0..u64::from(steps) {
                    let at = Step(t.0 + k * u64::from(p));
                    substeps.push(self.inputs_at(lockstep, e, at, Vec::new())?);
                }
                Message::Window {
                    step: t,
                    n_steps: p,
                    substeps,
                }
            };
            wire::encode_into(&msg, &mut self.bufs[e]);
            if let Message::Step { inputs, .. } = msg {
                self.inputs = inputs;
            }
            self.engines[e].busy_until = Step(t.0 + u64::from(steps) * u64::from(p));
            self.engines[e].busy_steps = steps;
            order.push(e);
        }
        order.sort_by_key(|&e| std::cmp::Reverse(self.engines[e].last_compute_ns));
        for &e in &order {
            probe::note_message("c.put", t.0, Some(e), self.bufs[e].len());
            self.hub.send_bytes(e, &self.bufs[e])?;
            probe::note("c.sent", t.0, Some(e));
            self.engines[e].busy = Some((t, round_start));
        }
        self.order = order;
        // The previous round's outputs are recorded while the engines compute this one (the order of
        // each recording's rows is the same).
        self.record_collected()?;
        probe::note("c.recorded", t.0, None);
        let next = Step((t.0 + u64::from(lockstep.window())).min(lockstep.duration().0));
        // Whatever was sent at or before `t` and ends by `next` (a short last window may end early).
        let finishing =
            |c: &Self, e: usize| c.engines[e].busy_until > t && c.engines[e].busy_until <= next;
        self.wait_for(|c, e| finishing(c, e) && c.engines[e].done.is_none())?;
        let round_end = Instant::now();
        probe::note("c.handled", t.0, None);
        let mut max_compute = 0;
        for e in 0..n {
            if !finishing(self, e) || self.engines[e].done.is_none() {
                continue;
            }
            let (start, outs, compute) = self.engines[e].done.take().expect("waited for");
            self.engines[e].busy_until = Step(0);
            max_compute = max_compute.max(compute);
            self.engines[e].compute.push(compute);
            self.engines[e].last_compute_ns = compute;
            let p = u64::from(lockstep.period(e));
            let mut end = start;
            let recorded = !self.engines[e].recorded.is_empty() && self.recorder.is_some();
            for step_outs in outs {
                end = Step(end.0 + p);
                lockstep.push_outputs(e, end, &step_outs);
                for tap in &mut self.taps[e] {
                    if let Some(d) = step_outs.iter().find(|d| d.port == tap.port) {
                        if tap.values.len() == tap.capacity {
                            tap.values.pop_front();
                        }
                        tap.values.push_back((end, d.payload.clone()));
                    }
                }
                // Recorded outputs become the latest once on the record (`record_collected`).
                if recorded {
                    self.unrecorded.push((e, end, step_outs));
                } else {
                    self.latest[e] = step_outs;
                }
            }
        }
        let wall = round_end.duration_since(round_start).as_nanos() as u64;
        let overhead = wall.saturating_sub(max_compute);
        self.step_wall.push(wall);
        self.overhead.push(overhead);
        if let Some(all) = self.overhead_ns.as_mut() {
            all.push(overhead);
        }
        self.reached = next;
        probe::note("c.end", t.0, None);
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

    /// Records the outputs collected in the last round (see [`Coordinator::round`]).
    /// Each becomes its engine's latest outputs (the last one of an engine stays).
    pub(crate) fn record_collected(&mut self) -> Result<(), RunError> {
        let mut list = std::mem::take(&mut self.unrecorded);
        let mut result = Ok(());
        for (e, end, outs) in list.drain(..) {
            if result.is_ok() {
                result = self.record(e, end, &outs);
            }
            self.latest[e] = outs;
        }
        self.unrecorded = list;
        result
    }

    /// The inputs of `engine` for its step starting at `at`, in `buf` (cleared first), recorded where
    /// its input ports are.
    fn inputs_at(
        &mut self,
        lockstep: &mut Lockstep,
        engine: usize,
        at: Step,
        mut buf: Vec<DataEntry>,
    ) -> Result<Vec<DataEntry>, RunError> {
        buf.clear();
        lockstep.take_inputs(engine, at, &mut buf);
        if !self.engines[engine].recorded_inputs.is_empty() {
            self.record_inputs(engine, at, &buf)?;
        }
        Ok(buf)
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
            probe::note("c.woke", self.reached.0, None);
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
            HubEvent::Message {
                engine,
                message,
                bytes,
            } => match self.decoded(engine, message, bytes)? {
                msg @ (Message::StepDone { .. } | Message::WindowDone { .. }) => {
                    let (step, compute_ns, outputs) = match msg {
                        Message::StepDone {
                            step,
                            compute_ns,
                            outputs,
                        } => (step, compute_ns, vec![outputs]),
                        Message::WindowDone {
                            step,
                            compute_ns,
                            outputs,
                        } => (step, compute_ns, outputs),
                        _ => unreachable!("matched above"),
                    };
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
                    let expected = self.engines[engine].busy_steps as usize;
                    if outputs.len() != expected {
                        return Err(self.engine_error(
                            engine,
                            format!(
                                "sent the outputs of {} steps for the window starting at {}, which has {expected}",
                                outputs.len(),
                                step.0
                            ),
                        ));
                    }
                    for outs in &outputs {
                        self.check_outputs(engine, outs)?;
                    }
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
