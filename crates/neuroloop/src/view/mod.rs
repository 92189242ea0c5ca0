//! The live view of `neuroloop run --view`: a page on localhost that shows a run while it goes (the
//! arm and joystick in 3D from the body poses, a scrolling raster of every spike port, the event
//! camera's latest frame, trials and success rate, the real-time factor).
//!
//! Two halves that share one slot: the [`Sampler`] runs in the CLI's loop between two
//! `Run::advance` calls and writes a JSON snapshot into the slot; the [`Server`] (a thread on
//! `127.0.0.1`, a free port) answers `GET /` with the page and `GET /state` with the latest snapshot.
//! The server only clones the snapshot's `Arc` under a mutex, so a slow or stuck browser never holds
//! up the lockstep, and nothing the view does reaches the engines or the recordings: spike and event
//! batches come from the run library's taps (`Run::tap`), which copy what the coordinator took in.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neuroloop_core::experiment::{EngineKind, Experiment};
use neuroloop_core::payload::Payload;
use neuroloop_core::port::PortKind;
use neuroloop_run::Run;
use serde_json::{json, Value};

/// The page (HTML, CSS and JavaScript in one file, no external assets).
pub const PAGE: &str = include_str!("page.html");

/// Simulated ms of spikes the raster keeps.
pub const RASTER_WINDOW_MS: f64 = 2000.0;
/// Most spikes the raster keeps (the oldest go first).
pub const RASTER_MAX_SPIKES: usize = 20_000;
/// Simulated ms of camera events that make one frame.
pub const FRAME_MS: f64 = 30.0;
/// Steps a tap keeps between two samples (more are dropped, oldest first).
const TAP_CAPACITY: usize = 1 << 14;

/// The latest snapshot, shared by the sampler and the server.
type Slot = Arc<Mutex<Arc<String>>>;

/// The HTTP side: serves the page and the latest snapshot until dropped.
pub struct Server {
    addr: SocketAddr,
    slot: Slot,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Binds `127.0.0.1` on a free port and serves from a background thread.
    pub fn start() -> std::io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let slot: Slot = Arc::new(Mutex::new(Arc::new("{}".to_string())));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (slot.clone(), stop.clone());
        std::thread::Builder::new()
            .name("view-server".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if st.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let s = s.clone();
                    // One short thread per request: a client that never sends its request holds
                    // only its own thread (for at most the read time-out).
                    let _ = std::thread::Builder::new()
                        .name("view-conn".into())
                        .spawn(move || answer(conn, &s));
                }
            })?;
        Ok(Server { addr, slot, stop })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Replaces the snapshot that `GET /state` returns.
    pub fn publish(&self, snapshot: String) {
        let snapshot = Arc::new(snapshot);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = snapshot;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Answers one HTTP/1.1 request and closes the connection.
fn answer(mut conn: TcpStream, slot: &Slot) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&req);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (status, kind, body): (&str, &str, Arc<String>) = match path.split('?').next() {
        Some("/") | Some("/index.html") => (
            "200 OK",
            "text/html; charset=utf-8",
            Arc::new(PAGE.to_string()),
        ),
        Some("/state") => {
            let snap = slot.lock().map(|s| s.clone()).unwrap_or_default();
            ("200 OK", "application/json", snap)
        }
        _ => (
            "404 Not Found",
            "text/plain",
            Arc::new("not found".to_string()),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
}

/// What the CLI knows about the run beside the run itself.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Simulated seconds per wall second since stepping began.
    pub realtime_factor: f64,
    /// Trials ended and rewarded (the body's trial records).
    pub trials: usize,
    /// Rewarded trials.
    pub successes: usize,
    /// The run has ended (finished, failed or interrupted).
    pub ended: bool,
    /// Why it ended early, if it did.
    pub error: Option<String>,
}

/// One raster row block: a spike port and its first row.
struct SpikePort {
    port: String,
    size: u32,
    first_row: u32,
}

/// Gathers what the page shows from a run, between `advance` calls.
pub struct Sampler {
    body: Option<BodyPorts>,
    spike_ports: Vec<SpikePort>,
    /// (time ms, raster row).
    spikes: VecDeque<(f64, u32)>,
    camera: Option<(String, u16, u16)>,
    /// (time ms, x, y, polarity).
    events: VecDeque<(f64, u16, u16, bool)>,
}

/// The body engine's ports the 3D view reads.
struct BodyPorts {
    engine: String,
    bodies: Vec<String>,
    /// Pairs of body indices joined by a joint of the world.
    segments: Vec<(usize, usize)>,
}

impl Sampler {
    /// Finds the body (the first engine with a `body_poses` port), every spike port and the first
    /// event port whose engine is an event camera, and taps the spike and event ports.
    pub fn new(run: &mut Run) -> Sampler {
        let exp = run.experiment().clone();
        let ports = run.output_ports();
        let mut body = None;
        let mut spike_ports = Vec::new();
        let mut camera = None;
        let mut rows = 0u32;
        for (name, kind) in &ports {
            let (engine, port) = name.split_once('.').unwrap_or((name, ""));
            match kind {
                PortKind::Analog { channels } if port == "body_poses" && body.is_none() => {
                    let bodies: Vec<String> = channels
                        .chunks(7)
                        .map(|c| c[0].name.split('.').next().unwrap_or("").to_string())
                        .collect();
                    let segments = world_segments(&exp, engine, &bodies);
                    body = Some(BodyPorts {
                        engine: engine.to_string(),
                        bodies,
                        segments,
                    });
                }
                // Tapping can fail only for a port that is not there; such a port is left out.
                PortKind::Spikes { size } if run.tap(name, TAP_CAPACITY).is_ok() => {
                    spike_ports.push(SpikePort {
                        port: name.clone(),
                        size: *size,
                        first_row: rows,
                    });
                    rows += size;
                }
                PortKind::Events { width, height }
                    if camera.is_none()
                        && is_camera(&exp, engine)
                        && run.tap(name, TAP_CAPACITY).is_ok() =>
                {
                    camera = Some((name.clone(), *width, *height));
                }
                _ => {}
            }
        }
        Sampler {
            body,
            spike_ports,
            spikes: VecDeque::new(),
            camera,
            events: VecDeque::new(),
        }
    }

