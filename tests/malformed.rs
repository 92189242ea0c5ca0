//! Protocol violations: an impostor engine, written here with the zenoh crate, joins a run as the
//! external engine "ext" and breaks the protocol on purpose. The coordinator must stop the run with
//! exit code 1 and a message naming the engine (and the port, where one is at fault), without panicking.

mod common;

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::*;
use neuroloop_core::payload::Payload;
use neuroloop_core::port::{PortKind, PortSpec};
use neuroloop_core::time::Step;
use neuroloop_core::wire::{self, DataEntry, Message};
use neuroloop_transport::keys;
use zenoh::qos::CongestionControl;
use zenoh::Wait;

const NAME: &str = "ext";
const WAIT: Duration = Duration::from_secs(30);

/// A coordinator running `tests/impostor.toml` on a known endpoint, and the impostor's zenoh side.
struct Setup {
    _tmp: tempfile::TempDir,
    out: PathBuf,
    id: String,
    coord: Proc,
    _session: zenoh::Session,
    publisher: zenoh::pubsub::Publisher<'static>,
    _token: zenoh::liveliness::LivelinessToken,
    inbox: Receiver<Vec<u8>>,
}

impl Setup {
    /// Starts the coordinator and joins its run as engine "ext" the way `neuroloop_transport::serve`
    /// does: subscriber, publisher (congestion control Block), liveliness token, then waits until the
    /// coordinator's subscriber matches the publisher. Nothing is sent yet.
    fn start(tag: &str) -> Setup {
        let tmp = tempdir();
        let out = tmp.path().join("run");
        let id = unique_run_id(tag);
        let endpoint = free_endpoint();
        let file = experiment_with(
            "tests/impostor.toml",
            tmp.path(),
            &format!("[zenoh]\nlisten = \"{endpoint}\""),
        );
        let mut coord = Proc::neuroloop(&[
            "run",
            file.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--run-id",
            &id,
            "-q",
        ]);
        // Wait until the coordinator listens (polling its TCP port).
        let addr = endpoint.trim_start_matches("tcp/").to_string();
        wait_until(WAIT, "the coordinator's endpoint", || {
            assert!(coord.running(), "the coordinator ended early");
            std::net::TcpStream::connect(&addr).ok().map(|_| ())
        });

        let config =
            neuroloop_transport::zenoh_config(&[], &[endpoint], false).expect("zenoh config");
        let session = zenoh::open(config).wait().expect("open zenoh session");
        let (tx, inbox) = channel();
        session
            .declare_subscriber(keys::to_engine(&id, NAME))
            .callback(move |s| {
                let _ = tx.send(s.payload().to_bytes().into_owned());
            })
            .background()
            .wait()
            .expect("declare subscriber");
        let publisher = session
            .declare_publisher(keys::from_engine(&id, NAME))
            .congestion_control(CongestionControl::Block)
            .express(true)
            .wait()
            .expect("declare publisher");
        let token = session
            .liveliness()
            .declare_token(keys::engine_token(&id, NAME))
            .wait()
            .expect("declare liveliness token");
        wait_until(WAIT, "the coordinator's subscriber", || {
            assert!(coord.running(), "the coordinator ended early");
            publisher
                .matching_status()
                .wait()
                .expect("matching status")
                .matching()
                .then_some(())
        });
        Setup {
            _tmp: tmp,
            out,
            id,
            coord,
            _session: session,
            publisher,
            _token: token,
            inbox,
        }
    }

    fn send(&self, bytes: &[u8]) {
        self.publisher.put(bytes.to_vec()).wait().expect("publish");
    }

    /// The next message from the coordinator.
    fn recv(&self) -> Message {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .inbox
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(bytes) => {
                    return wire::decode(&bytes).expect("the coordinator's message decodes")
                }
                Err(_) => {
                    assert!(Instant::now() < deadline, "no message from the coordinator");
                }
            }
        }
    }

    /// Says Hello and takes the Init.
    fn hello(&self) {
        self.send(&wire::encode(&Message::Hello {
            engine: NAME.into(),
            pid: std::process::id(),
        }));
        match self.recv() {
            Message::Init { period, .. } => assert_eq!(period, 1),
            other => panic!("expected Init, got {other:?}"),
        }
    }

    /// Waits for the coordinator to end; checks exit code 1, no panic, a manifest with an error, and
    /// no process of the run left; returns its stderr.
    fn finish(self) -> String {
        let Setup {
            _tmp,
            out,
            id,
            coord,
            ..
        } = self;
        let o = coord.wait(WAIT);
        // Shown with --nocapture.
        eprintln!("coordinator stderr:\n{}", o.stderr);
        o.expect_code(1).expect_no_panic();
        assert_no_leftovers(&id, Duration::from_secs(3));
        assert_eq!(manifest(&out)["exit_status"], "error");
        o.stderr
    }
}

