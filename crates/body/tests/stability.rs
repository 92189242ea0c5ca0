//! Stability: the passive limb settles; random excitations at 0.5, 1 and 2 ms steps stay finite and
//! inside the joint limits with the loop closed; runs are bitwise deterministic. The 10-simulated-minute
//! run is `ten_minutes_of_random_excitation` (about 20 s: the body and rapier are built optimized in test
//! builds too, see the workspace Cargo.toml).

use neuroloop_body::physics::Body;
use neuroloop_body::world::{JointKind, WorldSpec};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

/// Steps `seconds` of random excitations (a new random level for each muscle every 50-200 ms) and
/// checks every step: finite state, joint limits (with 0.02 rad of solver slack), grip loop closed
/// to 50 um (the impulse joint closing the loop yields to ~25 um when joints hit their limits hard).
/// Returns the largest limit violation and loop gap seen.
fn random_run(dt: f64, seconds: f64, seed: u64) -> (f64, f64) {
    let mut body = Body::new(WorldSpec::mouse_forelimb_joystick(), dt).unwrap();
    let mut rng = Pcg64::seed_from_u64(seed);
    let nj = body.joints().len();
    let torques = vec![0.0; nj];
    let mut u = [0.0; 8];
    let mut next_change = [0.0f64; 8];
    let js = body.spec().body_index("joystick").unwrap();
    let (mut worst_limit, mut worst_gap) = (0.0f64, 0.0f64);
    let n = (seconds / dt).round() as u64;
    for k in 0..n {
        let t = k as f64 * dt;
        for m in 0..8 {
            if t >= next_change[m] {
                u[m] = if rng.random_bool(0.3) {
                    rng.random_range(0.0..1.0)
                } else {
                    0.0
                };
                next_change[m] = t + rng.random_range(0.05..0.2);
            }
        }
        body.step(&u, &torques)
            .unwrap_or_else(|e| panic!("dt {dt} t {t}: {e}"));
        for (j, info) in body.joints().iter().enumerate() {
            if info.kind != JointKind::Revolute {
                continue;
            }
            let q = body.joint_angle(j);
            assert!(q.is_finite(), "joint {} not finite at {t}", info.name);
            if let Some([lo, hi]) = info.limits {
                worst_limit = worst_limit.max(lo - q).max(q - hi);
            }
        }
        let gap = (body.paw_grip_m() - body.pose(js).translation).length();
        worst_gap = worst_gap.max(gap);
    }
    assert!(
        worst_limit < 0.02,
        "dt {dt}: a joint left its limits by {worst_limit} rad"
    );
    assert!(
        worst_gap < 50e-6,
        "dt {dt}: the grip loop opened by {} um",
        worst_gap * 1e6
    );
    (worst_limit, worst_gap)
}

#[test]
fn random_excitations_are_stable_at_1_ms() {
    random_run(1e-3, 4.0, 1);
}

#[test]
fn random_excitations_are_stable_at_half_and_two_ms() {
    random_run(0.5e-3, 1.5, 2);
    random_run(2e-3, 4.0, 3);
}

#[test]
fn ten_minutes_of_random_excitation() {
    let (limit, gap) = random_run(1e-3, 600.0, 4);
    println!(
        "worst limit excess {limit} rad, worst loop gap {} um",
        gap * 1e6
    );
}

