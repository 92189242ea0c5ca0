//! Zenoh session configuration of the processes of a run: endpoints, zenoh's low-latency transport,
//! the lease (how long a silent connection is kept), and TLS with mutual authentication.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    peer_config(
        listen,
        connect,
        &LinkOptions {
            lowlatency,
            ..LinkOptions::default()
        },
    )
}

/// How a process of a run sets up its zenoh links, beyond the endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkOptions {
    /// Zenoh's low-latency transport (see [`zenoh_config`]); the same in every process of a run.
    pub lowlatency: bool,
    /// The lease this process announces, in ms: the other end of each of its connections closes the
    /// connection when nothing (data or zenoh's keep-alives, sent 4 times per lease) came for that
    /// long. `None`: zenoh's default, 10 000 ms.
    pub lease_ms: Option<u64>,
    /// TLS with mutual authentication: every endpoint must be `tls/...`.
    pub tls: Option<TlsFiles>,
    /// With TLS, zenoh access control for a coordinator: what each engine may do in the run's key
    /// space, by the common name of its certificate (see [`RunAccess`]).
    pub access: Option<RunAccess>,
}

/// Zenoh access control of a coordinator over TLS (the other end of each connection is known by the
/// common name (CN) of its certificate). Whatever is not allowed is denied:
///
/// * a process whose CN is that of the coordinator's own certificate (the engines the coordinator
///   starts use it) may do everything under `neuroloop/<run>/**`;
/// * a process whose CN is an engine name `E` may only be that engine: publish on
///   `neuroloop/<run>/engine/E/out`, subscribe to `neuroloop/<run>/engine/E/in`, declare the
///   liveliness token `neuroloop/<run>/engine/E`, and watch the coordinator's token; the coordinator
///   sends it what it sends any engine;
/// * anything else (another CN, another run's keys, queries) is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAccess {
    /// The run id.
    pub run_id: String,
    /// The engine names (each the CN of its own certificate).
    pub engines: Vec<String>,
}

/// The TLS credentials of one process of a run (PEM files): the certificate of the run's certificate
/// authority (CA), which signed every certificate of the run, and this process's own certificate and
/// private key. With them a process accepts and opens only TLS 1.3 connections whose other end
/// proves it holds a certificate signed by the same CA (zenoh's mutual TLS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate.
    pub ca: PathBuf,
    /// This process's certificate.
    pub cert: PathBuf,
    /// This process's private key.
    pub key: PathBuf,
}

/// The variable with the zenoh lease (ms) an engine announces (see [`LinkOptions::lease_ms`]).
pub const ENV_LEASE_MS: &str = "NEUROLOOP_ZENOH_LEASE_MS";
/// The variable with the path of the run's CA certificate (TLS).
pub const ENV_TLS_CA: &str = "NEUROLOOP_TLS_CA";
/// The variable with the path of the process's certificate (TLS).
pub const ENV_TLS_CERT: &str = "NEUROLOOP_TLS_CERT";
/// The variable with the path of the process's private key (TLS).
pub const ENV_TLS_KEY: &str = "NEUROLOOP_TLS_KEY";

impl LinkOptions {
    /// Reads `NEUROLOOP_ZENOH_LOWLATENCY` (`1` or `true`), `NEUROLOOP_ZENOH_LEASE_MS` (a whole number
    /// of ms) and the TLS files `NEUROLOOP_TLS_CA`, `NEUROLOOP_TLS_CERT`, `NEUROLOOP_TLS_KEY` (all
    /// three, or none), which `neuroloop run` sets for its engines.
    pub fn from_env() -> Result<Self, TransportError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// [`LinkOptions::from_env`] with the variables from `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, TransportError> {
        let lowlatency = get("NEUROLOOP_ZENOH_LOWLATENCY").is_some_and(|v| v == "1" || v == "true");
        let lease_ms = match get(ENV_LEASE_MS).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Some(ms),
                _ => {
                    return Err(TransportError::Setting(format!(
                        "{ENV_LEASE_MS}={v:?}: expected a whole number of milliseconds > 0"
                    )))
                }
            },
        };
        let tls = TlsFiles::from_vars(get)?;
        Ok(LinkOptions {
            lowlatency,
            lease_ms,
            tls,
            access: None,
        })
    }

    /// The variables that give these options to an engine process (read back by
    /// [`LinkOptions::from_env`]); TLS paths are made absolute.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![(
            "NEUROLOOP_ZENOH_LOWLATENCY",
            if self.lowlatency { "1" } else { "0" }.to_string(),
        )];
        if let Some(ms) = self.lease_ms {
            v.push((ENV_LEASE_MS, ms.to_string()));
        }
        if let Some(t) = &self.tls {
            let abs = |p: &Path| {
                std::path::absolute(p)
                    .unwrap_or_else(|_| p.to_path_buf())
                    .display()
                    .to_string()
            };
            v.push((ENV_TLS_CA, abs(&t.ca)));
            v.push((ENV_TLS_CERT, abs(&t.cert)));
            v.push((ENV_TLS_KEY, abs(&t.key)));
        }
        v
    }
}

