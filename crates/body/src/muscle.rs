//! Hill-type muscles: activation dynamics and the force curves.
//!
//! Source: De Groote, Kinney, Rao & Fregly (2016), "Evaluation of direct collocation optimal control
//! problem formulations for solving the muscle redundancy problem", Ann. Biomed. Eng. 44:2922 (closed-form
//! curves, Supplementary eqs. S1-S4), with OpenSim 3.3's first-order activation dynamics (Thelen 2003 /
//! Millard 2012: tau = tau_act (0.5 + 1.5 a) when u > a, else tau_deact / (0.5 + 1.5 a)).
//!
//! Simplifications, stated: the tendon is rigid (fiber length = path length - tendon slack length),
//! pennation is 0 (as in the RoboBrain model), and the passive curve's strain at one normalized force is
//! a parameter (0.7 in the reference, De Groote's 0.6 otherwise). Force
//! F = F_max (a f_L(l) f_V(v) + f_PE(l) + beta v), clamped at 0 (a muscle only pulls), where l is the
//! fiber length over the optimal one and v the lengthening velocity over v_max = 10 l_opt/s.

use crate::world::MuscleSpec;

/// Active force-length multiplier f_L(l) (De Groote 2016, sum of three Gaussian-like terms); 1.0 at l = 1
/// (to 1e-3).
pub fn active_force_length(l: f64) -> f64 {
    const B: [[f64; 4]; 3] = [
        [
            0.814_483_478_343_008,
            1.055_033_428_970_575,
            0.162_384_573_599_574,
            0.063_303_448_465_465,
        ],
        [
            0.433_004_984_392_647,
            0.716_775_413_397_760,
            -0.029_947_116_970_696,
            0.200_356_847_296_188,
        ],
        [0.1, 1.0, 0.353_553_390_593_274, 0.0],
    ];
    B.iter()
        .map(|[b1, b2, b3, b4]| {
            let w = b3 + b4 * l;
            b1 * (-0.5 * (l - b2) * (l - b2) / (w * w)).exp()
        })
        .sum()
}

/// Passive fiber force-length f_PE(l) = (exp(k (l - 1) / e0) - 1) / (exp(k) - 1), k = 4 (De Groote
/// 2016); 0 at l = 1, 1 at l = 1 + e0; 0 below l = 1 (a slack fiber carries no passive force).
pub fn passive_force_length(l: f64, strain_at_one: f64) -> f64 {
    const K: f64 = 4.0;
    if l <= 1.0 {
        return 0.0;
    }
    ((K * (l - 1.0) / strain_at_one).exp() - 1.0) / (K.exp() - 1.0)
}

/// Force-velocity multiplier f_V(v), v = lengthening velocity in units of v_max (negative: shortening);
/// f_V(0) = 1, f_V(-1) ~ 0, rising to ~1.8 when lengthening fast (De Groote 2016, eq. S3).
pub fn force_velocity(v: f64) -> f64 {
    const D1: f64 = -0.318_323_436_899_127;
    const D2: f64 = -8.149_156_043_475_25;
    const D3: f64 = -0.374_121_508_647_863;
    const D4: f64 = 0.885_644_059_915_004;
    let x = D2 * v + D3;
    (D1 * (x + (x * x + 1.0).sqrt()).ln() + D4).max(0.0)
}

/// The activation time constant at activation `a` for excitation `u` (OpenSim 3.3), s.
pub fn activation_time_constant(u: f64, a: f64, tau_act_s: f64, tau_deact_s: f64) -> f64 {
    if u > a {
        tau_act_s * (0.5 + 1.5 * a)
    } else {
        tau_deact_s / (0.5 + 1.5 * a)
    }
}

/// Constants of one muscle, from its [`MuscleSpec`].
#[derive(Clone, Debug, PartialEq)]
pub struct MuscleParams {
    /// F_max, N.
    pub max_isometric_force_n: f64,
    /// Optimal fiber length, m.
    pub optimal_fiber_length_m: f64,
    /// Tendon slack length, m.
    pub tendon_slack_length_m: f64,
    /// v_max in optimal lengths per s.
    pub max_contraction_velocity_per_s: f64,
    /// beta, normalized.
    pub fiber_damping: f64,
    /// Passive strain at one normalized force.
    pub passive_strain: f64,
    /// Activation time constant, s.
    pub tau_act_s: f64,
    /// Deactivation time constant, s.
    pub tau_deact_s: f64,
    /// Floor of excitation and activation.
    pub min_activation: f64,
}

