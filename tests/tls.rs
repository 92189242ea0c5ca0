//! TLS with mutual authentication (`[zenoh] tls`, certificates made by `scripts/make_certs.sh`):
//!
//! * a run over TLS succeeds and records what the same run over plain TCP records;
//! * processes that know the run id and the endpoint but lack the run's credentials (plain TCP, a
//!   certificate of another CA, the run's CA certificate without a certificate of their own) are
//!   refused: they never connect. Processes with a certificate of the run's CA do connect, but zenoh's
//!   access control lets them publish nothing outside their own engine's keys (one whose common name
//!   is no engine of the run, and one named after the controller that publishes into the plant's
//!   keys). Whatever all of them publish under the run's keys does not reach it: the run's recordings
//!   equal those of a run without them;
//! * bad TLS settings (a missing file, a key that is not the certificate's, a plain endpoint, a
//!   certificate that does not name the listen address) stop `neuroloop run` and `neuroloop engine`
//!   with exit status 2 and a message naming the file or the key.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use neuroloop_transport::{keys, peer_config, zenoh_config, LinkOptions, TlsFiles};
use zenoh::Wait;

/// Makes a CA and certificates (the coordinator's, and one per engine of `engines`) in `dir`.
fn make_certs(dir: &Path, engines: &[&str]) {
    let script = root().join("scripts/make_certs.sh");
    let out = std::process::Command::new(&script)
        .arg(dir)
        .args(engines)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "make_certs.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--set zenoh.tls={...}` with the coordinator's files in `dir` (absolute paths).
fn tls_override(dir: &Path, key: &str) -> String {
    let p = |f: &str| dir.join(f).display().to_string();
    format!(
        "zenoh.tls={{ca=\"{}\",cert=\"{}\",key=\"{}\"}}",
        p("ca.pem"),
        p("coordinator.pem"),
        p(key)
    )
}

/// A free loopback port as a `tls/` endpoint.
fn free_tls_endpoint() -> String {
    free_endpoint().replacen("tcp/", "tls/", 1)
}

/// The columns of two runs' recordings are equal, value for value.
fn assert_same_recordings(a: &Path, b: &Path, recs: &[&str]) {
    for rec in recs {
        let (x, y) = (
            Table::read(&a.join(format!("{rec}.parquet"))),
            Table::read(&b.join(format!("{rec}.parquet"))),
        );
        assert_eq!(x.names, y.names, "{rec}");
        assert!(x.rows() > 0, "{rec} has no rows");
        for n in &x.names {
            assert_eq!(x.col(n), y.col(n), "{rec}: column {n} differs");
        }
    }
}

const RECORDED: [&str; 2] = ["plant.position", "controller.force"];

#[test]
fn a_run_over_tls_records_what_it_records_over_tcp() {
    let tmp = tempdir();
    let certs = tmp.path().join("certs");
    make_certs(&certs, &[]);
    let file = experiment("tests/long_realtime.toml");
    let short = [
        "--set",
        "run.duration_ms=1000",
        "--set",
        "run.realtime=false",
    ];
    let tls = tls_override(&certs, "coordinator.key");
    let over_tls = tmp.path().join("tls");
    let mut args = short.to_vec();
    args.extend(["--set", &tls]);
    run_experiment(&file, &over_tls, &unique_run_id("tls"), &args)
        .expect_code(0)
        .expect_no_panic();
    let over_tcp = tmp.path().join("tcp");
    run_experiment(&file, &over_tcp, &unique_run_id("tcp"), &short).expect_code(0);
    assert_same_recordings(&over_tls, &over_tcp, &RECORDED);
    assert_eq!(manifest(&over_tls)["exit_status"], "ok");
}

/// A zenoh session that tries to join run `id` with `config`, publishing garbage into the `in` and
/// `out` keys of the engines `targets` and declaring the liveliness token of engine `token`, as long
/// as it lives.
struct Intruder {
    what: &'static str,
    session: zenoh::Session,
    publishers: Vec<zenoh::pubsub::Publisher<'static>>,
    _token: zenoh::liveliness::LivelinessToken,
}

impl Intruder {
    fn new(
        what: &'static str,
        id: &str,
        config: zenoh::Config,
        targets: &[&str],
        token: &str,
    ) -> Intruder {
        let session = zenoh::open(config)
            .wait()
            .unwrap_or_else(|e| panic!("{what}: open a zenoh session: {e}"));
        let publishers = targets
            .iter()
            .flat_map(|e| [keys::to_engine(id, e), keys::from_engine(id, e)])
            .map(|k| {
                session
                    .declare_publisher(k)
                    .wait()
                    .expect("declare publisher")
            })
            .collect();
        let token = session
            .liveliness()
            .declare_token(keys::engine_token(id, token))
            .wait()
            .expect("declare token");
        Intruder {
            what,
            session,
            publishers,
            _token: token,
        }
    }

    /// Publishes garbage on every key.
    fn publish(&self) {
        for p in &self.publishers {
            let _ = p
                .put(b"NL\x01\x05garbage from an intruder".as_slice())
                .wait();
        }
    }

    /// The peers this session is connected to.
    fn peers(&self) -> usize {
        self.session.info().peers_zid().wait().count()
    }
}

#[test]
fn processes_without_the_runs_credentials_are_refused_and_change_nothing() {
    let tmp = tempdir();
    let certs = tmp.path().join("certs");
    make_certs(&certs, &["visitor", "controller"]);
    let other = tmp.path().join("other");
    make_certs(&other, &["intruder"]);
    let file = experiment("tests/long_realtime.toml");
    let endpoint = free_tls_endpoint();
    let listen = format!("zenoh.listen=\"{endpoint}\"");
    let tls = tls_override(&certs, "coordinator.key");
    let id = unique_run_id("intruded");
    let out = tmp.path().join("intruded");
    // 10 s paced to the wall clock, time for the intruders to try.
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let mut coord = Proc::neuroloop(&[
        "run",
        f,
        "--output",
        o,
        "--run-id",
        &id,
        "-q",
        "--set",
        "run.duration_ms=10000",
        "--set",
        &listen,
        "--set",
        &tls,
    ]);
    let parts = out.join(".parts").join("plant.position");
    wait_until(Duration::from_secs(30), "the run to step", || {
        assert!(coord.running(), "the coordinator ended early");
        std::fs::read_dir(&parts).ok().map(|_| ())
    });

    let plain_port = endpoint.replacen("tls/", "tcp/", 1);
    let files = |dir: &Path, name: &str| TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    let with_tls = |tls: TlsFiles| {
        let link = LinkOptions {
            tls: Some(tls),
            ..LinkOptions::default()
        };
        peer_config(&[], std::slice::from_ref(&endpoint), &link).expect("intruder config")
    };
    // The run's CA certificate (public) as the only authority, but no certificate of its own.
    let mut ca_only = zenoh_config(&[], std::slice::from_ref(&endpoint), false).unwrap();
    let ca = serde_json::Value::String(certs.join("ca.pem").display().to_string()).to_string();
    ca_only
        .insert_json5("transport/link/tls/root_ca_certificate", &ca)
        .unwrap();
    let started = Instant::now();
    let both = ["plant", "controller"];
    let refused = [
        Intruder::new(
            "plain TCP to the TLS port",
            &id,
            zenoh_config(&[], &[plain_port], false).unwrap(),
            &both,
            "controller",
        ),
        Intruder::new(
            "a certificate of another CA",
            &id,
            with_tls(files(&other, "intruder")),
            &both,
            "controller",
        ),
        Intruder::new(
            "the run's CA certificate and no certificate",
            &id,
            ca_only,
            &both,
            "controller",
        ),
    ];
    // Certificates of the run's CA: they connect, but may not use these keys.
    let connected = [
        Intruder::new(
            "a certificate of the run's CA named after no engine",
            &id,
            with_tls(files(&certs, "visitor")),
            &both,
            "controller",
        ),
        Intruder::new(
            "the controller's certificate, used in the plant's keys",
            &id,
            with_tls(files(&certs, "controller")),
            &["plant"],
            "plant",
        ),
    ];
    for i in &connected {
        wait_until(Duration::from_secs(10), i.what, || {
            (i.peers() > 0).then_some(())
        });
    }
    let publishing = Instant::now();
    while publishing.elapsed() < Duration::from_millis(1500) {
        for i in refused.iter().chain(&connected) {
            i.publish();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in &refused {
        assert_eq!(i.peers(), 0, "{}: connected to the run", i.what);
    }
    eprintln!(
        "the intruders were done {:.1} s after they started",
        started.elapsed().as_secs_f64()
    );
    let still = coord.running();
    let o = coord.wait(Duration::from_secs(60));
    o.expect_code(0).expect_no_panic();
    assert!(still, "the run ended before the intruders were done");
    drop(refused);
    drop(connected);

    // The run was not disturbed: it recorded what a run without intruders records.
    let quiet = tmp.path().join("quiet");
    run_experiment(
        &file,
        &quiet,
        &unique_run_id("quiet"),
        &[
            "--set",
            "run.duration_ms=10000",
            "--set",
            "run.realtime=false",
            "--set",
            &tls,
        ],
    )
    .expect_code(0);
    assert_same_recordings(&out, &quiet, &RECORDED);
}

/// An external engine joins with a certificate of its own, named after it (what an engine on another
/// host does): the access control lets it be that engine, and the run completes.
#[test]
fn an_external_engine_with_its_own_certificate_takes_part() {
    let tmp = tempdir();
    let certs = tmp.path().join("certs");
    make_certs(&certs, &["controller"]);
    let out = tmp.path().join("run");
    let id = unique_run_id("exttls");
    let listen = format!("zenoh.listen=\"{}\"", free_tls_endpoint());
    let tls = tls_override(&certs, "coordinator.key");
    let file = experiment("tests/external_controller.toml");
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let mut coord = Proc::neuroloop(&[
        "run", f, "--output", o, "--run-id", &id, "-q", "--set", &listen, "--set", &tls,
    ]);
    let vars = wait_until(Duration::from_secs(30), "external_engines.json", || {
        assert!(coord.running(), "the coordinator ended early");
        let text = std::fs::read_to_string(out.join("external_engines.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(v["controller"].as_object()?.clone())
    });
    // The coordinator gives its own files; the engine uses its own certificate and key instead.
    let own = |k: &str, f: &str| match k {
        "NEUROLOOP_TLS_CERT" | "NEUROLOOP_TLS_KEY" => certs.join(f).display().to_string(),
        _ => vars[k].as_str().unwrap_or_default().to_string(),
    };
    let mut args: Vec<String> = vars
        .keys()
        .map(|k| {
            let f = if k == "NEUROLOOP_TLS_CERT" {
                "controller.pem"
            } else {
                "controller.key"
            };
            format!("{k}={}", own(k, f))
        })
        .collect();
    assert!(
        args.iter().any(|a| a.starts_with("NEUROLOOP_TLS_CA=")),
        "{args:?}"
    );
    args.extend([bin().to_string(), "engine".into(), "p_controller".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let engine = Proc::spawn("env", &args);
    coord
        .wait(Duration::from_secs(120))
        .expect_code(0)
        .expect_no_panic();
    engine.wait(Duration::from_secs(20)).expect_code(0);
    assert_eq!(
        Table::read(&out.join("controller.force.parquet")).rows(),
        251
    );
    assert_no_leftovers(&id, Duration::from_secs(3));
}

/// `neuroloop run` of a short TLS run with `extra` overrides: exits 2, saying `texts`.
fn refused_run(extra: &[&str], texts: &[&str]) {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("badtls");
    let mut args = vec![
        "--set",
        "run.duration_ms=100",
        "--set",
        "run.realtime=false",
    ];
    args.extend_from_slice(extra);
    let o = run_experiment(&experiment("tests/long_realtime.toml"), &out, &id, &args);
    o.expect_code(2).expect_no_panic();
    for t in texts {
        o.expect_stderr(t);
    }
    assert_no_leftovers(&id, Duration::from_secs(3));
}

#[test]
fn bad_tls_settings_are_refused_with_the_file_named() {
    let tmp = tempdir();
    let certs = tmp.path().join("certs");
    make_certs(&certs, &["plant"]);
    let d = |f: &str| certs.join(f).display().to_string();

    // A file that does not exist: found when the experiment is read, placed at its key.
    let missing = format!(
        "zenoh.tls={{ca=\"{}\",cert=\"{}\",key=\"{}\"}}",
        d("ca.pem"),
        d("coordinator.pem"),
        d("nope.key")
    );
    refused_run(
        &["--set", &missing],
        &["zenoh.tls.key", "nope.key", "not found"],
    );

    // Another certificate's key.
    let wrong_key = tls_override(&certs, "plant.key");
    refused_run(
        &["--set", &wrong_key],
        &[
            "plant.key",
            "is not the private key of the certificate",
            "coordinator.pem",
        ],
    );

    // A key where the CA certificate should be.
    let not_a_cert = format!(
        "zenoh.tls={{ca=\"{}\",cert=\"{}\",key=\"{}\"}}",
        d("ca.key"),
        d("coordinator.pem"),
        d("coordinator.key")
    );
    refused_run(&["--set", &not_a_cert], &["ca.key", "holds no certificate"]);

    // A plain endpoint with TLS.
    let tls = tls_override(&certs, "coordinator.key");
    let plain = format!("zenoh.listen=\"{}\"", free_endpoint());
    refused_run(
        &["--set", &tls, "--set", &plain],
        &["zenoh.listen", "is not TLS"],
    );

    // A listen address the coordinator's certificate does not name (it names 127.0.0.1, ::1,
    // localhost): engines connecting there would refuse it.
    let other_addr = format!(
        "zenoh.listen=\"{}\"",
        free_tls_endpoint().replace("127.0.0.1", "127.0.0.2")
    );
    refused_run(
        &["--set", &tls, "--set", &other_addr],
        &["coordinator.pem", "127.0.0.2", "make_certs.sh --host"],
    );

    // An engine started by hand with a wrong key, or with only some of the variables.
    let engine = |vars: &[String]| {
        let mut args: Vec<String> = vars.to_vec();
        args.extend(
            [
                bin(),
                "engine",
                "p_controller",
                "--run-id",
                "r1",
                "--name",
                "controller",
                "--connect",
                "tls/127.0.0.1:9",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Proc::spawn("env", &args).wait(Duration::from_secs(30))
    };
    let var = |k: &str, f: &str| format!("{k}={}", d(f));
    let o = engine(&[
        var("NEUROLOOP_TLS_CA", "ca.pem"),
        var("NEUROLOOP_TLS_CERT", "plant.pem"),
        var("NEUROLOOP_TLS_KEY", "coordinator.key"),
    ]);
    o.expect_code(2)
        .expect_stderr("coordinator.key")
        .expect_stderr("is not the private key of the certificate");
    let o = engine(&[var("NEUROLOOP_TLS_CA", "ca.pem")]);
    o.expect_code(2)
        .expect_stderr("NEUROLOOP_TLS_CERT and NEUROLOOP_TLS_KEY not set");
}

/// The SDK's check of TLS files, directly: what each mistake says.
#[test]
fn tls_file_checks_name_the_file() {
    let tmp = tempdir();
    let certs = tmp.path().join("certs");
    make_certs(&certs, &["plant"]);
    let other = tmp.path().join("other");
    make_certs(&other, &[]);
    let f = |dir: &Path, ca: &str, cert: &str, key: &str| TlsFiles {
        ca: dir.join(ca),
        cert: dir.join(cert),
        key: dir.join(key),
    };
    let err = |t: TlsFiles, name: Option<&str>| t.check(name).unwrap_err().to_string();
    f(&certs, "ca.pem", "plant.pem", "plant.key")
        .check(None)
        .expect("an engine's files");
    f(&certs, "ca.pem", "coordinator.pem", "coordinator.key")
        .check(Some("127.0.0.1"))
        .expect("the coordinator's files");
    let e = err(f(&certs, "ca.pem", "plant.pem", "missing.key"), None);
    assert!(
        e.contains("missing.key") && e.contains("cannot be read"),
        "{e}"
    );
    let e = err(
        TlsFiles {
            ca: other.join("ca.pem"),
            ..f(&certs, "", "plant.pem", "plant.key")
        },
        None,
    );
    assert!(
        e.contains("plant.pem") && e.contains("is not accepted with the CA certificate"),
        "{e}"
    );
    let e = err(
        f(&certs, "ca.pem", "coordinator.pem", "coordinator.key"),
        Some("10.1.2.3"),
    );
    assert!(
        e.contains("coordinator.pem") && e.contains("10.1.2.3"),
        "{e}"
    );
}

/// The repository's Python (`scripts/setup_python.sh`); fails, saying so, when it is missing.
fn python() -> PathBuf {
    let p = root().join(".venv/bin/python");
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup_python.sh first",
        p.display()
    );
    p
}

/// The Python SDK joins a TLS run with the variables the coordinator gives it.
#[test]
fn a_python_engine_joins_a_run_over_tls() {
    let _ = python();
    let tmp = tempdir();
    let certs = tmp.path().join("certs");
    make_certs(&certs, &[]);
    let tls = tls_override(&certs, "coordinator.key");
    let out = tmp.path().join("run");
    let o = run_experiment(
        &experiment("python_controller.toml"),
        &out,
        &unique_run_id("pytls"),
        &["--set", "run.duration_ms=500", "--set", &tls],
    );
    o.expect_code(0).expect_no_panic();
    assert_eq!(
        Table::read(&out.join("controller.force.parquet")).rows(),
        251
    );
}
