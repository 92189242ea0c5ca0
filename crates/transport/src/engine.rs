//! The engine side: [`serve`] runs one engine as a process of a run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::time::Step;
use neuroloop_core::wire::{self, DataEntry, Message};
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;
use zenoh::Wait;

use crate::{keys, peer_config, zerr, LinkOptions, TlsFiles, TransportError};

/// Where an engine process finds its run.
#[derive(Clone, Debug)]
pub struct EngineArgs {
    /// The run id (key namespace).
    pub run_id: String,
    /// The engine's name in the experiment.
    pub name: String,
    /// Endpoints to connect to (the coordinator's).
    pub connect: Vec<String>,
    /// How long to wait for the coordinator at start-up.
    pub join_timeout: Duration,
    /// Zenoh's low-latency transport (must match the coordinator's; see [`crate::zenoh_config`]).
    pub lowlatency: bool,
    /// The zenoh lease to announce, ms (see [`LinkOptions::lease_ms`]; default zenoh's 10 000).
    pub lease_ms: Option<u64>,
    /// TLS credentials (the run's CA, this engine's certificate and key), when the run uses TLS.
    pub tls: Option<TlsFiles>,
}

/// Whether `NEUROLOOP_ZENOH_LOWLATENCY` asks for zenoh's low-latency transport (`1` or `true`).
pub fn lowlatency_from_env() -> bool {
    std::env::var("NEUROLOOP_ZENOH_LOWLATENCY").is_ok_and(|v| v == "1" || v == "true")
}

impl EngineArgs {
    /// Reads `NEUROLOOP_RUN_ID`, `NEUROLOOP_ENGINE`, `NEUROLOOP_CONNECT` (comma-separated endpoints)
    /// and the link options of [`LinkOptions::from_env`] (`NEUROLOOP_ZENOH_LOWLATENCY`,
    /// `NEUROLOOP_ZENOH_LEASE_MS`, `NEUROLOOP_TLS_*`), which `neuroloop run` sets for the engines it
    /// starts.
    pub fn from_env() -> Result<Self, TransportError> {
        let link = LinkOptions::from_env()?;
        let get = |k: &str| {
            std::env::var(k).map_err(|_| {
                TransportError::Setting(format!("environment variable {k} is not set"))
            })
        };
        let args = EngineArgs {
            run_id: get("NEUROLOOP_RUN_ID")?,
            name: get("NEUROLOOP_ENGINE")?,
            connect: get("NEUROLOOP_CONNECT")?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            join_timeout: Duration::from_secs(60),
            lowlatency: link.lowlatency,
            lease_ms: link.lease_ms,
            tls: link.tls,
        };
        args.check()?;
        Ok(args)
    }

    /// The zenoh link options of these arguments.
    pub fn link(&self) -> LinkOptions {
        LinkOptions {
            lowlatency: self.lowlatency,
            lease_ms: self.lease_ms,
            tls: self.tls.clone(),
            access: None,
        }
    }

    /// Checks the run id and name can be used in key expressions.
    pub fn check(&self) -> Result<(), TransportError> {
        if !keys::valid_run_id(&self.run_id) {
            return Err(TransportError::Setting(format!(
                "run id {:?} must match [A-Za-z0-9_-]+",
                self.run_id
            )));
        }
        if !neuroloop_core::port::valid_name(&self.name) {
            return Err(TransportError::Setting(format!(
                "engine name {:?} must match [A-Za-z0-9_]+",
                self.name
            )));
        }
        Ok(())
    }
}

