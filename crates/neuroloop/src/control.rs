//! `neuroloop control`: a run driven over zenoh by a process in any language (start, advance, read,
//! reset, stop), the control protocol of `docs/protocol.md` (section "Driving a run over zenoh").
//! Glue only: JSON requests and replies around `neuroloop_run::Run`.
//!
//! The server answers queries on `neuroloop/control/<id>`, one at a time in arrival order: a query's
//! payload is one JSON request, the reply one JSON object (`{"ok": true, ...}` or
//! `{"ok": false, "error": "..."}`). On start it prints one JSON line on stdout with the key and the
//! endpoint to connect to.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use neuroloop_core::experiment;
use neuroloop_core::payload::Payload;
use neuroloop_core::port::PortKind;
use neuroloop_run::{Run, RunOptions, RunReport};
use serde_json::{json, Value};
use zenoh::Wait;

use neuroloop::catalog;

/// The key a control server with id `id` answers on.
pub fn control_key(id: &str) -> String {
    format!("neuroloop/control/{id}")
}

/// Runs the control server until a `quit` request, Ctrl-C or a termination signal.
pub fn serve(id: &str, listen: Option<String>, interrupt: Arc<AtomicBool>) -> ExitCode {
    if !neuroloop_transport::keys::valid_run_id(id) {
        eprintln!("error: --id {id:?} must match [A-Za-z0-9_-]+");
        return ExitCode::from(2);
    }
    let listen = match listen.map_or_else(neuroloop_transport::free_tcp_endpoint, Ok) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let session = neuroloop_transport::zenoh_config(std::slice::from_ref(&listen), &[], false)
        .map_err(|e| e.to_string())
        .and_then(|c| zenoh::open(c).wait().map_err(|e| e.to_string()));
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot open a zenoh session listening on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let key = control_key(id);
    let queryable = match session.declare_queryable(&key).wait() {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: cannot declare {key}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let connect = listen.replace("0.0.0.0", "127.0.0.1");
    println!("{}", json!({ "control": key, "connect": connect }));
    let _ = std::io::stdout().flush();

    let mut server = Server {
        run: None,
        interrupt: interrupt.clone(),
    };
    loop {
        if interrupt.load(Ordering::Relaxed) {
            break;
        }
        let query = match queryable.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(q)) => q,
            Ok(None) => continue,
            Err(e) => {
                eprintln!("error: the control queryable failed: {e}");
                break;
            }
        };
        let request = query
            .payload()
            .map(|p| p.to_bytes().to_vec())
            .unwrap_or_default();
        let (reply, quit) = server.handle(&request);
        if let Err(e) = query
            .reply(query.key_expr().clone(), reply.to_string())
            .wait()
        {
            eprintln!("warning: cannot send a reply: {e}");
        }
        if quit {
            break;
        }
    }
    if let Some(run) = server.run.take() {
        run.stop();
    }
    ExitCode::SUCCESS
}

struct Server {
    run: Option<Run>,
    interrupt: Arc<AtomicBool>,
}

fn error(message: impl Into<String>) -> Value {
    json!({ "ok": false, "error": message.into() })
}