impl RunAccess {
    /// The `access_control` table of zenoh's configuration (JSON), for a coordinator whose own
    /// certificate has the common name `own_cn`.
    pub fn acl_json(&self, own_cn: &str) -> String {
        use serde_json::json;
        let run = crate::keys::run_root(&self.run_id);
        let all = [
            "put",
            "delete",
            "declare_subscriber",
            "query",
            "declare_queryable",
            "reply",
            "liveliness_token",
            "declare_liveliness_subscriber",
            "liveliness_query",
        ];
        let mut rules = vec![json!({
            "id": "run", "messages": all, "flows": ["ingress", "egress"],
            "permission": "allow", "key_exprs": [format!("{run}/**")],
        })];
        rules.push(json!({
            "id": "to_engine", "messages": all, "flows": ["egress"],
            "permission": "allow", "key_exprs": [format!("{run}/**")],
        }));
        rules.push(json!({
            "id": "watch_coordinator",
            "messages": ["declare_liveliness_subscriber", "liveliness_query"],
            "flows": ["ingress"], "permission": "allow",
            "key_exprs": [crate::keys::coordinator_token(&self.run_id)],
        }));
        let mut subjects = vec![json!({ "id": "coordinator", "cert_common_names": [own_cn] })];
        let mut policies = vec![json!({ "rules": ["run"], "subjects": ["coordinator"] })];
        for e in self.engines.iter().filter(|e| e.as_str() != own_cn) {
            let r = &self.run_id;
            for (kind, message, key) in [
                ("out", "put", crate::keys::from_engine(r, e)),
                ("in", "declare_subscriber", crate::keys::to_engine(r, e)),
                ("token", "liveliness_token", crate::keys::engine_token(r, e)),
            ] {
                rules.push(json!({
                    "id": format!("engine_{e}_{kind}"), "messages": [message],
                    "flows": ["ingress"], "permission": "allow", "key_exprs": [key],
                }));
            }
            subjects.push(json!({ "id": format!("engine_{e}"), "cert_common_names": [e] }));
            policies.push(json!({
                "rules": ["to_engine", "watch_coordinator", format!("engine_{e}_out"),
                          format!("engine_{e}_in"), format!("engine_{e}_token")],
                "subjects": [format!("engine_{e}")],
            }));
        }
        json!({
            "enabled": true,
            "default_permission": "deny",
            "rules": rules,
            "subjects": subjects,
            "policies": policies,
        })
        .to_string()
    }
}