/// Runs an engine until the coordinator shuts it down: joins the run, says `Hello`, builds the engine
/// from the `Init` it receives with `construct`, then answers every `Step` with a `StepDone`.
///
/// Steps and windows of steps are computed right in zenoh's receive callback (no hand-over to another
/// thread: this halves the thread wake-ups per lockstep round); everything else goes through the
/// calling thread.
///
/// Returns `Ok(())` after a `Shutdown`; an error if the coordinator disappears, sends a malformed message
/// or the engine fails (the error is also sent to the coordinator as an `Error` message first).
pub fn serve(
    args: &EngineArgs,
    construct: impl Fn(&InitContext) -> Result<Box<dyn Engine>, EngineError>,
) -> Result<(), TransportError> {
    args.check()?;
    let config = peer_config(&[], &args.connect, &args.link())?;
    let session = zenoh::open(config).wait().map_err(zerr("open session"))?;
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let stepper: Arc<Mutex<Option<Stepper>>> = Arc::new(Mutex::new(None));
    let in_callback = stepper.clone();
    let _sub = session
        .declare_subscriber(keys::to_engine(&args.run_id, &args.name))
        .callback(move |s| {
            let bytes = s.payload().to_bytes();
            if crate::probe::enabled() && bytes.len() >= wire::HEADER_LEN {
                crate::probe::note_message("e.recv", header_step(&bytes), None, bytes.len());
            }
            if matches!(
                wire::peek_kind(&bytes),
                Some(wire::Kind::Step | wire::Kind::Window)
            ) {
                let mut guard = in_callback.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(st) = guard.as_mut() {
                    if let Err(e) = st.step(&bytes) {
                        st.send_error(&e);
                        let _ = tx.send(Event::Failed(e));
                    }
                    return;
                }
            }
            let _ = tx.send(Event::Message(bytes.into_owned()));
        })
        .wait()
        .map_err(zerr("declare subscriber"))?;
    let publisher = Arc::new(
        session
            .declare_publisher(keys::from_engine(&args.run_id, &args.name))
            .congestion_control(CongestionControl::Block)
            .express(true)
            .wait()
            .map_err(zerr("declare publisher"))?,
    );
    let coordinator_alive = Arc::new(AtomicBool::new(true));
    let alive = coordinator_alive.clone();
    let _coord_watch = session
        .liveliness()
        .declare_subscriber(keys::coordinator_token(&args.run_id))
        .callback(move |s| {
            if s.kind() == SampleKind::Delete {
                alive.store(false, Ordering::SeqCst);
            }
        })
        .wait()
        .map_err(zerr("watch coordinator"))?;
    let _token = session
        .liveliness()
        .declare_token(keys::engine_token(&args.run_id, &args.name))
        .wait()
        .map_err(zerr("declare liveliness token"))?;

    // Wait until the coordinator's subscriber matches ours before saying hello.
    let (mtx, mrx) = std::sync::mpsc::channel::<bool>();
    let _matching = publisher
        .matching_listener()
        .callback(move |m| {
            let _ = mtx.send(m.matching());
        })
        .wait()
        .map_err(zerr("matching listener"))?;
    let deadline = Instant::now() + args.join_timeout;
    let mut matched = publisher
        .matching_status()
        .wait()
        .map_err(zerr("matching status"))?
        .matching();
    while !matched {
        let left = deadline.saturating_duration_since(Instant::now());
        match mrx.recv_timeout(left) {
            Ok(m) => matched = m,
            Err(_) => {
                return Err(TransportError::Timeout {
                    what: format!(
                        "the coordinator of run {} at {:?}",
                        args.run_id, args.connect
                    ),
                    ms: args.join_timeout.as_millis() as u64,
                })
            }
        }
    }

    let send = |msg: &Message| {
        publisher
            .put(wire::encode(msg))
            .wait()
            .map_err(zerr("publish"))
    };
    send(&Message::Hello {
        engine: args.name.clone(),
        pid: std::process::id(),
    })?;

    // The next message for the calling thread, waiting at most `timeout` (None: as long as it takes),
    // checking twice a second that the coordinator is still alive.
    let recv = |timeout: Option<Duration>| -> Result<Message, TransportError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let mut wait = Duration::from_millis(500);
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(TransportError::Timeout {
                        what: "a message from the coordinator".into(),
                        ms: timeout.unwrap_or_default().as_millis() as u64,
                    });
                }
                wait = wait.min(left);
            }
            match rx.recv_timeout(wait) {
                Ok(Event::Message(bytes)) => {
                    return wire::decode(&bytes).map_err(|error| TransportError::Malformed {
                        from: "the coordinator".into(),
                        error,
                    })
                }
                Ok(Event::Failed(e)) => return Err(e),
                Err(RecvTimeoutError::Timeout) => {
                    if !coordinator_alive.load(Ordering::SeqCst) {
                        return Err(TransportError::CoordinatorGone(args.run_id.clone()));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(TransportError::CoordinatorGone(args.run_id.clone()))
                }
            }
        }
    };

    let fail = |e: TransportError| -> TransportError {
        let _ = send(&Message::Error {
            message: e.to_string(),
        });
        e
    };

    let (base_step_ms, period, seed, config_json) = match recv(Some(args.join_timeout))? {
        Message::Init {
            base_step_ms,
            period,
            seed,
            config_json,
        } => (base_step_ms, period, seed, config_json),
        other => {
            return Err(fail(TransportError::Protocol(format!(
                "expected Init, got {}",
                other.kind_name()
            ))))
        }
    };
    let config = serde_json::from_str(&config_json).map_err(|e| {
        fail(TransportError::Protocol(format!(
            "Init carries invalid config JSON: {e}"
        )))
    })?;
    let ctx = InitContext {
        name: args.name.clone(),
        config,
        seed,
        base_step_ms,
        period,
        episode: 0,
    };
    let engine = construct(&ctx).map_err(|e| fail(e.into()))?;
    let ready = {
        let mut guard = stepper.lock().unwrap_or_else(|p| p.into_inner());
        let st = guard.insert(Stepper::new(engine, base_step_ms, publisher.clone()));
        st.ready()
    };
    send(&ready)?;

    loop {
        let msg = recv(None)?;
        let mut guard = stepper.lock().unwrap_or_else(|p| p.into_inner());
        let Some(st) = guard.as_mut() else {
            return Err(TransportError::Protocol("engine state lost".into()));
        };
        match msg {
            // A Step that reached this thread (it raced the installation of the stepper).
            Message::Step { .. } | Message::Window { .. } => {
                let bytes = wire::encode(&msg);
                st.step(&bytes).inspect_err(|e| st.send_error(e))?;
            }
            // A new episode: the engine is rebuilt from the same configuration with the episode's
            // seed, so that it starts exactly as a fresh engine of a run with that seed would.
            Message::Reset { seed, episode } => {
                let ctx = InitContext {
                    seed,
                    episode,
                    ..ctx.clone()
                };
                st.engine.shutdown();
                let engine = construct(&ctx)
                    .inspect_err(|e| st.send_error(&TransportError::from(e.clone())))?;
                *st = Stepper::new(engine, base_step_ms, publisher.clone());
                let ready = st.ready();
                drop(guard);
                send(&ready)?;
            }
            Message::Shutdown => {
                st.engine.shutdown();
                drop(guard);
                send(&Message::Bye)?;
                crate::probe::write(&args.name, &[]);
                return Ok(());
            }
            Message::Error { message } => {
                return Err(TransportError::Protocol(format!(
                    "the coordinator reported: {message}"
                )))
            }
            other => {
                let e = TransportError::Protocol(format!(
                    "unexpected {} from the coordinator",
                    other.kind_name()
                ));
                st.send_error(&e);
                return Err(e);
            }
        }
    }
}

