//! Benchmark (not a test): control steps per second of one native limb (the body engine stepped
//! in-process, as `neuroloop_gym_native.Limbs.step` does from Python, without Python), next to the body
//! alone (`Body::step`, the physics and muscles without the engine's inputs and outputs) in the same
//! invocation, alternating round by round; also prints a fingerprint (FNV-1a of every bit of every
//! row) so that two builds can be checked to give the same results.
//!
//! Usage: `cargo run --release -p neuroloop-gym-native --example limb_step_rate -- [simulated_s (5)]
//! [rounds (3)] [control_step_ms (10)]`

use std::time::Instant;

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
        let t0 = Instant::now();
        for k in 0..n_steps {
            excitation(k, step_ms, &mut u);
            limbs.step(&u, &mut row).expect("step");
            for &x in &row {
                fnv(&mut hash, x);
            }
        }
        limb_us.push(t0.elapsed().as_secs_f64() / n_steps as f64 * 1e6);

        let mut body = Body::new(
            WorldSpec::load(std::path::Path::new(world)).expect("world"),
            1e-3,
        )
        .expect("body");
        let torques = vec![0.0; body.joints().len()];
        let t0 = Instant::now();
        for k in 0..n_steps {
            excitation(k, step_ms, &mut u);
            for _ in 0..step_ms {
                body.step(&u, &torques).expect("body step");
            }
        }
        body_us.push(t0.elapsed().as_secs_f64() / n_steps as f64 * 1e6);
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    let (l, b) = (best(&limb_us), best(&body_us));
    println!(
        "{rounds} rounds of {sim_s} s simulated, control step {step_ms} ms (best round; wall time):"
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
