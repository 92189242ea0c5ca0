//! A run across hosts, on one machine: two network namespaces joined by a veth pair play two hosts.
//! The coordinator and the spring plant run in namespace A, listening on A's veth address; the
//! controller is an external engine started by hand in namespace B (`ip netns exec B neuroloop engine
//! p_controller` with the variables the coordinator gives for it), as on a second host.
//!
//! * The run completes across the two "hosts" and records exactly what the same run on one host does.
//! * The link is cut mid-run (`ip link set ... down`): the coordinator names the controller and says
//!   its connection was lost, within the step time-out (not that it hangs); the recordings up to the
//!   cut are readable; the controller gives up on the coordinator by itself; no process is left in
//!   either namespace.
//!
//! Making namespaces needs root (CI runs as root). Where they cannot be made the tests fail, saying
//! so, unless `NEUROLOOP_NO_NETNS=1` asks to skip them (they then print that they were skipped).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// The coordinator's address in namespace A, and the controller's in B.
const ADDR_A: &str = "10.77.0.1";
const ADDR_B: &str = "10.77.0.2";
/// The port the coordinator listens on (each test has namespaces of its own).
const PORT: u16 = 7447;

/// Two network namespaces joined by a veth pair, `ADDR_A` in A and `ADDR_B` in B, loopback up in
/// both. Dropping it kills every process left in either namespace and deletes both (the veth pair
/// goes with them).
struct TwoHosts {
    a: String,
    b: String,
    veth_a: String,
}