/// The text of a panic's payload (a `&str` or `String` message), else a placeholder.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// The step in a message's header (which must be at least [`wire::HEADER_LEN`] bytes long).
fn header_step(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[4..12].try_into().expect("an 8-byte step"))
}

/// What the receive callback hands to the calling thread.
enum Event {
    /// A message that is not a `Step` (or a `Step` before the engine exists).
    Message(Vec<u8>),
    /// A step failed; the error was already sent to the coordinator.
    Failed(TransportError),
}

/// An initialized engine with its port buffers: everything a `Step` needs.
struct Stepper {
    engine: Box<dyn neuroloop_core::engine::Engine>,
    ports: Vec<neuroloop_core::port::PortSpec>,
    inputs: Inputs,
    outputs: Outputs,
    base_step_ms: f64,
    buf: Vec<u8>,
    publisher: Arc<zenoh::pubsub::Publisher<'static>>,
}

impl Stepper {
    fn new(
        mut engine: Box<dyn neuroloop_core::engine::Engine>,
        base_step_ms: f64,
        publisher: Arc<zenoh::pubsub::Publisher<'static>>,
    ) -> Self {
        let ports = engine.ports();
        let inputs = Inputs::for_ports(&ports);
        let mut outputs = Outputs::for_ports(&ports);
        engine.initial_outputs(&mut outputs);
        Stepper {
            engine,
            ports,
            inputs,
            outputs,
            base_step_ms,
            buf: Vec::with_capacity(256),
            publisher,
        }
    }