fn ports() -> Vec<PortSpec> {
    vec![PortSpec::output(
        "value",
        PortKind::analog(&[("value", "1")]),
    )]
}

#[test]
fn garbage_instead_of_hello() {
    let s = Setup::start("garbage");
    s.send(b"this is not a neuroloop message at all");
    let err = s.finish();
    assert!(err.contains("engine 'ext'"), "{err}");
    assert!(err.contains("malformed"), "{err}");
}

#[test]
fn hello_of_another_protocol_version_is_answered_with_error() {
    let s = Setup::start("version");
    let mut hello = wire::encode(&Message::Hello {
        engine: NAME.into(),
        pid: std::process::id(),
    });
    // The header: magic (2 bytes), then the protocol version.
    hello[2] = wire::PROTOCOL_VERSION + 1;
    s.send(&hello);
    // The engine is told why, in the protocol it can read (the Error of this version), before the end.
    match s.recv() {
        Message::Error { message } => {
            assert!(message.contains("protocol version"), "{message}");
            assert!(
                message.contains(&format!("{}", wire::PROTOCOL_VERSION + 1)),
                "{message}"
            );
        }
        other => panic!("expected Error, got {other:?}"),
    }
    let err = s.finish();
    assert!(err.contains("engine 'ext'"), "{err}");
    assert!(err.contains("protocol version"), "{err}");
}

#[test]
fn truncated_ready() {
    let s = Setup::start("trunc");
    s.hello();
    let ready = wire::encode(&Message::Ready {
        ports: ports(),
        outputs: vec![],
    });
    s.send(&ready[..ready.len() - 5]);
    let err = s.finish();
    assert!(err.contains("engine 'ext'"), "{err}");
    assert!(err.contains("malformed"), "{err}");
}

#[test]
fn step_done_with_wrong_vector_length() {
    let s = Setup::start("badlen");
    s.hello();
    s.send(&wire::encode(&Message::Ready {
        ports: ports(),
        outputs: vec![],
    }));
    let step = match s.recv() {
        Message::Step { step, n_steps, .. } => {
            assert_eq!((step, n_steps), (Step(0), 1));
            step
        }
        other => panic!("expected Step, got {other:?}"),
    };
    s.send(&wire::encode(&Message::StepDone {
        step,
        compute_ns: 1000,
        outputs: vec![DataEntry {
            port: 0,
            stamp: Step(step.0 + 1),
            // The port has one channel.
            payload: Payload::Analog(vec![1.0, 2.0, 3.0]),
        }],
    }));
    let err = s.finish();
    assert!(err.contains("engine 'ext'"), "{err}");
    assert!(err.contains("'value'"), "{err}");
}

/// The control case: the same impostor following the protocol completes the run, so the failures
/// above are due to the broken messages alone.
#[test]
fn well_behaved_impostor_completes_the_run() {
    let s = Setup::start("good");
    s.hello();
    s.send(&wire::encode(&Message::Ready {
        ports: ports(),
        outputs: vec![],
    }));
    let mut steps = 0u64;
    loop {
        match s.recv() {
            Message::Step { step, n_steps, .. } => {
                assert_eq!((step, n_steps), (Step(steps), 1), "steps come in order");
                steps += 1;
                s.send(&wire::encode(&Message::StepDone {
                    step,
                    compute_ns: 1000,
                    outputs: vec![DataEntry {
                        port: 0,
                        stamp: Step(step.0 + 1),
                        payload: Payload::Analog(vec![step.0 as f64]),
                    }],
                }));
            }
            Message::Shutdown => {
                s.send(&wire::encode(&Message::Bye));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // impostor.toml: 100 ms in steps of 1 ms.
    assert_eq!(steps, 100);
    let Setup {
        coord,
        id,
        out,
        _tmp,
        ..
    } = s;
    let o = coord.wait(WAIT);
    o.expect_code(0).expect_no_panic();
    assert_no_leftovers(&id, Duration::from_secs(3));
    assert_eq!(manifest(&out)["exit_status"], "ok");
}