/// Runs `ip ARGS...`; the error says what failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e} (is iproute2 installed?)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl TwoHosts {
    /// Makes the namespaces; `None` when the test is to be skipped (`NEUROLOOP_NO_NETNS=1` and no
    /// namespaces can be made). Panics when they cannot be made and skipping was not asked for.
    fn new() -> Option<TwoHosts> {
        static N: AtomicU32 = AtomicU32::new(0);
        // Unique per test process and test; veth names have at most 15 characters.
        let tag = format!(
            "{}{}",
            std::process::id() % 10_000_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        let hosts = TwoHosts {
            a: format!("nlhost{tag}a"),
            b: format!("nlhost{tag}b"),
            veth_a: format!("nl{tag}a"),
        };
        let veth_b = format!("nl{tag}b");
        let made = (|| {
            ip(&["netns", "add", &hosts.a])?;
            ip(&["netns", "add", &hosts.b])?;
            ip(&[
                "link",
                "add",
                &hosts.veth_a,
                "netns",
                &hosts.a,
                "type",
                "veth",
                "peer",
                "name",
                &veth_b,
                "netns",
                &hosts.b,
            ])?;
            for (ns, dev, addr) in [
                (&hosts.a, &hosts.veth_a, ADDR_A),
                (&hosts.b, &veth_b, ADDR_B),
            ] {
                ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
                ip(&["-n", ns, "link", "set", dev, "up"])?;
                ip(&["-n", ns, "link", "set", "lo", "up"])?;
            }
            Ok::<(), String>(())
        })();
        match made {
            Ok(()) => Some(hosts),
            Err(e) if std::env::var("NEUROLOOP_NO_NETNS").is_ok_and(|v| v == "1") => {
                drop(hosts);
                eprintln!(
                    "SKIPPED on purpose (NEUROLOOP_NO_NETNS=1): network namespaces cannot be made here: {e}"
                );
                None
            }
            Err(e) => panic!(
                "cannot make the two network namespaces of this test (it needs root, as in CI): {e}\n\
                 set NEUROLOOP_NO_NETNS=1 to skip the tests of tests/hosts.rs"
            ),
        }
    }

    /// The pids of the processes in namespace `ns`.
    fn pids(ns: &str) -> Vec<u32> {
        let out = Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .expect("run ip netns pids");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Waits up to `grace` for both namespaces to hold no process; panics naming what is left.
    fn assert_empty(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        loop {
            let left: Vec<(String, u32, String)> = [&self.a, &self.b]
                .into_iter()
                .flat_map(|ns| {
                    TwoHosts::pids(ns).into_iter().map(move |p| {
                        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                        (ns.clone(), p, cmd)
                    })
                })
                .collect();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processes left in the namespaces after {grace:?}: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ip netns exec NS PROGRAM ARGS...` with its output captured (`ip netns exec` execs the program:
    /// the process is the program itself).
    fn spawn(ns: &str, program: &str, args: &[&str]) -> Proc {
        let mut all = vec!["netns", "exec", ns, program];
        all.extend_from_slice(args);
        Proc::spawn("ip", &all)
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            for p in TwoHosts::pids(ns) {
                // SAFETY: kill(2) on a process of this test's own namespace.
                unsafe {
                    libc::kill(p as i32, libc::SIGKILL);
                }
            }
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// The coordinator of `tests/external_controller.toml` in namespace A, listening on A's address, with
/// `extra` overrides; returns it once the variables for the external controller are written.
fn start_coordinator(
    hosts: &TwoHosts,
    out: &Path,
    id: &str,
    extra: &[&str],
) -> (Proc, Vec<(String, String)>) {
    let file = experiment("tests/external_controller.toml");
    let listen = format!("zenoh.listen=\"tcp/{ADDR_A}:{PORT}\"");
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--run-id",
        id,
        "-q",
        "--set",
        &listen,
    ];
    args.extend_from_slice(extra);
    let mut coord = TwoHosts::spawn(&hosts.a, bin(), &args);
    // The coordinator writes the variables to start the external engine with before it waits.
    let vars = wait_until(Duration::from_secs(30), "external_engines.json", || {
        assert!(coord.running(), "the coordinator ended early");
        let text = std::fs::read_to_string(out.join("external_engines.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let env = v["controller"].as_object()?.clone();
        Some(
            env.into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect::<Vec<_>>(),
        )
    });
    (coord, vars)
}

/// The controller, started by hand in namespace B with the variables the coordinator gave.
fn start_controller(hosts: &TwoHosts, vars: &[(String, String)]) -> Proc {
    let mut args: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    args.extend([bin().to_string(), "engine".into(), "p_controller".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TwoHosts::spawn(&hosts.b, "env", &args)
}

#[test]
fn a_run_across_two_hosts_records_what_it_records_on_one() {
    let Some(hosts) = TwoHosts::new() else {
        return;
    };
    let tmp = tempdir();
    let out = tmp.path().join("across");
    let id = unique_run_id("hosts");
    let (coord, vars) = start_coordinator(&hosts, &out, &id, &[]);
    let connect = vars
        .iter()
        .find(|(k, _)| k == "NEUROLOOP_CONNECT")
        .map(|(_, v)| v.clone());
    assert_eq!(
        connect.as_deref(),
        Some(format!("tcp/{ADDR_A}:{PORT}").as_str())
    );
    let engine = start_controller(&hosts, &vars);
    let o = coord.wait(Duration::from_secs(120));
    o.expect_code(0).expect_no_panic();
    engine
        .wait(Duration::from_secs(20))
        .expect_code(0)
        .expect_no_panic();
    hosts.assert_empty(Duration::from_secs(5));
    assert_eq!(manifest(&out)["exit_status"], "ok");

    // The same experiment on one host, the controller started by the coordinator.
    let local = tmp.path().join("local");
    run_experiment(
        &experiment("tests/external_controller.toml"),
        &local,
        &unique_run_id("onehost"),
        &["--set", "engines.controller.external=false"],
    )
    .expect_code(0);
    for rec in ["plant.position", "controller.force"] {
        let (a, b) = (
            Table::read(&out.join(format!("{rec}.parquet"))),
            Table::read(&local.join(format!("{rec}.parquet"))),
        );
        assert_eq!(a.names, b.names, "{rec}");
        assert!(a.rows() > 0);
        for n in &a.names {
            assert_eq!(
                a.col(n),
                b.col(n),
                "{rec}: column {n} differs between the two runs"
            );
        }
    }
}

#[test]
fn a_cut_link_is_named_as_such_within_the_step_time_out() {
    let Some(hosts) = TwoHosts::new() else {
        return;
    };
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let id = unique_run_id("cut");
    let step_timeout_ms = 4000u64;
    let timeout = format!("run.step_timeout_ms={step_timeout_ms}");
    let (mut coord, vars) = start_coordinator(
        &hosts,
        &out,
        &id,
        &[
            "--realtime",
            "--set",
            "run.duration_ms=60000",
            "--set",
            &timeout,
        ],
    );
    // The engine announces a lease shorter than the step time-out (the coordinator says which).
    let lease: u64 = vars
        .iter()
        .find(|(k, _)| k == "NEUROLOOP_ZENOH_LEASE_MS")
        .and_then(|(_, v)| v.parse().ok())
        .expect("NEUROLOOP_ZENOH_LEASE_MS among the variables for the external engine");
    assert!(lease < step_timeout_ms, "lease {lease} ms");
    let engine = start_controller(&hosts, &vars);
    // Stepping across the link: the first recording part is written about a second into the run.
    let parts = out.join(".parts").join("plant.position");
    wait_until(Duration::from_secs(30), "the first recording part", || {
        assert!(coord.running(), "the coordinator ended early");
        std::fs::read_dir(&parts)
            .ok()?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(coord.running(), "the run ended before the cut");
    ip(&["-n", &hosts.a, "link", "set", &hosts.veth_a, "down"]).expect("cut the link");
    let cut = Instant::now();
    let o = coord.wait(Duration::from_secs(60));
    let stopped_after = cut.elapsed();
    o.expect_code(1)
        .expect_no_panic()
        .expect_stderr("engine 'controller'")
        .expect_stderr("lost its connection to the coordinator");
    assert!(
        !o.stderr.contains("hangs"),
        "the cut link was taken for a hanging engine:\n{}",
        o.stderr
    );
    eprintln!(
        "the coordinator stopped {:.2} s after the cut (step time-out {step_timeout_ms} ms, engine lease {lease} ms)",
        stopped_after.as_secs_f64()
    );
    assert!(
        stopped_after < Duration::from_millis(step_timeout_ms),
        "the coordinator stopped {stopped_after:?} after the cut, beyond the step time-out of {step_timeout_ms} ms:\n{}",
        o.stderr
    );

    // The recordings up to the cut are there and readable.
    let m = manifest(&out);
    assert_eq!(m["exit_status"], "error");
    assert!(m["error"]
        .as_str()
        .unwrap_or("")
        .contains("lost its connection"));
    let reached = m["duration_ms"].as_f64().unwrap();
    assert!(
        reached > 500.0 && reached < 60_000.0,
        "reached {reached} ms"
    );
    for rec in ["plant.position", "controller.force"] {
        let t = Table::read(&out.join(format!("{rec}.parquet")));
        assert!(t.rows() > 100, "{rec}: {} rows", t.rows());
        let last = *t.col("t_ms").last().unwrap();
        assert!(
            (last - reached).abs() <= 2.0,
            "{rec}: last row at {last} ms, the run reached {reached} ms"
        );
    }
    assert!(!out.join(".parts").exists(), "part files were left");

    // The controller, cut off, gives up on the coordinator by itself (its lease: the coordinator's).
    let e = engine.wait(Duration::from_secs(30));
    assert_eq!(
        e.code,
        Some(75),
        "the controller should exit with the coordinator-gone status:\n{}",
        e.stderr
    );
    hosts.assert_empty(Duration::from_secs(5));
}
