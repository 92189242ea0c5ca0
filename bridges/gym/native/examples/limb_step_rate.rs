//! Benchmark (not a test): CPU time per control step of one native limb (the body engine stepped
//! in-process, as `neuroloop_gym_native.Limbs.step` does from Python, without Python), next to the body
//! alone (`Body::step`, the physics and muscles without the engine's inputs and outputs) in the same
//! invocation, alternating round by round (CPU time of the process: on a shared machine the wall time
//! measures the other processes too; the best round is the least disturbed); also prints a fingerprint (FNV-1a of every bit of every
//! row) so that two builds can be checked to give the same results.
//!
//! Usage: `cargo run --release -p neuroloop-gym-native --example limb_step_rate -- [simulated_s (5)]
//! [rounds (3)] [control_step_ms (10)]`

use neuroloop_body::physics::Body;
use neuroloop_body::world::WorldSpec;
use neuroloop_gym_native::limbs::Limbs;

/// The excitations of control step `k`: a slow sweep through the muscles (as `body_step_rate`).
fn excitation(k: u64, step_ms: u32, u: &mut [f64]) {
    let t = k as f64 * f64::from(step_ms) * 1e-3;
    for (m, x) in u.iter_mut().enumerate() {
        let phase = (t * 4.0 - m as f64).rem_euclid(8.0);
        *x = if phase < 1.0 { 0.5 } else { 0.02 };
    }
}

/// CPU seconds used by this process (user + system).
fn cpu_time_s() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn fnv(h: &mut u64, x: f64) {
    for b in x.to_bits().to_le_bytes() {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: limb_step_rate [simulated_s (5)] [rounds (3)] [control_step_ms (10)]");
        return;
    }
    let sim_s: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let step_ms: u32 = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .max(1);
    let world = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../worlds/mouse_forelimb_joystick.toml"
    );
    let spec = serde_json::json!({
        "body": {"world_file": world, "clamp_excitations": true, "task": {"iti_ms": 0.0}},
        "control_step_ms": step_ms,
        "ports": ["joint_angles", "joint_velocities", "joystick_position_mm", "muscles", "task"],
        "initial_excitation": vec![0.0; 8],
    });
    let n_steps = (sim_s * 1e3 / f64::from(step_ms)).round() as u64;
    let mut limb_us = Vec::new();
    let mut body_us = Vec::new();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for _ in 0..rounds {
        let mut limbs =
            Limbs::new(serde_json::from_value(spec.clone()).expect("spec"), 1, 0).expect("limbs");
        let mut row = vec![0.0; limbs.row_len()];
        limbs.reset(0, 1, &mut row).expect("reset");
        let mut u = vec![0.0; 8];
        hash = 0xcbf2_9ce4_8422_2325;
        let mut rows = Vec::with_capacity(n_steps as usize * row.len());
        let t0 = cpu_time_s();
        for k in 0..n_steps {
            excitation(k, step_ms, &mut u);
            limbs.step(&u, &mut row).expect("step");
            rows.extend_from_slice(&row);
        }
        limb_us.push((cpu_time_s() - t0) / n_steps as f64 * 1e6);
        for &x in &rows {
            fnv(&mut hash, x);
        }

        let mut body = Body::new(
            WorldSpec::load(std::path::Path::new(world)).expect("world"),
            1e-3,
        )
        .expect("body");
        let torques = vec![0.0; body.joints().len()];
        let t0 = cpu_time_s();
        for k in 0..n_steps {
            excitation(k, step_ms, &mut u);
            for _ in 0..step_ms {
                body.step(&u, &torques).expect("body step");
            }
        }
        body_us.push((cpu_time_s() - t0) / n_steps as f64 * 1e6);
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let (l, b) = (best(&limb_us), best(&body_us));
    println!(
        "{rounds} rounds of {sim_s} s simulated, control step {step_ms} ms (best round; CPU time):"
    );
    println!(
        "  native limb (engine step + row): {l:8.1} us per control step = {:7.0} steps/s",
        1e6 / l
    );
    println!(
        "  body alone (Body::step x {step_ms}):   {b:8.1} us per control step = {:7.0} steps/s",
        1e6 / b
    );
    println!("  limb / body: {:.3}", l / b);
    println!("  fingerprint of the rows: {hash:016x}");
}
