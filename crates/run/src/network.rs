//! The zenoh settings of a run's processes, which may be on several hosts: the leases (how long a
//! silent connection is kept), derived from the step time-out so that a lost connection is reported
//! as such before the step times out, and TLS, from the experiment file or the environment.

use neuroloop_core::experiment::Experiment;
use neuroloop_transport::{free_tcp_endpoint, LinkOptions, RunAccess, TlsFiles, TransportError};

/// The zenoh lease (ms) every engine of a run announces: half the step time-out, between 200 ms and
/// zenoh's default of 10 s. The coordinator closes the connection of an engine it heard nothing from
/// (data or zenoh's keep-alives, 4 per lease) for that long, and reports the engine as having lost
/// its connection: with a lease shorter than the step time-out, a cut link is named as such instead
/// of being taken for an engine that hangs.
pub fn engine_lease_ms(step_timeout_ms: u64) -> u64 {
    (step_timeout_ms / 2).clamp(200, 10_000)
}

/// The zenoh lease (ms) the coordinator announces: the step time-out, and at least zenoh's default of
/// 10 s. An engine of the Rust SDK computes its step in zenoh's receive callback, which cannot read its
/// connection meanwhile; a step longer than the coordinator's lease would close the connection when it
/// ends, so the lease must cover every step the time-out allows.
pub fn coordinator_lease_ms(step_timeout_ms: u64) -> u64 {
    step_timeout_ms.max(10_000)
}

/// The link options of the coordinator of run `run_id` and of its engines: low-latency transport and
/// TLS as the experiment says (TLS from `[zenoh] tls`, else from `NEUROLOOP_TLS_CA`,
/// `NEUROLOOP_TLS_CERT` and `NEUROLOOP_TLS_KEY` in the coordinator's environment), each with its
/// lease; with TLS, the coordinator's access control ([`RunAccess`]: each engine only its own keys).
pub(crate) fn link_options(
    exp: &Experiment,
    run_id: &str,
) -> Result<(LinkOptions, LinkOptions), TransportError> {
    let tls = match &exp.zenoh.tls {
        Some(t) => Some(TlsFiles {
            ca: t.ca.clone(),
            cert: t.cert.clone(),
            key: t.key.clone(),
        }),
        None => TlsFiles::from_vars(|k| std::env::var(k).ok())?,
    };
    let access = tls.is_some().then(|| RunAccess {
        run_id: run_id.to_string(),
        engines: exp.engines.iter().map(|e| e.name.clone()).collect(),
    });
    let engines = LinkOptions {
        lowlatency: exp.zenoh.lowlatency,
        lease_ms: Some(engine_lease_ms(exp.step_timeout_ms)),
        tls: tls.clone(),
        access: None,
    };
    let coordinator = LinkOptions {
        lowlatency: exp.zenoh.lowlatency,
        lease_ms: Some(coordinator_lease_ms(exp.step_timeout_ms)),
        tls,
        access,
    };
    Ok((coordinator, engines))
}

/// The coordinator's listen endpoint: `[zenoh] listen`, else a free loopback port (`tls/` with TLS).
pub(crate) fn listen_endpoint(exp: &Experiment, tls: bool) -> Result<String, TransportError> {
    match &exp.zenoh.listen {
        Some(l) => Ok(l.clone()),
        None if tls => Ok(free_tcp_endpoint()?.replacen("tcp/", "tls/", 1)),
        None => free_tcp_endpoint(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_lease_is_within_the_step_time_out() {
        assert_eq!(engine_lease_ms(3000), 1500);
        assert_eq!(engine_lease_ms(10_000), 5000);
        assert_eq!(engine_lease_ms(60_000), 10_000);
        assert_eq!(engine_lease_ms(100), 200);
        for t in [400, 1000, 3000, 10_000, 100_000] {
            assert!(engine_lease_ms(t) < t);
            assert!(coordinator_lease_ms(t) >= t);
        }
        assert_eq!(coordinator_lease_ms(1000), 10_000);
    }
}