impl TlsFiles {
    /// The TLS files named by `NEUROLOOP_TLS_CA`, `NEUROLOOP_TLS_CERT` and `NEUROLOOP_TLS_KEY` from
    /// `get`: `None` when none is set, an error naming the missing ones when only some are.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, TransportError> {
        let vars = [ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY];
        let values: Vec<Option<String>> = vars
            .iter()
            .map(|k| get(k).filter(|v| !v.is_empty()))
            .collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let missing: Vec<&str> = vars
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| *k)
            .collect();
        if !missing.is_empty() {
            return Err(TransportError::Setting(format!(
                "TLS needs {ENV_TLS_CA}, {ENV_TLS_CERT} and {ENV_TLS_KEY} together: {} not set",
                missing.join(" and ")
            )));
        }
        let mut v = values
            .into_iter()
            .map(|v| PathBuf::from(v.unwrap_or_default()));
        let mut next = || v.next().unwrap_or_default();
        Ok(Some(TlsFiles {
            ca: next(),
            cert: next(),
            key: next(),
        }))
    }

    /// The common name (CN) of this process's certificate.
    pub fn common_name(&self) -> Result<String, TransportError> {
        let bad = |what: String| {
            TransportError::Setting(format!("TLS file {}: {what}", self.cert.display()))
        };
        let bytes = std::fs::read(&self.cert).map_err(|e| bad(format!("cannot be read: {e}")))?;
        let der = rustls_pemfile::certs(&mut bytes.as_slice())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| bad("holds no certificate".into()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| bad(format!("is not a valid X.509 certificate: {e}")))?;
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or_else(|| bad("has no common name (CN)".into()))?;
        Ok(cn.to_string())
    }

    /// Checks the three files before zenoh uses them (zenoh's own errors do not name the file): each
    /// is readable PEM of the right kind, the key belongs to the certificate, and the certificate was
    /// signed by the CA, is valid now, and may authenticate a TLS client. With `server_name`, the
    /// certificate must also be valid for a TLS server of that name or IP address (what a process
    /// that connects to this one checks).
    pub fn check(&self, server_name: Option<&str>) -> Result<(), TransportError> {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let bad = |path: &Path, what: String| {
            TransportError::Setting(format!("TLS file {}: {what}", path.display()))
        };
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| bad(path, format!("cannot be read: {e}")))
        };
        let certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, TransportError> {
            let bytes = read(path)?;
            let certs = rustls_pemfile::certs(&mut bytes.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(path, format!("is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(bad(
                    path,
                    "holds no certificate (no PEM block \"BEGIN CERTIFICATE\")".into(),
                ));
            }
            Ok(certs)
        };
        let ca = certs(&self.ca)?;
        let chain = certs(&self.cert)?;
        let key_bytes = read(&self.key)?;
        let key = rustls_pemfile::private_key(&mut key_bytes.as_slice())
            .map_err(|e| bad(&self.key, format!("is not valid PEM: {e}")))?
            .ok_or_else(|| {
                bad(
                    &self.key,
                    "holds no private key (no PEM block \"BEGIN PRIVATE KEY\", \"BEGIN EC PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\")".into(),
                )
            })?;
        let provider = Arc::new(ring_provider());
        rustls::sign::CertifiedKey::from_der(chain.clone(), key, &provider).map_err(|e| {
            bad(
                &self.key,
                format!(
                    "is not the private key of the certificate {} ({e})",
                    self.cert.display()
                ),
            )
        })?;
        let mut roots = rustls::RootCertStore::empty();
        for c in ca {
            roots
                .add(c)
                .map_err(|e| bad(&self.ca, format!("is not a usable CA certificate: {e}")))?;
        }
        let roots = Arc::new(roots);
        let now = UnixTime::now();
        let not_signed = |e: rustls::Error| {
            bad(
                &self.cert,
                format!(
                    "is not accepted with the CA certificate {} ({e})",
                    self.ca.display()
                ),
            )
        };
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| {
            bad(
                &self.ca,
                format!("cannot be used to verify certificates: {e}"),
            )
        })?;
        verifier
            .verify_client_cert(&chain[0], &chain[1..], now)
            .map_err(not_signed)?;
        if let Some(name) = server_name {
            let server = ServerName::try_from(name.to_string()).map_err(|e| {
                TransportError::Setting(format!("{name:?} is not a host name or IP address: {e}"))
            })?;
            let verifier =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| {
                        bad(
                            &self.ca,
                            format!("cannot be used to verify certificates: {e}"),
                        )
                    })?;
            verifier
                .verify_server_cert(&chain[0], &chain[1..], &server, &[], now)
                .map_err(|e| {
                    bad(
                        &self.cert,
                        format!(
                            "cannot serve TLS connections to {name}: {e} (the engines connect to {name}: \
                             make the certificate with scripts/make_certs.sh --host {name})"
                        ),
                    )
                })?;
        }
        Ok(())
    }
}

/// rustls's *ring* provider, the one zenoh's TLS link uses (rustls 0.23.48 deprecates it for want of
/// post-quantum key exchange; it serves here only to check keys and signatures).
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The host (name or IP address, without brackets) of a `tls/HOST:PORT` endpoint.
pub fn endpoint_host(endpoint: &str) -> Option<&str> {
    let rest = endpoint.split_once('/')?.1;
    let addr = rest.split(['#', '?']).next().unwrap_or(rest);
    let (host, _port) = addr.rsplit_once(':')?;
    Some(host.trim_start_matches('[').trim_end_matches(']'))
}

