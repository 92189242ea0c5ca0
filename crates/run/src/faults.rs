//! Faults and the end of a run: malformed or out-of-place messages, dead or lost engines, the error
//! text that names the engine (kind, pid, simulated time, last stderr lines), and the shutdown of
//! every engine whatever happened.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use neuroloop_core::port::Direction;
use neuroloop_core::wire::{self, DataEntry, Message, WireError};
use neuroloop_transport::HubEvent;

use crate::coordinator::Coordinator;
use crate::processes::describe_exit;
use crate::RunError;

impl Coordinator {
    /// An engine's message as the hub decoded it; a malformed one (another protocol version included)
    /// is answered with `Error` saying why before the run fails, so that the engine can tell. Notes
    /// when the engine was last heard from.
    pub(crate) fn decoded(
        &mut self,
        engine: usize,
        message: Result<Message, WireError>,
        bytes: usize,
    ) -> Result<Message, RunError> {
        self.engines[engine].last_heard = Some(Instant::now());
        message.map_err(|e| {
            let why = format!("sent a malformed message ({bytes} bytes): {e}");
            let reply = wire::encode(&Message::Error {
                message: format!("the coordinator refused a message from you: {e}"),
            });
            let _ = self.hub.send_bytes(engine, &reply);
            self.engine_error(engine, why)
        })
    }

    pub(crate) fn check_outputs(
        &self,
        engine: usize,
        outputs: &[DataEntry],
    ) -> Result<(), RunError> {
        let ports = &self.engines[engine].ports;
        for d in outputs {
            let Some(p) = ports.get(usize::from(d.port)) else {
                return Err(self.engine_error(
                    engine,
                    format!(
                        "sent data for port index {}, which it does not have",
                        d.port
                    ),
                ));
            };
            if p.direction != Direction::Output {
                return Err(
                    self.engine_error(engine, format!("sent data for its input port '{}'", p.name))
                );
            }
            if let Err(why) = d.payload.check_against(&p.kind) {
                return Err(
                    self.engine_error(engine, format!("sent bad data on port '{}': {why}", p.name))
                );
            }
        }
        Ok(())
    }

