//! Benchmark (not a test): physics + muscle step rate of the shipped forelimb world at a 1 ms step,
//! driven by changing muscle excitations, and its ratio to real time. In the same invocation it runs a
//! peer: the same world with rapier's usual way of buying accuracy, 8 solver substeps of one
//! Gauss-Seidel pass each (the setting shipped before), and prints the ratio between the two, with the
//! grip loop's worst opening for each (how much accuracy each buys).
//!
//! Usage: `cargo run --release -p neuroloop-body --example body_step_rate -- [simulated_s] [step_ms]
//! [rounds]` (defaults 4 s per round, 1 ms, 5 rounds; the two settings alternate round by round).

use neuroloop_body::physics::Body;
use neuroloop_body::world::WorldSpec;

/// CPU seconds per step, wall seconds per step and the worst loop gap (m) of `sim_s` simulated seconds.
fn run(spec: WorldSpec, sim_s: f64, dt: f64) -> Result<(f64, f64, f64), String> {
    let mut body = Body::new(spec, dt).map_err(|e| e.to_string())?;
    let js = body
        .spec()
        .body_index(&body.spec().joystick.body.clone())
        .ok_or("no joystick body")?;
    let n = (sim_s / dt).round() as u64;
    let torques = vec![0.0; body.joints().len()];
    let mut u = vec![0.0; body.muscles().len()];
    let mut gap = 0.0f64;
    let t0 = std::time::Instant::now();
    let cpu0 = cpu_time_s();
    for k in 0..n {
        // A slow sweep through the muscles (each one 0.25 s on, half strength).
        let t = k as f64 * dt;
        for (m, x) in u.iter_mut().enumerate() {
            let phase = (t * 4.0 - m as f64).rem_euclid(8.0);
            *x = if phase < 1.0 { 0.5 } else { 0.02 };
        }
        body.step(&u, &torques).map_err(|e| e.to_string())?;
        gap = gap.max((body.paw_grip_m() - body.pose(js).translation).length());
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_time_s() - cpu0;
    Ok((cpu / n as f64, wall / n as f64, gap))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: body_step_rate [simulated_s per round (4)] [step_ms (1)] [rounds (5)]");
        return;
    }
    let sim_s: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let step_ms: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let dt = step_ms * 1e-3;
    let shipped = WorldSpec::mouse_forelimb_joystick();
    let mut peer = shipped.clone();
    peer.physics.solver_iterations = 8;
    peer.physics.pgs_iterations = 1;
    let configs = [
        (
            format!(
                "shipped world ({} substep x {} passes)",
                shipped.physics.solver_iterations, shipped.physics.pgs_iterations
            ),
            shipped,
        ),
        ("peer: 8 substeps x 1 pass".to_string(), peer),
    ];
    println!(
        "{rounds} rounds of {sim_s} s simulated at {step_ms} ms per step, one core, the two settings \
         alternating (CPU time per step: best and median round; on a shared machine the best round is \
         the least disturbed):"
    );
    // cpu[c][r]: CPU seconds per step of config c in round r.
    let mut cpu = vec![Vec::new(); configs.len()];
    let mut gap = vec![0.0f64; configs.len()];
    for _ in 0..rounds {
        for (c, (label, spec)) in configs.iter().enumerate() {
            match run(spec.clone(), sim_s, dt) {
                Ok((cpu_s, _wall_s, g)) => {
                    cpu[c].push(cpu_s);
                    gap[c] = gap[c].max(g);
                }
                Err(e) => {
                    eprintln!("{label}: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    let mut best = Vec::new();
    for (c, (label, _)) in configs.iter().enumerate() {
        let mut v = cpu[c].clone();
        v.sort_by(f64::total_cmp);
        let (b, med) = (v[0], v[v.len() / 2]);
        println!(
            "  {label:<38} best {:5.1} us/step = {:5.1}x real time; median {:5.1} us/step = {:5.1}x; loop gap <= {:.1} um",
            b * 1e6,
            dt / b,
            med * 1e6,
            dt / med,
            gap[c] * 1e6
        );
        best.push(b);
    }
    println!("  peer / shipped, best rounds: {:.2}x", best[1] / best[0]);
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
