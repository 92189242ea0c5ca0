//! Zenoh session configuration for loopback lockstep runs.

use crate::TransportError;

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