impl From<&MuscleSpec> for MuscleParams {
    fn from(m: &MuscleSpec) -> Self {
        MuscleParams {
            max_isometric_force_n: m.max_isometric_force_n,
            optimal_fiber_length_m: m.optimal_fiber_length_m,
            tendon_slack_length_m: m.tendon_slack_length_m,
            max_contraction_velocity_per_s: m.max_contraction_velocity_per_s,
            fiber_damping: m.fiber_damping,
            passive_strain: m.passive_strain_at_one_norm_force,
            tau_act_s: m.activation_time_constant_s,
            tau_deact_s: m.deactivation_time_constant_s,
            min_activation: m.minimum_activation,
        }
    }
}

impl MuscleParams {
    /// Advances the activation `a` over `dt_s` with excitation `u` held: the exponential (exact for a
    /// frozen time constant) update a' = u + (a - u) exp(-dt / tau(u, a)), stable for any step.
    pub fn advance_activation(&self, a: f64, u: f64, dt_s: f64) -> f64 {
        let lo = self.min_activation;
        let u = u.clamp(lo, 1.0);
        let a = a.clamp(lo, 1.0);
        let tau = activation_time_constant(u, a, self.tau_act_s, self.tau_deact_s);
        (u + (a - u) * (-dt_s / tau).exp()).clamp(lo, 1.0)
    }

    /// Tendon force in N for path length `length_m`, lengthening velocity `velocity_m_per_s` and
    /// activation `a` (rigid tendon, zero pennation).
    pub fn force_n(&self, length_m: f64, velocity_m_per_s: f64, a: f64) -> f64 {
        let l = self.norm_fiber_length(length_m);
        let v =
            velocity_m_per_s / (self.max_contraction_velocity_per_s * self.optimal_fiber_length_m);
        let f = a * active_force_length(l) * force_velocity(v)
            + passive_force_length(l, self.passive_strain)
            + self.fiber_damping * v;
        (self.max_isometric_force_n * f).max(0.0)
    }

