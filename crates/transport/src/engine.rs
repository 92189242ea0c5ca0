//! The engine side: [`serve`] runs one engine as a process of a run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neuroloop_core::engine::{EngineConstructor, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::wire::{self, DataEntry, Message};
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;
use zenoh::Wait;

use crate::{keys, zenoh_config, zerr, TransportError};

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
}

impl EngineArgs {
    /// Reads `NEUROLOOP_RUN_ID`, `NEUROLOOP_ENGINE` and `NEUROLOOP_CONNECT` (comma-separated endpoints),
    /// which `neuroloop run` sets for the engines it starts.
    pub fn from_env() -> Result<Self, TransportError> {
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
        };
        args.check()?;
        Ok(args)
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
/// Returns `Ok(())` after a `Shutdown`; an error if the coordinator disappears, sends a malformed message
/// or the engine fails (the error is also sent to the coordinator as an `Error` message first).
pub fn serve(args: &EngineArgs, construct: EngineConstructor) -> Result<(), TransportError> {
    args.check()?;
    let config = zenoh_config(&[], &args.connect)?;
    let session = zenoh::open(config).wait().map_err(zerr("open session"))?;
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let _sub = session
        .declare_subscriber(keys::to_engine(&args.run_id, &args.name))
        .callback(move |s| {
            let _ = tx.send(s.payload().to_bytes().into_owned());
        })
        .wait()
        .map_err(zerr("declare subscriber"))?;
    let publisher = session
        .declare_publisher(keys::from_engine(&args.run_id, &args.name))
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .map_err(zerr("declare publisher"))?;
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

    let recv = |timeout: Duration| -> Result<Message, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout {
                    what: "a message from the coordinator".into(),
                    ms: timeout.as_millis() as u64,
                });
            }
            match rx.recv_timeout(left.min(Duration::from_millis(500))) {
                Ok(bytes) => {
                    return wire::decode(&bytes).map_err(|error| TransportError::Malformed {
                        from: "the coordinator".into(),
                        error,
                    })
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if !coordinator_alive.load(Ordering::SeqCst) {
                        return Err(TransportError::CoordinatorGone(args.run_id.clone()));
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
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

    let (base_step_ms, period, seed, config_json) = match recv(args.join_timeout)? {
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
    };
    let mut engine = construct(&ctx).map_err(|e| fail(e.into()))?;
    let ports = engine.ports();
    let mut inputs = Inputs::for_ports(&ports);
    let mut outputs = Outputs::for_ports(&ports);
    engine.initial_outputs(&mut outputs);
    send(&Message::Ready {
        ports: ports.clone(),
        outputs: outputs.entries(neuroloop_core::time::Step(0)),
    })?;

    let mut buf = Vec::with_capacity(256);
    // The engine waits as long as it takes between steps: the coordinator owns time-outs. It only
    // checks, every half second, that the coordinator is still alive.
    let forever = Duration::from_secs(u64::MAX / 4);
    loop {
        match recv(forever)? {
            Message::Step {
                step,
                n_steps,
                inputs: entries,
            } => {
                let started = Instant::now();
                inputs.begin_step();
                for DataEntry {
                    port,
                    stamp,
                    payload,
                } in entries
                {
                    let port = usize::from(port);
                    if let Some(spec) = ports.get(port) {
                        if let Err(why) = payload.check_against(&spec.kind) {
                            return Err(fail(TransportError::Protocol(format!(
                                "input {}: {why}",
                                spec.name
                            ))));
                        }
                    }
                    inputs.set(port, payload, Some(stamp)).map_err(|why| {
                        fail(TransportError::Protocol(format!("Step input: {why}")))
                    })?;
                }
                outputs.begin_step();
                let ctx = StepContext {
                    step,
                    n_steps,
                    base_step_ms,
                };
                engine
                    .step(&ctx, &inputs, &mut outputs)
                    .map_err(|e| fail(e.into()))?;
                let compute_ns = started.elapsed().as_nanos() as u64;
                // Encode straight from the output slots, without building a Message.
                buf.clear();
                let head = wire::encode(&Message::StepDone {
                    step,
                    compute_ns,
                    outputs: Vec::new(),
                });
                buf.extend_from_slice(&head[..head.len() - 2]);
                let outs = outputs.output_ports();
                buf.extend_from_slice(&(outs.len() as u16).to_le_bytes());
                for &i in outs {
                    wire::put_entry(&mut buf, i, ctx.end(), outputs.get(usize::from(i)));
                }
                publisher
                    .put(buf.as_slice())
                    .wait()
                    .map_err(zerr("publish"))?;
            }
            Message::Reset => {
                engine.reset().map_err(|e| fail(e.into()))?;
                inputs = Inputs::for_ports(&ports);
                outputs = Outputs::for_ports(&ports);
                engine.initial_outputs(&mut outputs);
                send(&Message::Ready {
                    ports: ports.clone(),
                    outputs: outputs.entries(neuroloop_core::time::Step(0)),
                })?;
            }
            Message::Shutdown => {
                engine.shutdown();
                send(&Message::Bye)?;
                return Ok(());
            }
            Message::Error { message } => {
                return Err(TransportError::Protocol(format!(
                    "the coordinator reported: {message}"
                )))
            }
            other => {
                return Err(fail(TransportError::Protocol(format!(
                    "unexpected {} from the coordinator",
                    other.kind_name()
                ))))
            }
        }
    }
}