/// With all muscles at minimum activation the limb under gravity comes to rest. The grip holds still
/// (the joystick's return spring), while the arm's redundant posture (the one degree of freedom that
/// moves the joints but not the grip) relaxes slowly, with a time constant of several seconds, because
/// muscles at 1% activation are barely stiff: the check is that this relaxation decelerates and stays
/// small, not that it is over within 4 s.
#[test]
fn passive_limb_settles_without_drift() {
    let mut body = Body::new(WorldSpec::mouse_forelimb_joystick(), 1e-3).unwrap();
    let nj = body.joints().len();
    let torques = vec![0.0; nj];
    let revolute: Vec<usize> = (0..nj)
        .filter(|&j| body.joints()[j].kind == JointKind::Revolute)
        .collect();
    let mut q_at = Vec::new();
    let mut grip_at = Vec::new();
    for _ in 0..4 {
        for _ in 0..1000 {
            body.step(&[0.0; 8], &torques).unwrap();
        }
        q_at.push(
            revolute
                .iter()
                .map(|&j| body.joint_angle(j))
                .collect::<Vec<f64>>(),
        );
        grip_at.push(body.joystick_position_mm());
    }
    for (k, &j) in revolute.iter().enumerate() {
        let name = &body.joints()[j].name;
        let d_early = (q_at[1][k] - q_at[0][k]).abs();
        let d_late = (q_at[3][k] - q_at[2][k]).abs();
        assert!(
            d_late <= d_early + 5e-4,
            "joint {name} is not settling: moved {d_early} rad in the 2nd second, {d_late} in the 4th"
        );
        assert!(
            d_late < 0.015,
            "joint {name} moved {d_late} rad in the 4th second"
        );
        assert!(
            body.joint_velocity(j).abs() < 0.02,
            "joint {name} still moves fast"
        );
    }
    let [x, y] = grip_at[3];
    assert!(
        x.abs() < 0.2 && y.abs() < 0.2,
        "the joystick sagged to ({x}, {y}) mm"
    );
    let drift = (grip_at[3][0] - grip_at[1][0]).hypot(grip_at[3][1] - grip_at[1][1]);
    assert!(
        drift < 0.02,
        "the grip drifted {drift} mm between 2 and 4 s"
    );
}

/// Same inputs, same outputs, bit for bit.
#[test]
fn runs_are_bitwise_deterministic() {
    let run = || {
        let mut body = Body::new(WorldSpec::mouse_forelimb_joystick(), 1e-3).unwrap();
        let mut rng = Pcg64::seed_from_u64(7);
        let torques = vec![0.0; body.joints().len()];
        let mut trace = Vec::new();
        for _ in 0..800 {
            let u: Vec<f64> = (0..8).map(|_| rng.random_range(0.0..0.6)).collect();
            body.step(&u, &torques).unwrap();
            for i in 0..body.spec().bodies.len() {
                let p = body.pose(i);
                trace.extend([
                    p.translation.x,
                    p.translation.y,
                    p.translation.z,
                    p.rotation.w,
                ]);
            }
            trace.extend(body.muscle_state().iter().map(|m| m.force_n));
        }
        trace.into_iter().map(f64::to_bits).collect::<Vec<u64>>()
    };
    assert!(run() == run(), "two identical runs differ");
}

/// The paw's pads and digits touch the handle when the muscles twist the paw about the grip: the
/// contacts are reported on paw shapes, near the grip, with positive normal forces.
#[test]
fn paw_contacts_are_reported() {
    let mut body = Body::new(WorldSpec::mouse_forelimb_joystick(), 1e-3).unwrap();
    let torques = vec![0.0; body.joints().len()];
    let paw_shapes: Vec<usize> = {
        let names = body.shape_names();
        (0..names.len()).filter(|&i| names[i] != "handle").collect()
    };
    let grip_in_paw = [0.0050004, -0.0003001, 0.0];
    let mut steps_with_contact = 0;
    for k in 0..2000 {
        // One muscle at a time at full excitation, 200 ms each.
        let mut u = [0.0; 8];
        u[(k / 200) % 8] = 1.0;
        body.step(&u, &torques).unwrap();
        if !body.contacts().is_empty() {
            steps_with_contact += 1;
        }
        for c in body.contacts() {
            assert!(
                paw_shapes.contains(&c.shape),
                "contact on shape {}",
                c.shape
            );
            assert!(c.normal_force_n > 0.0 && c.normal_force_n < 10.0, "{c:?}");
            let p = c.point_paw_m;
            let d = ((p.x - grip_in_paw[0]).powi(2) + (p.y - grip_in_paw[1]).powi(2) + p.z.powi(2))
                .sqrt();
            assert!(d < 2e-3, "contact {} mm from the grip", d * 1e3);
        }
    }
    assert!(
        steps_with_contact > 20,
        "only {steps_with_contact} steps had paw contacts"
    );
}
