//! `neuroloop bench`: benchmarks that print ratios against a peer measured in the same invocation.
//!
//! `bench coupling` measures the lockstep overhead per step with 1 and with 4 no-op engine processes
//! (exchanging 8-channel analog vectors and 4-spike batches along a ring of links), beside a raw
//! two-process zenoh ping-pong with the same session configuration: the floor any lockstep over zenoh
//! pays once per step. With lookahead windows (every link `W` ms late, engines exchange every `W` ms)
//! it sweeps `W` and prints the coupling time per simulated ms against the exchange at every step.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use zenoh::qos::CongestionControl;
use zenoh::Wait;

use neuroloop_run::{self as coordinator, percentiles_us, RunOptions};

/// Which benchmark.
#[derive(clap::Subcommand, Debug)]
pub enum Which {
    /// Lockstep overhead per step vs a raw zenoh round trip.
    Coupling {
        /// Steps (and ping-pong round trips) per measurement.
        #[arg(long, default_value_t = 20000)]
        steps: u64,
        /// Transport: `tcp` (loopback TCP, the default of runs) or `unix` (unix-domain sockets).
        #[arg(long, default_value = "tcp", value_parser = ["tcp", "unix"])]
        transport: String,
        /// Engine counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        engines: Vec<usize>,
        /// Use zenoh's low-latency transport (`[zenoh] lowlatency = true` in an experiment).
        #[arg(long)]
        lowlatency: bool,
        /// Exchange windows to sweep, in ms (every link that late).
        #[arg(long, value_delimiter = ',', default_value = "1,2,5,10")]
        windows: Vec<u32>,
    },
}

/// Runs a benchmark and prints its table.
pub fn run(which: Which) -> anyhow::Result<()> {
    match which {
        Which::Coupling {
            steps,
            engines,
            transport,
            lowlatency,
            windows,
        } => coupling(steps, &engines, &transport, lowlatency, &windows),
    }
}

/// A fresh endpoint of the chosen transport on this machine.
fn endpoint(transport: &str) -> anyhow::Result<String> {
    Ok(match transport {
        "unix" => format!(
            "unixsock-stream/{}",
            std::env::temp_dir()
                .join(format!(
                    "neuroloop-bench-{}.sock",
                    coordinator::new_run_id()
                ))
                .display()
        ),
        _ => neuroloop_transport::free_tcp_endpoint()?,
    })
}

fn coupling(
    steps: u64,
    counts: &[usize],
    transport: &str,
    lowlatency: bool,
    windows: &[u32],
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mode = if lowlatency {
        "low-latency transport"
    } else {
        "default transport"
    };
    println!("neuroloop bench coupling: {steps} steps per measurement, {cores} cores, {transport} on loopback, zenoh peer mode, {mode}");
    let (rtt50, rtt99) = ping_pong(steps, transport, lowlatency).context("raw zenoh ping-pong")?;
    println!(
        "{:<44} {:>10} {:>10} {:>14} {:>16} {:>12}",
        "measurement", "p50 us", "p99 us", "p50 / raw RTT", "us per sim. ms", "vs window 1"
    );
    println!(
        "{:<44} {:>10.1} {:>10.1} {:>14}",
        "raw zenoh round trip (2 processes)", rtt50, rtt99, "1.00"
    );
    for &n in counts {
        let mut per_ms_1 = f64::NAN;
        for &w in windows {
            let (p50, p99, per_ms) = lockstep(n, steps, transport, lowlatency, w.max(1))
                .with_context(|| format!("lockstep with {n} engines, window {w} ms"))?;
            if w <= 1 {
                per_ms_1 = per_ms;
            }
            let label = format!(
                "lockstep, {n} engine{}, exchange every {w} ms",
                if n == 1 { "" } else { "s" }
            );
            println!(
                "{:<44} {:>10.1} {:>10.1} {:>14.2} {:>16.1} {:>12.3}",
                label,
                p50,
                p99,
                p50 / rtt50,
                per_ms,
                per_ms / per_ms_1
            );
        }
    }
    Ok(())
}