impl Server {
    /// One request -> one reply, and whether the server should quit.
    fn handle(&mut self, request: &[u8]) -> (Value, bool) {
        let req: Value = match serde_json::from_slice(request) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return (error("a request must be a JSON object"), false),
            Err(e) => return (error(format!("the request is not JSON: {e}")), false),
        };
        let op = req["op"].as_str().unwrap_or("");
        let reply = match op {
            "start" => self.start(&req),
            "advance" => self.advance(&req),
            "read" => self.read(&req),
            "reset" => self.with_run(|run| {
                let episode = run.reset().map_err(|e| e.to_string())?;
                Ok(json!({ "ok": true, "episode": episode, "t_ms": run.time_ms() }))
            }),
            "status" => Ok(match &self.run {
                None => json!({ "ok": true, "running": false }),
                Some(run) => json!({
                    "ok": true,
                    "running": true,
                    "run_id": run.run_id(),
                    "episode": run.episode(),
                    "steps": run.steps(),
                    "t_ms": run.time_ms(),
                    "finished": run.finished(),
                }),
            }),
            "stop" => match self.run.take() {
                None => Err("no run is started".to_string()),
                Some(run) => Ok(json!({ "ok": true, "report": report_json(&run.stop()) })),
            },
            "quit" => {
                if let Some(run) = self.run.take() {
                    run.stop();
                }
                return (json!({ "ok": true }), true);
            }
            other => Err(format!(
                "unknown op {other:?} (start, advance, read, reset, status, stop, quit)"
            )),
        };
        (reply.unwrap_or_else(error), false)
    }

    fn with_run(
        &mut self,
        f: impl FnOnce(&mut Run) -> Result<Value, String>,
    ) -> Result<Value, String> {
        match self.run.as_mut() {
            Some(run) => f(run),
            None => Err("no run is started: send {\"op\": \"start\", \"file\": ...} first".into()),
        }
    }

    fn start(&mut self, req: &Value) -> Result<Value, String> {
        if self.run.is_some() {
            return Err("a run is already started: stop it first".into());
        }
        let file = req["file"]
            .as_str()
            .ok_or("start: \"file\" (the experiment file) is required")?;
        let overrides: Vec<String> = match &req["set"] {
            Value::Null => vec![],
            Value::Array(a) => a
                .iter()
                .map(|v| v.as_str().map(String::from))
                .collect::<Option<_>>()
                .ok_or("start: \"set\" must be a list of \"key=value\" strings")?,
            _ => return Err("start: \"set\" must be a list of \"key=value\" strings".into()),
        };
        let exp = experiment::load(file.as_ref(), &overrides, &catalog::Builtins)
            .map_err(|e| e.to_string())?;
        if let Some(e) = neuroloop::check::trial_error(&exp) {
            return Err(e.to_string());
        }
        let opts = RunOptions {
            run_dir: req["output"].as_str().map(PathBuf::from),
            run_id: req["run_id"].as_str().map(String::from),
            realtime: req["realtime"].as_bool(),
            interrupt: self.interrupt.clone(),
            ..Default::default()
        };
        if let Some(id) = &opts.run_id {
            if !neuroloop_transport::keys::valid_run_id(id) {
                return Err(format!("start: run_id {id:?} must match [A-Za-z0-9_-]+"));
            }
        }
        let run = Run::start(exp, opts).map_err(|f| f.error.to_string())?;
        let reply = json!({
            "ok": true,
            "run_id": run.run_id(),
            "run_dir": run.run_dir().map(|d| d.display().to_string()),
            "base_step_ms": run.experiment().base_step_ms,
            "duration_ms": run.experiment().duration.to_ms(run.experiment().base_step_ms),
            "outputs": run.output_ports().iter().map(|(name, kind)| json!({ "port": name, "kind": kind_json(kind) })).collect::<Vec<_>>(),
        });
        self.run = Some(run);
        Ok(reply)
    }

    fn advance(&mut self, req: &Value) -> Result<Value, String> {
        self.with_run(|run| {
            let taken = match (req["steps"].as_u64(), req["to_ms"].as_f64()) {
                (Some(n), None) => run.advance(n),
                (None, Some(t)) => run.advance_to(t),
                _ => return Err("advance: give \"steps\" (a whole number) or \"to_ms\"".into()),
            }
            .map_err(|e| e.to_string())?;
            Ok(json!({
                "ok": true,
                "steps": taken,
                "t_ms": run.time_ms(),
                "finished": run.finished(),
            }))
        })
    }

    fn read(&mut self, req: &Value) -> Result<Value, String> {
        self.with_run(|run| {
            let ports = req["ports"]
                .as_array()
                .ok_or("read: \"ports\" (a list of \"engine.port\" names) is required")?;
            let mut values = serde_json::Map::new();
            for p in ports {
                let name = p.as_str().ok_or("read: port names are strings")?;
                let payload = run.output(name).map_err(|e| e.to_string())?;
                values.insert(name.to_string(), payload_json(payload));
            }
            Ok(json!({ "ok": true, "t_ms": run.time_ms(), "episode": run.episode(), "values": values }))
        })
    }
}

/// A float for JSON: NaN and infinities become null.
fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn kind_json(kind: &PortKind) -> Value {
    match kind {
        PortKind::Analog { channels } => json!({
            "type": "analog",
            "channels": channels.iter().map(|c| json!({ "name": c.name, "unit": c.unit })).collect::<Vec<_>>(),
        }),
        PortKind::Scalar { unit } => json!({ "type": "scalar", "unit": unit }),
        PortKind::Spikes { size } => json!({ "type": "spikes", "size": size }),
        PortKind::Events { width, height } => {
            json!({ "type": "events", "width": width, "height": height })
        }
    }
}

fn payload_json(p: &Payload) -> Value {
    match p {
        Payload::Analog(v) => {
            json!({ "type": "analog", "values": v.iter().map(|&x| num(x)).collect::<Vec<_>>() })
        }
        Payload::Scalar(x) => json!({ "type": "scalar", "value": num(*x) }),
        Payload::Spikes(b) => json!({
            "type": "spikes",
            "neuron": b.neuron,
            "t_ms": b.time_ms.iter().map(|&x| num(x)).collect::<Vec<_>>(),
        }),
        Payload::Events(b) => json!({
            "type": "events",
            "x": b.x,
            "y": b.y,
            "t_ms": b.time_ms.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "polarity": b.polarity,
        }),
    }
}

fn report_json(r: &RunReport) -> Value {
    json!({
        "run_id": r.run_id,
        "run_dir": r.run_dir.as_ref().map(|d| d.display().to_string()),
        "steps": r.steps,
        "sim_ms": num(r.sim_ms),
        "wall_s": num(r.wall_s),
        "realtime_factor": num(r.realtime_factor),
        "coupling_overhead_p50_us": num(r.overhead_p50_us),
        "recordings": r.recordings,
    })
}
