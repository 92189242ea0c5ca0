//! Benchmark (not a test): physics + muscle step rate of the shipped forelimb world at a 1 ms step,
//! driven by changing muscle excitations, and its ratio to real time.
//!
//! Usage: `cargo run --release -p neuroloop-body --example body_step_rate -- [simulated_s] [step_ms]`
//! (defaults 20 s, 1 ms).

use std::time::Instant;

use neuroloop_body::physics::Body;
use neuroloop_body::world::WorldSpec;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: body_step_rate [simulated_s (20)] [step_ms (1)]");
        return;
    }
    let sim_s: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let step_ms: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let dt = step_ms * 1e-3;
    let mut body = match Body::new(WorldSpec::mouse_forelimb_joystick(), dt) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let n = (sim_s / dt).round() as u64;
    let torques = vec![0.0; body.joints().len()];
    let mut u = [0.0; 8];
    let t0 = Instant::now();
    let cpu0 = cpu_time_s();
    for k in 0..n {
        // A slow sweep through the muscles (each one 0.25 s on, half strength).
        let t = k as f64 * dt;
        for (m, x) in u.iter_mut().enumerate() {
            let phase = (t * 4.0 - m as f64).rem_euclid(8.0);
            *x = if phase < 1.0 { 0.5 } else { 0.02 };
        }
        if let Err(e) = body.step(&u, &torques) {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_time_s() - cpu0;
    println!(
        "{n} steps of {step_ms} ms ({sim_s} s simulated): wall {wall:.3} s = {:.1} us/step = {:.1}x real time; \
         CPU {cpu:.3} s = {:.1} us/step = {:.1}x real time on one core",
        wall / n as f64 * 1e6,
        sim_s / wall,
        cpu / n as f64 * 1e6,
        sim_s / cpu
    );
}

/// User + system CPU time of this process, s (independent of other load on a shared machine).
fn cpu_time_s() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