/// A ring of `n` no-op engines (for one engine, a loop onto itself), every link `window` ms late, run
/// for `steps` base steps of 1 ms as fast as possible, without recording. Returns the coupling
/// overhead per exchange (p50, p99) and per simulated ms (mean), in us.
fn lockstep(
    n: usize,
    steps: u64,
    transport: &str,
    lowlatency: bool,
    window: u32,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut text =
        format!("[run]\nname = \"bench\"\nduration_ms = {steps}\nstep_timeout_ms = 30000\n[zenoh]\nlisten = {:?}\nlowlatency = {lowlatency}\n", endpoint(transport)?);
    for i in 0..n {
        text.push_str(&format!(
            "[engines.noop{i}]\nkind = \"noop\"\nstep_ms = 1\n"
        ));
    }
    for i in 0..n {
        let j = (i + 1) % n;
        text.push_str(&format!(
            "[[links]]\nfrom = \"noop{i}.analog_out\"\nto = \"noop{j}.analog_in\"\ndelay_ms = {window}\n"
        ));
        text.push_str(&format!(
            "[[links]]\nfrom = \"noop{i}.spikes_out\"\nto = \"noop{j}.spikes_in\"\ndelay_ms = {window}\n"
        ));
    }
    let exp = neuroloop_core::experiment::load_str(&text, None, &[], &neuroloop::catalog::Builtins)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = RunOptions {
        no_recording: true,
        keep_step_times: true,
        ..Default::default()
    };
    let (report, error) = coordinator::run(&exp, &opts);
    if let Some(e) = error {
        bail!("{e}");
    }
    // Leave out the first 5% (start-up transients), as the ping-pong leaves out its warm-up.
    let rounds = &report.overhead_ns[report.overhead_ns.len() / 20..];
    let (p50, p99) = percentiles_us(rounds);
    let mean_us = rounds.iter().sum::<u64>() as f64 / rounds.len().max(1) as f64 / 1000.0;
    Ok((p50, p99, mean_us / f64::from(report.window_steps.max(1))))
}

fn ping_key(run: &str) -> String {
    format!("neuroloop/{run}/bench/ping")
}

fn pong_key(run: &str) -> String {
    format!("neuroloop/{run}/bench/pong")
}

/// Round trips to a `bench-pong` process: (p50, p99) in us.
fn ping_pong(rounds: u64, transport: &str, lowlatency: bool) -> anyhow::Result<(f64, f64)> {
    let run = coordinator::new_run_id();
    let listen = endpoint(transport)?;
    let session = zenoh::open(neuroloop_transport::zenoh_config(
        std::slice::from_ref(&listen),
        &[],
        lowlatency,
    )?)
    .wait()
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tx, rx) = channel::<Vec<u8>>();
    let _sub = session
        .declare_subscriber(pong_key(&run))
        .callback(move |s| {
            let _ = tx.send(s.payload().to_bytes().into_owned());
        })
        .wait()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let publisher = session
        .declare_publisher(ping_key(&run))
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .args(["bench-pong", "--run-id", &run, "--connect", &listen])
        .env(
            "NEUROLOOP_ZENOH_LOWLATENCY",
            if lowlatency { "1" } else { "0" },
        )
        .stdin(std::process::Stdio::null())
        .spawn()
        .context("starting bench-pong")?;
    let result = (|| {
        // Warm up until the echo answers (its routes may take a moment to settle).
        let deadline = Instant::now() + Duration::from_secs(20);
        let payload = vec![0u8; 64];
        let mut answered = 0;
        while answered < 1000 {
            publisher
                .put(payload.as_slice())
                .wait()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                answered += 1;
            }
            if Instant::now() > deadline {
                bail!("the echo process did not answer within 20 s");
            }
        }
        while rx.try_recv().is_ok() {}
        let mut rtt = Vec::with_capacity(rounds as usize);
        let spin = neuroloop_transport::spin_time();
        for _ in 0..rounds {
            let t = Instant::now();
            publisher
                .put(payload.as_slice())
                .wait()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            // Poll for `spin` first, as the coordinator does with NEUROLOOP_SPIN_US.
            let spin_until = t + spin;
            let mut got = false;
            while !got && Instant::now() < spin_until {
                got = rx.try_recv().is_ok();
                std::hint::spin_loop();
            }
            if !got {
                rx.recv_timeout(Duration::from_secs(5))
                    .context("echo lost")?;
            }
            rtt.push(t.elapsed().as_nanos() as u64);
        }
        Ok(percentiles_us(&rtt))
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The echo side of the ping-pong: answers every ping with the same bytes, right in zenoh's receive
/// callback (as zenoh's own `z_pong` does), until its parent is gone.
pub fn pong(run: &str, connect: &str) -> anyhow::Result<()> {
    let session = zenoh::open(neuroloop_transport::zenoh_config(
        &[],
        &[connect.to_string()],
        neuroloop_transport::lowlatency_from_env(),
    )?)
    .wait()
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let publisher = session
        .declare_publisher(pong_key(run))
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let _sub = session
        .declare_subscriber(ping_key(run))
        .callback(move |s| {
            let _ = publisher.put(s.payload().clone()).wait();
        })
        .wait()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    // SAFETY: as above.
    while unsafe { libc::getppid() } == parent {
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}
