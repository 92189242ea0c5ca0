//! Zenoh session configuration for loopback lockstep runs.

use crate::TransportError;

/// The layout of zenoh's runtimes (its tokio thread pools) in the processes of a run, the value of
/// `ZENOH_RUNTIME` they use unless it is set: the accept, network and application runtimes are
/// handed over to the receive runtime, which has one worker thread. A connection then belongs to the
/// thread that reads it, so a message wakes one thread instead of two (zenoh's default has the
/// connection's socket served by the accept or network runtime's thread, which wakes a receive
/// thread), and an engine computes its step and publishes the reply on that thread. Transmission
/// keeps its own runtime, so that a publication that must wait for the link never waits for the
/// thread that publishes it. Measured on `forelimb_senses.toml`: the wake-ups (context switches) of
/// a lockstep round fall from about 45 to about 20 (`scripts/round_probe.py`, README).
pub const RUNTIME_LAYOUT: &str =
    "(rx: (worker_threads: 1), acc: (handover: rx), net: (handover: rx), app: (handover: rx))";

/// The zenoh runtime layout this process uses: `ZENOH_RUNTIME` if set, else [`RUNTIME_LAYOUT`].
/// The coordinator gives it to the engine processes it starts.
pub fn runtime_layout() -> String {
    std::env::var("ZENOH_RUNTIME").unwrap_or_else(|_| RUNTIME_LAYOUT.to_string())
}

/// Makes this process use [`RUNTIME_LAYOUT`] unless `ZENOH_RUNTIME` is set. Zenoh reads the variable
/// once, when it first starts a runtime, and setting an environment variable races with any other
/// thread that reads the environment: call this first thing in `main`, before any thread starts.
pub fn use_runtime_layout() {
    if std::env::var_os("ZENOH_RUNTIME").is_none() {
        std::env::set_var("ZENOH_RUNTIME", RUNTIME_LAYOUT);
    }
}

/// A zenoh configuration for a neuroloop peer: peer mode, no multicast or gossip scouting (nothing leaves
/// the endpoints given), QoS off, listening on `listen` and connecting to `connect`.
///
/// `lowlatency` selects zenoh's low-latency transport (measured to shorten the round trip on loopback),
/// which cannot fragment: a message larger than one batch (64 KiB: a camera's events, a big population's
/// spikes) breaks the link. Every process of a run must use the same setting; the coordinator passes
/// it to the engines as `NEUROLOOP_ZENOH_LOWLATENCY`.
pub fn zenoh_config(
    listen: &[String],
    connect: &[String],
    lowlatency: bool,
) -> Result<zenoh::Config, TransportError> {
    let mut c = zenoh::Config::default();
    let set = |c: &mut zenoh::Config, key: &str, value: String| {
        c.insert_json5(key, &value)
            .map_err(|e| TransportError::Setting(format!("zenoh setting {key} = {value}: {e}")))
    };
    set(&mut c, "mode", "\"peer\"".into())?;
    set(&mut c, "scouting/multicast/enabled", "false".into())?;
    set(&mut c, "listen/endpoints", json_list(listen))?;
    set(&mut c, "connect/endpoints", json_list(connect))?;
    set(
        &mut c,
        "transport/unicast/lowlatency",
        lowlatency.to_string(),
    )?;
    set(&mut c, "transport/unicast/qos/enabled", "false".into())?;
    Ok(c)
}

fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::Value::String(s.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(","))
}

/// A `tcp/127.0.0.1:<port>` endpoint on a port that was free a moment ago (the operating system picks it).
pub fn free_tcp_endpoint() -> Result<String, TransportError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| TransportError::Setting(format!("cannot find a free loopback port: {e}")))?;
    let port = l
        .local_addr()
        .map_err(|e| TransportError::Setting(e.to_string()))?
        .port();
    Ok(format!("tcp/127.0.0.1:{port}"))
}