    /// The `Ready` message: ports and the outputs at t = 0.
    fn ready(&self) -> Message {
        Message::Ready {
            ports: self.ports.clone(),
            outputs: self.outputs.entries(Step(0)),
        }
    }

    fn send_error(&self, e: &TransportError) {
        let _ = self
            .publisher
            .put(wire::encode(&Message::Error {
                message: e.to_string(),
            }))
            .wait();
    }

    /// Decodes a `Step` (or a `Window` of steps), steps the engine and publishes the `StepDone` (or
    /// the `WindowDone` with the outputs of every step).
    fn step(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let msg = wire::decode(bytes).map_err(|error| TransportError::Malformed {
            from: "the coordinator".into(),
            error,
        })?;
        let started = Instant::now();
        let probe_step = header_step(bytes);
        crate::probe::note("e.decoded", probe_step, None);
        let mut head = std::mem::take(&mut self.buf);
        let result = match msg {
            Message::Step {
                step,
                n_steps,
                inputs,
            } => self.one_step(step, n_steps, inputs).map(|end| {
                // Encode straight from the output slots, without building a Message.
                let compute_ns = started.elapsed().as_nanos() as u64;
                wire::begin_step_done(&mut head, step, compute_ns);
                self.put_outputs(&mut head, end);
            }),
            Message::Window {
                step,
                n_steps,
                substeps,
            } => {
                // The header with no compute time and no step count yet, then the outputs of every
                // step straight from the output slots; the count and the time are then written in place.
                let n = substeps.len() as u32;
                wire::begin_window_done(&mut head, step);
                let mut at = step;
                let mut result = Ok(());
                for inputs in substeps {
                    match self.one_step(at, n_steps, inputs) {
                        Ok(end) => {
                            self.put_outputs(&mut head, end);
                            at = end;
                        }
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                result.map(|()| {
                    let compute_ns = started.elapsed().as_nanos() as u64;
                    wire::finish_window_done(&mut head, compute_ns, n);
                })
            }
            other => Err(TransportError::Protocol(format!(
                "expected Step or Window, got {}",
                other.kind_name()
            ))),
        };
        crate::probe::note_message("e.computed", probe_step, None, head.len());
        let r = result.and_then(|()| {
            self.publisher
                .put(head.as_slice())
                .wait()
                .map_err(zerr("publish"))
        });
        crate::probe::note("e.sent", probe_step, None);
        self.buf = head;
        r
    }

    /// One step from `step` with `entries` as its new inputs; returns the step's end.
    fn one_step(
        &mut self,
        step: Step,
        n_steps: u32,
        entries: Vec<DataEntry>,
    ) -> Result<Step, TransportError> {
        self.inputs.begin_step();
        for DataEntry {
            port,
            stamp,
            payload,
        } in entries
        {
            let port = usize::from(port);
            if let Some(spec) = self.ports.get(port) {
                if let Err(why) = payload.check_against(&spec.kind) {
                    return Err(TransportError::Protocol(format!(
                        "input {}: {why}",
                        spec.name
                    )));
                }
            }
            self.inputs
                .set(port, payload, Some(stamp))
                .map_err(|why| TransportError::Protocol(format!("Step input: {why}")))?;
        }
        self.outputs.begin_step();
        let ctx = StepContext {
            step,
            n_steps,
            base_step_ms: self.base_step_ms,
        };
        // A panic in the model (a bug) is caught here, at the SDK's boundary, and reported like an
        // error: the coordinator names the engine and the panic's message.
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.engine.step(&ctx, &self.inputs, &mut self.outputs)
        }));
        match stepped {
            Ok(result) => result?,
            Err(payload) => {
                return Err(TransportError::Protocol(format!(
                    "the engine panicked in step at {} ms: {}",
                    ctx.t_ms(),
                    panic_message(payload.as_ref())
                )))
            }
        }
        Ok(ctx.end())
    }

    /// Appends the output entries of the step that ended at `end` (count, then entries).
    fn put_outputs(&self, buf: &mut Vec<u8>, end: Step) {
        let outs = self.outputs.output_ports();
        let slots = outs.iter().map(|&i| (i, self.outputs.get(usize::from(i))));
        wire::put_output_list(buf, end, slots);
    }
}