    /// Fiber length over the optimal fiber length, for a path length.
    pub fn norm_fiber_length(&self, length_m: f64) -> f64 {
        (length_m - self.tendon_slack_length_m) / self.optimal_fiber_length_m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_force_length_peaks_at_one() {
        // De Groote 2016: the curve is normalized to ~1 at the optimal length.
        assert!((active_force_length(1.0) - 1.0).abs() < 2e-3);
        let (mut best_l, mut best) = (0.0, 0.0);
        for i in 0..=2000 {
            let l = 0.4 + i as f64 * 0.0005;
            if active_force_length(l) > best {
                best = active_force_length(l);
                best_l = l;
            }
        }
        assert!((best_l - 1.0).abs() < 0.05, "peak at {best_l}");
        // It fits the same data as Millard's curve, which is zero below 0.44 and above 1.81 (OpenSim
        // defaults in the reference): small there, a plateau near 1.
        assert!(active_force_length(0.44) < 0.05);
        assert!(active_force_length(1.81) < 0.05);
        assert!(active_force_length(0.95) > 0.97 && active_force_length(1.05) > 0.97);
        // Steeper ascending than descending limb, as in Gordon et al. (1966).
        assert!(active_force_length(0.6) < active_force_length(1.4));
    }

    #[test]
    fn passive_force_length_hits_its_anchor_points() {
        assert_eq!(passive_force_length(0.9, 0.7), 0.0);
        assert!(passive_force_length(1.0, 0.7).abs() < 1e-12);
        assert!((passive_force_length(1.7, 0.7) - 1.0).abs() < 1e-12);
        assert!((passive_force_length(1.6, 0.6) - 1.0).abs() < 1e-12);
        assert!(passive_force_length(1.35, 0.7) < 0.2);
    }

    #[test]
    fn force_velocity_matches_the_published_values() {
        assert!((force_velocity(0.0) - 1.0).abs() < 3e-3);
        assert!(force_velocity(-1.0) < 0.02);
        // Hill's hyperbola near half speed: ~0.15-0.25 of isometric force.
        assert!(
            (0.1..0.3).contains(&force_velocity(-0.5)),
            "{}",
            force_velocity(-0.5)
        );
        assert!(
            (1.7..1.9).contains(&force_velocity(1.0)),
            "{}",
            force_velocity(1.0)
        );
        let mut prev = 0.0;
        for i in 0..=200 {
            let f = force_velocity(-1.0 + i as f64 * 0.01);
            assert!(f >= prev);
            prev = f;
        }
    }

    fn params() -> MuscleParams {
        MuscleParams {
            max_isometric_force_n: 1.0,
            optimal_fiber_length_m: 0.006,
            tendon_slack_length_m: 0.0006,
            max_contraction_velocity_per_s: 10.0,
            fiber_damping: 0.1,
            passive_strain: 0.7,
            tau_act_s: 0.010,
            tau_deact_s: 0.040,
            min_activation: 0.01,
        }
    }

    /// Activation rise under u = 1 from a0: da/dt = (1 - a) / (tau_act (0.5 + 1.5 a)) integrates to
    /// t(a) = tau_act [2 ln((1 - a0)/(1 - a)) - 1.5 (a - a0)].
    #[test]
    fn activation_rise_follows_the_closed_form() {
        let p = params();
        let a0: f64 = 0.01;
        for &dt in &[1e-3, 5e-4, 2e-3] {
            for &target in &[0.5, 0.9, 0.99] {
                let t_exact =
                    0.010 * (2.0 * ((1.0 - a0) / (1.0 - target)).ln() - 1.5 * (target - a0));
                let mut a = a0;
                let mut t = 0.0;
                while a < target {
                    a = p.advance_activation(a, 1.0, dt);
                    t += dt;
                }
                // Crossing time is known to one step plus the first-order error of freezing tau.
                let err = (t - t_exact).abs();
                assert!(
                    err < 1.5 * dt + 0.06 * t_exact,
                    "dt {dt} target {target}: {t} vs {t_exact}"
                );
            }
        }
    }

    /// Deactivation from 1 to u = 0.01: da/dt = -(a - 0.01)(0.5 + 1.5 a)/tau_deact; partial fractions give
    /// t(a) = tau_deact / (0.5 + 0.015) ln[(a0 - 0.01)(0.5 + 1.5 a) / ((a - 0.01)(0.5 + 1.5 a0))].
    #[test]
    fn deactivation_follows_the_closed_form() {
        let p = params();
        let c = 0.5 + 1.5 * 0.01;
        let t_of =
            |a: f64| 0.040 / c * (((1.0 - 0.01) * (0.5 + 1.5 * a)) / ((a - 0.01) * 2.0)).ln();
        let mut a: f64 = 1.0;
        let dt = 1e-4;
        let mut t = 0.0;
        for &target in &[0.5, 0.2, 0.05] {
            while a > target {
                a = p.advance_activation(a, 0.0, dt);
                t += dt;
            }
            let te = t_of(target);
            assert!((t - te).abs() < 0.01 * te + dt, "{target}: {t} vs {te}");
        }
    }

    #[test]
    fn force_combines_the_curves() {
        let p = params();
        let l_opt_path = 0.006 + 0.0006;
        assert!(
            (p.force_n(l_opt_path, 0.0, 1.0) - active_force_length(1.0) * force_velocity(0.0))
                .abs()
                < 1e-12
        );
        // Slack, inactive, shortening: no push.
        assert_eq!(p.force_n(0.004, -0.05, 0.01), 0.0);
        // Damping adds beta * v when lengthening at the optimal length.
        let v = 0.006; // 0.1 v_max
        let f = p.force_n(l_opt_path, v, 0.5);
        let expect = 0.5 * active_force_length(1.0) * force_velocity(0.1) + 0.1 * 0.1;
        assert!((f - expect).abs() < 1e-12);
    }
}
