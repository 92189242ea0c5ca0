//! The coordinator side: one zenoh session that talks to every engine of a run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use neuroloop_core::wire::{self, Message, WireError};
use zenoh::pubsub::Publisher;
use zenoh::qos::CongestionControl;
use zenoh::sample::SampleKind;
use zenoh::Wait;

use crate::{keys, peer_config, zerr, LinkOptions, TransportError};

/// The longest the coordinator waits for its zenoh session to close at the end of a run (a close
/// with every peer reachable takes milliseconds).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Something that happened on the coordinator's session.
#[derive(Debug)]
pub enum HubEvent {
    /// A message from engine `engine` (index in the hub's engine list), decoded on zenoh's receive
    /// thread as it arrives (while the coordinator waits for the rest of its round).
    Message {
        /// Engine index.
        engine: usize,
        /// The message, or why its bytes are not one.
        message: Result<Message, WireError>,
        /// Its size in bytes.
        bytes: usize,
    },
    /// An engine's liveliness token appeared.
    Joined {
        /// Engine index.
        engine: usize,
    },
    /// An engine's liveliness token disappeared (process died or disconnected).
    Left {
        /// Engine index.
        engine: usize,
    },
    /// A message or token under the run's keys from a name that is not an engine of the run.
    Stray {
        /// The key expression.
        key: String,
    },
}

/// The coordinator's connection to every engine of a run.
pub struct Hub {
    run_id: String,
    names: Vec<String>,
    publishers: Vec<Publisher<'static>>,
    inbox: Arc<Inbox>,
    buf: Vec<u8>,
    // Kept alive for the run's duration; dropped (undeclared) with the hub.
    _token: zenoh::liveliness::LivelinessToken,
    _messages: zenoh::pubsub::Subscriber<()>,
    _liveliness: zenoh::pubsub::Subscriber<()>,
    session: zenoh::Session,
    /// Set by [`Hub::close`]; a hub dropped without it (a failed run) closes its session on drop.
    closed: bool,
}

impl Hub {
    /// Opens the coordinator's session for `run_id`, listening on `listen` and connecting to `connect`,
    /// ready to talk to the engines `names` (an engine's index is its position in `names`).
    pub fn open(
        run_id: &str,
        names: &[String],
        listen: &[String],
        connect: &[String],
        lowlatency: bool,
    ) -> Result<Hub, TransportError> {
        let link = LinkOptions {
            lowlatency,
            ..LinkOptions::default()
        };
        Hub::open_with(run_id, names, listen, connect, &link)
    }

    /// [`Hub::open`] with every link option (the lease the coordinator announces, TLS).
    pub fn open_with(
        run_id: &str,
        names: &[String],
        listen: &[String],
        connect: &[String],
        link: &LinkOptions,
    ) -> Result<Hub, TransportError> {
        if !keys::valid_run_id(run_id) {
            return Err(TransportError::Setting(format!(
                "run id {run_id:?} must match [A-Za-z0-9_-]+"
            )));
        }
        let session = zenoh::open(peer_config(listen, connect, link)?)
            .wait()
            .map_err(zerr("open session"))?;
        let index: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let inbox = Arc::new(Inbox::default());

        let (run, idx, tx1) = (run_id.to_string(), index.clone(), inbox.clone());
        let messages = session
            .declare_subscriber(keys::from_engines(run_id))
            .callback(move |s| {
                let key = s.key_expr().as_str();
                let ev = match keys::engine_of(&run, key).and_then(|n| idx.get(n)) {
                    Some(&engine) => {
                        let bytes = s.payload().to_bytes();
                        if crate::probe::enabled() && bytes.len() >= wire::HEADER_LEN {
                            let step =
                                u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes"));
                            crate::probe::note_message("c.recv", step, Some(engine), bytes.len());
                        }
                        HubEvent::Message {
                            engine,
                            message: wire::decode(&bytes),
                            bytes: bytes.len(),
                        }
                    }
                    None => HubEvent::Stray {
                        key: key.to_string(),
                    },
                };
                tx1.push(ev);
            })
            .wait()
            .map_err(zerr("declare subscriber"))?;

        let (run, idx, tx2) = (run_id.to_string(), index, inbox.clone());
        let liveliness = session
            .liveliness()
            .declare_subscriber(keys::engine_tokens(run_id))
            .history(true)
            .callback(move |s| {
                let key = s.key_expr().as_str();
                let ev = match (
                    keys::engine_of(&run, key).and_then(|n| idx.get(n)),
                    s.kind(),
                ) {
                    (Some(&engine), SampleKind::Put) => HubEvent::Joined { engine },
                    (Some(&engine), SampleKind::Delete) => HubEvent::Left { engine },
                    (None, _) => HubEvent::Stray {
                        key: key.to_string(),
                    },
                };
                tx2.push(ev);
            })
            .wait()
            .map_err(zerr("declare liveliness subscriber"))?;

        let mut publishers = Vec::with_capacity(names.len());
        for n in names {
            publishers.push(
                session
                    .declare_publisher(keys::to_engine(run_id, n))
                    .congestion_control(CongestionControl::Block)
                    .express(true)
                    .wait()
                    .map_err(zerr(format!("declare publisher for engine {n}")))?,
            );
        }
        let token = session
            .liveliness()
            .declare_token(keys::coordinator_token(run_id))
            .wait()
            .map_err(zerr("declare liveliness token"))?;
        Ok(Hub {
            run_id: run_id.to_string(),
            names: names.to_vec(),
            publishers,
            inbox,
            buf: Vec::with_capacity(256),
            _token: token,
            _messages: messages,
            _liveliness: liveliness,
            session,
            closed: false,
        })
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The engine names, in index order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether engine `engine`'s subscriber is connected (a message sent now would reach it).
    pub fn is_listening(&self, engine: usize) -> Result<bool, TransportError> {
        Ok(self.publishers[engine]
            .matching_status()
            .wait()
            .map_err(zerr("matching status"))?
            .matching())
    }

    /// Sends a message to engine `engine`.
    pub fn send(&mut self, engine: usize, msg: &Message) -> Result<(), TransportError> {
        wire::encode_into(msg, &mut self.buf);
        self.publishers[engine]
            .put(self.buf.as_slice())
            .wait()
            .map_err(zerr(format!("send to {}", self.names[engine])))
    }

    /// Sends already encoded bytes to engine `engine`.
    pub fn send_bytes(&self, engine: usize, bytes: &[u8]) -> Result<(), TransportError> {
        self.publishers[engine]
            .put(bytes)
            .wait()
            .map_err(zerr(format!("send to {}", self.names[engine])))
    }

    /// The next event, waiting at most `timeout`; `None` on time-out.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<HubEvent> {
        let deadline = Instant::now().checked_add(timeout)?;
        let mut g = self.inbox.wait(1, deadline);
        let ev = g.queue.pop_front();
        g.urgent = g.queue.iter().any(HubEvent::is_urgent);
        ev
    }