/// A zenoh configuration for a neuroloop peer: [`zenoh_config`]'s settings, the lease of `link`, and
/// with `link.tls` mutual TLS: only `tls/` endpoints (no other protocol is accepted or opened), the
/// run's CA as the only authority for the other end's certificate, this process's certificate both
/// to listen and to connect. The TLS files are checked first ([`TlsFiles::check`]).
pub fn peer_config(
    listen: &[String],
    connect: &[String],
    link: &LinkOptions,
) -> Result<zenoh::Config, TransportError> {
    let mut c = zenoh::Config::default();
    let lowlatency = link.lowlatency;
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
    if let Some(ms) = link.lease_ms {
        set(&mut c, "transport/link/tx/lease", ms.to_string())?;
    }
    if let Some(tls) = &link.tls {
        if let Some(e) = listen
            .iter()
            .chain(connect)
            .find(|e| !e.starts_with("tls/"))
        {
            return Err(TransportError::Setting(format!(
                "endpoint {e:?}: with TLS every endpoint must be tls/HOST:PORT"
            )));
        }
        // Names the engines connect to must be in the certificate of a listening process.
        let host = listen
            .first()
            .and_then(|e| endpoint_host(e))
            .map(|h| match h {
                "0.0.0.0" => "127.0.0.1",
                "::" => "::1",
                h => h,
            });
        tls.check(host)?;
        let path = |p: &Path| serde_json::Value::String(p.display().to_string()).to_string();
        set(&mut c, "transport/link/protocols", "[\"tls\"]".into())?;
        for (key, file) in [
            ("root_ca_certificate", &tls.ca),
            ("listen_certificate", &tls.cert),
            ("listen_private_key", &tls.key),
            ("connect_certificate", &tls.cert),
            ("connect_private_key", &tls.key),
        ] {
            set(&mut c, &format!("transport/link/tls/{key}"), path(file))?;
        }
        set(&mut c, "transport/link/tls/enable_mtls", "true".into())?;
        if let Some(access) = &link.access {
            let own_cn = tls.common_name()?;
            set(&mut c, "access_control", access.acl_json(&own_cn))?;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            list.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn link_options_come_from_the_variables_they_go_to() {
        let l = LinkOptions::from_vars(vars(&[])).unwrap();
        assert_eq!(l, LinkOptions::default());
        let l = LinkOptions::from_vars(vars(&[
            ("NEUROLOOP_ZENOH_LOWLATENCY", "1"),
            ("NEUROLOOP_ZENOH_LEASE_MS", "1500"),
            ("NEUROLOOP_TLS_CA", "/c/ca.pem"),
            ("NEUROLOOP_TLS_CERT", "/c/e.pem"),
            ("NEUROLOOP_TLS_KEY", "/c/e.key"),
        ]))
        .unwrap();
        assert!(l.lowlatency);
        assert_eq!(l.lease_ms, Some(1500));
        assert_eq!(l.tls.as_ref().unwrap().key, PathBuf::from("/c/e.key"));
        let env = l.env_vars();
        let back =
            LinkOptions::from_vars(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
                .unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn bad_link_variables_are_named() {
        for lease in ["0", "-5", "2s"] {
            let e = LinkOptions::from_vars(vars(&[("NEUROLOOP_ZENOH_LEASE_MS", lease)]))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("NEUROLOOP_ZENOH_LEASE_MS") && e.contains(lease),
                "{e}"
            );
        }
        let e = LinkOptions::from_vars(vars(&[("NEUROLOOP_TLS_CA", "/c/ca.pem")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("NEUROLOOP_TLS_CERT and NEUROLOOP_TLS_KEY not set"),
            "{e}"
        );
    }

    #[test]
    fn tls_needs_tls_endpoints_and_readable_files() {
        let link = LinkOptions {
            tls: Some(TlsFiles {
                ca: "/nonexistent/ca.pem".into(),
                cert: "/nonexistent/c.pem".into(),
                key: "/nonexistent/c.key".into(),
            }),
            ..LinkOptions::default()
        };
        let e = peer_config(&["tcp/127.0.0.1:7447".into()], &[], &link)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tcp/127.0.0.1:7447") && e.contains("tls/"),
            "{e}"
        );
        let e = peer_config(&[], &["tls/127.0.0.1:7447".into()], &link)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/ca.pem") && e.contains("cannot be read"),
            "{e}"
        );
    }

    #[test]
    fn hosts_come_out_of_endpoints() {
        assert_eq!(endpoint_host("tls/10.0.0.1:7447"), Some("10.0.0.1"));
        assert_eq!(endpoint_host("tls/[::1]:7447"), Some("::1"));
        assert_eq!(
            endpoint_host("tcp/host.lab:7447#iface=eth0"),
            Some("host.lab")
        );
        assert_eq!(endpoint_host("nonsense"), None);
    }

    #[test]
    fn the_access_control_of_a_run_is_a_valid_zenoh_setting() {
        let access = RunAccess {
            run_id: "r1".into(),
            engines: vec!["plant".into(), "controller".into()],
        };
        let acl = access.acl_json("coordinator");
        let mut c = zenoh::Config::default();
        c.insert_json5("access_control", &acl)
            .unwrap_or_else(|e| panic!("{e}\n{acl}"));
        let v: serde_json::Value = serde_json::from_str(&acl).unwrap();
        assert_eq!(v["default_permission"], "deny");
        // The controller may publish only on its own out key.
        let rule = v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "engine_controller_out")
            .unwrap();
        assert_eq!(rule["key_exprs"][0], "neuroloop/r1/engine/controller/out");
        assert_eq!(rule["messages"][0], "put");
        assert_eq!(rule["flows"][0], "ingress");
    }
}