    /// Takes in what the run produced since the last call and returns the snapshot (JSON).
    pub fn sample(&mut self, run: &mut Run, progress: &Progress) -> String {
        let now = run.time_ms();
        for sp in &self.spike_ports {
            for (_, v) in run.take_tapped(&sp.port).unwrap_or_default() {
                if let Payload::Spikes(b) = v {
                    for (&n, &t) in b.neuron.iter().zip(&b.time_ms) {
                        self.spikes
                            .push_back((t, sp.first_row + n.min(sp.size - 1)));
                    }
                }
            }
        }
        // A reset starts the episode's clock again: drop what is "in the future".
        self.spikes.retain(|s| s.0 <= now);
        while self.spikes.len() > RASTER_MAX_SPIKES
            || self
                .spikes
                .front()
                .is_some_and(|s| s.0 < now - RASTER_WINDOW_MS)
        {
            self.spikes.pop_front();
        }
        if let Some((port, _, _)) = &self.camera {
            for (_, v) in run.take_tapped(port).unwrap_or_default() {
                if let Payload::Events(b) = v {
                    for i in 0..b.len() {
                        self.events
                            .push_back((b.time_ms[i], b.x[i], b.y[i], b.polarity[i]));
                    }
                }
            }
        }
        self.events.retain(|e| e.0 <= now);
        while self.events.front().is_some_and(|e| e.0 < now - FRAME_MS) {
            self.events.pop_front();
        }
        let exp = run.experiment();
        let mut snap = json!({
            "name": exp.name,
            "t_ms": now,
            "duration_ms": exp.duration.to_ms(exp.base_step_ms),
            "episode": run.episode(),
            "realtime_factor": progress.realtime_factor,
            "trials": progress.trials,
            "successes": progress.successes,
            "ended": progress.ended,
            "error": progress.error,
            "raster": {
                "window_ms": RASTER_WINDOW_MS,
                "ports": self.spike_ports.iter().map(|p| json!({"port": p.port, "size": p.size, "first_row": p.first_row})).collect::<Vec<_>>(),
                "rows": self.spike_ports.iter().map(|p| p.size).sum::<u32>(),
                "spikes": self.spikes.iter().map(|&(t, r)| json!([round3(t), r])).collect::<Vec<_>>(),
            },
        });
        if let Some((port, w, h)) = &self.camera {
            snap["camera"] = json!({
                "port": port, "width": w, "height": h, "frame_ms": FRAME_MS,
                "events": self.events.iter().map(|&(_, x, y, p)| json!([x, y, u8::from(p)])).collect::<Vec<_>>(),
            });
        }
        if let Some(b) = &self.body {
            let analog = |port: &str| match run.output(&format!("{}.{port}", b.engine)) {
                Ok(Payload::Analog(v)) => Some(v.clone()),
                _ => None,
            };
            snap["body"] = json!({
                "engine": b.engine,
                "bodies": b.bodies,
                "segments": b.segments,
                "poses": analog("body_poses").map(|v| v.iter().map(|&x| round6(x)).collect::<Vec<_>>()),
                "joystick_mm": analog("joystick_position_mm"),
                "task": analog("task"),
            });
        }
        snap.to_string()
    }
}

/// Whether `engine` is an event camera (built-in kind `event_camera`).
fn is_camera(exp: &Experiment, engine: &str) -> bool {
    exp.engines
        .iter()
        .any(|e| e.name == engine && e.kind == EngineKind::Builtin("event_camera".into()))
}

/// The body pairs joined by a joint of the body engine's world (parent, child), by index in the
/// pose order; none when the world cannot be read (the page then draws the bodies unjoined).
fn world_segments(exp: &Experiment, engine: &str, bodies: &[String]) -> Vec<(usize, usize)> {
    let Some(spec) = exp.engines.iter().find(|e| e.name == engine) else {
        return Vec::new();
    };
    let world = match spec.config.get("world_file").and_then(Value::as_str) {
        Some(path) => match neuroloop_body::world::WorldSpec::load(std::path::Path::new(path)) {
            Ok(w) => w,
            Err(_) => return Vec::new(),
        },
        None => neuroloop_body::world::WorldSpec::mouse_forelimb_joystick(),
    };
    let index = |n: &str| bodies.iter().position(|b| b == n);
    world
        .joints
        .iter()
        .filter_map(|j| Some((index(&j.parent)?, index(&j.child)?)))
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(server: &Server, path: &str) -> String {
        let addr = server.url();
        let addr = addr.trim_start_matches("http://").trim_end_matches('/');
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn serves_the_page_and_the_latest_snapshot() {
        let server = Server::start().unwrap();
        assert!(server.url().starts_with("http://127.0.0.1:"));
        let page = get(&server, "/");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.contains("text/html") && page.contains("<canvas id=\"arm\""));
        server.publish("{\"t_ms\":1}".into());
        server.publish("{\"t_ms\":2}".into());
        let state = get(&server, "/state?x=1");
        assert!(state.ends_with("\r\n\r\n{\"t_ms\":2}"), "{state}");
        assert!(get(&server, "/nothing").starts_with("HTTP/1.1 404"));
    }
}