    /// The next event, waiting until `deadline`.
    pub fn recv_until(&self, deadline: Instant) -> Option<HubEvent> {
        self.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    }

    /// Waits until `want` events are in (or any event that is not a message, or `deadline`), then moves
    /// every pending event into `out`. Waiting for a whole lockstep round at once wakes this thread once
    /// per round instead of once per engine.
    pub fn recv_many(&self, want: usize, deadline: Instant, out: &mut Vec<HubEvent>) {
        let mut g = self.inbox.wait(want.max(1), deadline);
        out.extend(g.queue.drain(..));
        g.urgent = false;
    }

    /// Closes the session (engines see the coordinator's token disappear), waiting at most
    /// [`CLOSE_TIMEOUT`]: a connection whose peer is gone (a cut link) would otherwise hold the close
    /// for zenoh's default 10 s with the runtime layout ([`crate::RUNTIME_LAYOUT`]).
    pub fn close(mut self) -> Result<(), TransportError> {
        self.closed = true;
        let session = self.session.clone();
        // The publishers, the token and the subscribers are undeclared first.
        drop(self);
        close_within(session, CLOSE_TIMEOUT)
    }
}

impl Drop for Hub {
    /// A hub dropped without [`Hub::close`] (a run that failed) closes its session within
    /// [`CLOSE_TIMEOUT`] too, where dropping the session would wait up to zenoh's 10 s.
    fn drop(&mut self) {
        if !self.closed {
            let _ = close_within(self.session.clone(), CLOSE_TIMEOUT);
        }
    }
}

/// Closes `session` on a thread of its own and waits at most `timeout` for it (zenoh's own close
/// time-out is not public); a close that takes longer finishes in the background.
fn close_within(session: zenoh::Session, timeout: Duration) -> Result<(), TransportError> {
    let (done, closed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(session.close().wait());
    });
    match closed.recv_timeout(timeout) {
        Ok(result) => result.map_err(zerr("close session")),
        Err(_) => {
            tracing::warn!("the zenoh session did not close within {timeout:?} (a peer is unreachable); going on");
            Ok(())
        }
    }
}

impl HubEvent {
    /// Events that wake the coordinator at once, whatever it waits for.
    fn is_urgent(&self) -> bool {
        !matches!(self, HubEvent::Message { .. })
    }
}

/// Events from zenoh's callbacks, waiting for the coordinator's thread.
#[derive(Default)]
struct Inbox {
    state: Mutex<InboxState>,
    ready: Condvar,
}

#[derive(Default)]
struct InboxState {
    queue: VecDeque<HubEvent>,
    /// How many queued events the waiting thread wants before it is woken.
    want: usize,
    /// An event that must wake the waiting thread is queued.
    urgent: bool,
}

impl Inbox {
    fn push(&self, ev: HubEvent) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.urgent |= ev.is_urgent();
        g.queue.push_back(ev);
        if g.urgent || g.queue.len() >= g.want {
            self.ready.notify_one();
        }
    }

    /// Waits until `want` events are queued, an urgent one is, or `deadline` passes.
    fn wait(&self, want: usize, deadline: Instant) -> std::sync::MutexGuard<'_, InboxState> {
        let spin = spin_time();
        if !spin.is_zero() {
            let until = Instant::now() + spin;
            loop {
                {
                    let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    if g.queue.len() >= want || g.urgent || Instant::now() >= until.min(deadline) {
                        break;
                    }
                }
                std::hint::spin_loop();
            }
        }
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.want = want;
        while g.queue.len() < want && !g.urgent {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = self
                .ready
                .wait_timeout(g, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        g.want = usize::MAX;
        g
    }
}

/// How long the coordinator polls for answers before it sleeps: `NEUROLOOP_SPIN_US` microseconds,
/// default 0. On this project's 2-core virtual machine a thread woken from sleep takes tens of
/// microseconds to run, which dominates the lockstep round trip; polling for ~300 us halves the round
/// with one engine (when a core is free for the coordinator) and gains nothing with more engines than
/// cores, so it is off unless asked for.
pub fn spin_time() -> Duration {
    static SPIN: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *SPIN.get_or_init(|| {
        let us = std::env::var("NEUROLOOP_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Duration::from_micros(us)
    })
}