    /// Fails if a started engine process has ended or Ctrl-C was pressed.
    pub(crate) fn check_alive(&mut self) -> Result<(), RunError> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        for i in 0..self.engines.len() {
            let exited = self.engines[i].process.as_mut().and_then(|p| p.exited());
            if let Some(status) = exited {
                let why = self.exit_reason("exited unexpectedly", status);
                return Err(self.engine_error(i, why));
            }
        }
        Ok(())
    }

    /// An engine's liveliness token went away: its process ended (its exit status, if it is our
    /// process), or zenoh closed its connection after hearing nothing from it for its lease (the
    /// network between the hosts failed, or its host or process stopped).
    pub(crate) fn lost(&mut self, engine: usize, when: &str) -> RunError {
        self.engines[engine].gone = true;
        let status = self.engines[engine]
            .process
            .as_mut()
            .and_then(|p| p.wait_for_exit(Duration::from_secs(1)));
        if let Some(s) = status {
            let why = self.exit_reason(&format!("crashed {when}"), s);
            return self.engine_error(engine, why);
        }
        let lease_ms = crate::network::engine_lease_ms(self.exp.step_timeout_ms);
        // Silence since its last message: zenoh's keep-alives are not seen here, so a connection
        // closed by its lease was silent at least that long; one closed by its end (exit, kill)
        // normally goes within a step of its last message.
        let silent = self.engines[engine]
            .last_heard
            .map(|t| t.elapsed())
            .unwrap_or_default();
        let silent_ms = silent.as_millis() as u64;
        let e = &self.engines[engine];
        let what = match e.process.as_ref() {
            Some(p) => {
                let state = match p.state() {
                    Some('T') | Some('t') => "is stopped (SIGSTOP?)",
                    _ => "still runs",
                };
                format!(
                    "lost its connection to the coordinator {when} while its process {state}: nothing came from it for {:.1} s, and zenoh closes a connection silent for the engine's lease ({lease_ms} ms; was the engine stopped or starved of CPU?)",
                    silent.as_secs_f64()
                )
            }
            None if silent_ms * 10 >= lease_ms * 9 => format!(
                "lost its connection to the coordinator {when}: nothing came from it for {:.1} s, longer than the zenoh lease of its engines ({lease_ms} ms): the network between the coordinator and the engine failed, or the engine's host or process stopped",
                silent.as_secs_f64()
            ),
            None => format!(
                "disconnected {when}: its connection to the coordinator closed (the engine's process ended or closed its zenoh session)"
            ),
        };
        self.engine_error(engine, what)
    }

    pub(crate) fn engine_error(&self, engine: usize, what: String) -> RunError {
        let e = &self.engines[engine];
        let mut message = format!("engine '{}' ({}", e.name, e.kind);
        match (&e.process, e.hello_pid) {
            (Some(p), _) => message.push_str(&format!(", pid {}", p.pid())),
            (None, Some(pid)) => message.push_str(&format!(", external, pid {pid}")),
            (None, None) => message.push_str(", external"),
        }
        message.push_str(&format!(") {what}"));
        message.push_str(&format!(
            " [simulated time reached: {} ms]",
            self.reached.to_ms(self.exp.base_step_ms)
        ));
        if let Some(p) = &e.process {
            let tail = p.stderr_tail();
            if !tail.is_empty() {
                message.push_str(&format!("\nlast stderr lines of '{}':", e.name));
                for l in tail {
                    message.push_str("\n  | ");
                    message.push_str(&l);
                }
            }
        }
        RunError::Engine {
            engine: e.name.clone(),
            message,
        }
    }

    /// Shuts every engine down: `Error` with `failure` first when the run failed (so that an engine
    /// can tell), then `Shutdown`, a short wait for `Bye` or exit (not for an engine already gone),
    /// then SIGKILL.
    pub(crate) fn stop(&mut self, failure: Option<&str>) {
        neuroloop_transport::probe::write("coordinator", self.hub.names());
        // How each process had ended before we told it to stop (a crash): what its report keeps. A
        // process that ends on our Error/Shutdown ended normally, whatever its status.
        let ended_before: Vec<Option<std::process::ExitStatus>> = self
            .engines
            .iter_mut()
            .map(|e| e.process.as_mut().and_then(|p| p.exited()))
            .collect();
        // A process whose connection was lost cannot hear Shutdown: it is killed without waiting.
        let lost: Vec<bool> = self
            .engines
            .iter_mut()
            .map(|e| e.gone && e.process.as_mut().is_some_and(|p| p.exited().is_none()))
            .collect();
        for i in 0..self.engines.len() {
            let joined = self.engines[i].joined && !self.engines[i].gone;
            let alive = self.engines[i]
                .process
                .as_mut()
                .map_or(joined, |p| p.exited().is_none());
            if alive && joined {
                if let Some(why) = failure {
                    let _ = self.hub.send(
                        i,
                        &Message::Error {
                            message: format!("the run failed: {why}"),
                        },
                    );
                }
                let _ = self.hub.send(i, &Message::Shutdown);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let waiting =
                self.engines
                    .iter_mut()
                    .zip(&lost)
                    .any(|(e, &lost)| match e.process.as_mut() {
                        Some(p) => !lost && p.exited().is_none(),
                        None => e.joined && !e.said_bye && !e.gone,
                    });
            if !waiting {
                break;
            }
            match self.hub.recv_timeout(Duration::from_millis(10)) {
                Some(HubEvent::Message {
                    engine,
                    message: Ok(Message::Bye),
                    ..
                }) => self.engines[engine].said_bye = true,
                // An engine that left (its liveliness token is gone) will not say Bye.
                Some(HubEvent::Left { engine }) => self.engines[engine].gone = true,
                _ => {}
            }
        }
        for ((e, before), lost) in self.engines.iter_mut().zip(ended_before).zip(lost) {
            if let Some(p) = e.process.as_mut() {
                let status = match before {
                    Some(s) => Some(s),
                    None if lost => p.kill(),
                    None if p.exited().is_none() => {
                        tracing::warn!(
                            "engine '{}' did not stop within 2 s of Shutdown: killing it",
                            e.name
                        );
                        p.kill()
                    }
                    None => {
                        p.kill();
                        None
                    }
                };
                e.exit = status.filter(|s| !s.success()).map(describe_exit);
            }
        }
    }
}

impl Coordinator {
    /// Why an engine process ended, for an error report: `what (status)`, or, for the exit status of
    /// an engine that lost the coordinator, that the coordinator itself was unreachable.
    fn exit_reason(&self, what: &str, status: std::process::ExitStatus) -> String {
        if status.code() == Some(i32::from(neuroloop_transport::EXIT_COORDINATOR_GONE)) {
            let lease_ms = crate::network::coordinator_lease_ms(self.exp.step_timeout_ms);
            return format!("stopped because it lost contact with the coordinator: the coordinator was unreachable for longer than its zenoh lease ({lease_ms} ms; was it stopped, e.g. by SIGSTOP, or starved of CPU?)");
        }
        format!("{what} ({})", describe_exit(status))
    }
}
