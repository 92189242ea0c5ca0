//! Exact-integration propagators from a synaptic current onto the membrane potential, with the
//! `tau_m == tau_syn` singularity handled once, here.
//!
//! Source: Rotter & Diesmann (1999), exact integration; the numerics follow NEST 3.10's
//! `libnestutil/iaf_propagator.{h,cpp}` (`IAFPropagatorExp`, `IAFPropagatorAlpha`): the regular formula
//! is used while it gives a normal positive number, otherwise its limit `tau_syn -> tau_m`; see NEST's
//! "IAF Integration Singularity" notebook.

/// Propagators of the linear system `dV/dt = -V/tau_m + I/C_m` driven by a current with time constant
/// `tau_syn`, over one step `h`.
struct IafPropagator {
    tau_m: f64,
    c_m: f64,
    /// Smallest h for which the regular P31 formula is used.
    h_min_regular: f64,
    /// tau_syn tau_m / (tau_m - tau_syn); infinite if they are equal.
    beta: f64,
    /// beta / C_m.
    gamma: f64,
    inv_tau_syn: f64,
    /// (tau_m - tau_syn) / (tau_syn tau_m); zero if they are equal.
    inv_beta: f64,
}

/// What P32 leaves for P31: `(P32, exp(-h/tau_syn), expm1(h/beta), exp(-h/tau_m) if singular)`.
type P32Parts = (f64, f64, f64, Option<f64>);

impl IafPropagator {
    /// Scale factor of the singularity test for P31 (NEST's `NUMERICAL_STABILITY_FACTOR_`).
    const NUMERICAL_STABILITY_FACTOR: f64 = 1e-7;

    fn new(tau_syn: f64, tau_m: f64, c_m: f64) -> Self {
        let beta = tau_syn * tau_m / (tau_m - tau_syn);
        IafPropagator {
            tau_m,
            c_m,
            h_min_regular: Self::NUMERICAL_STABILITY_FACTOR * tau_m * tau_m
                / (tau_m - tau_syn).abs(),
            beta,
            gamma: beta / c_m,
            inv_tau_syn: 1.0 / tau_syn,
            inv_beta: (tau_m - tau_syn) / (tau_syn * tau_m),
        }
    }

    fn p32(&self, h: f64) -> P32Parts {
        let exp_h_tau_syn = (-h * self.inv_tau_syn).exp();
        let expm1_h_tau = (h * self.inv_beta).exp_m1();
        let p32 = self.gamma * exp_h_tau_syn * expm1_h_tau;
        if p32.is_normal() && p32 > 0.0 {
            (p32, exp_h_tau_syn, expm1_h_tau, None)
        } else {
            let exp_h_tau = (-h / self.tau_m).exp();
            (
                h / self.c_m * exp_h_tau,
                exp_h_tau_syn,
                expm1_h_tau,
                Some(exp_h_tau),
            )
        }
    }
}

/// Propagator from an exponential current `I` (time constant `tau_syn`, ms) to `V` (mV per pA) over one
/// step of `h` ms, for a membrane with `tau_m` (ms) and `c_m` (pF). At `tau_syn == tau_m` it is the limit
/// `h/C_m exp(-h/tau_m)`.
pub(crate) fn exp_p_vi(tau_syn: f64, tau_m: f64, c_m: f64, h: f64) -> f64 {
    IafPropagator::new(tau_syn, tau_m, c_m).p32(h).0
}

/// Propagators of an alpha current onto `V` over one step: `(P31, P32)`, from `dI/dt` (pA/ms) and from
/// `I` (pA) to `V` (mV). At `tau_syn == tau_m` they are the limits `h^2/(2 C_m) exp(-h/tau_m)` and
/// `h/C_m exp(-h/tau_m)`.
pub(crate) fn alpha_p_vdi_vi(tau_syn: f64, tau_m: f64, c_m: f64, h: f64) -> (f64, f64) {
    let prop = IafPropagator::new(tau_syn, tau_m, c_m);
    let (p32, exp_h_tau_syn, expm1_h_tau, exp_h_tau) = prop.p32(h);
    if h > prop.h_min_regular {
        let p31 = prop.gamma * exp_h_tau_syn * (prop.beta * expm1_h_tau - h);
        return (p31, p32);
    }
    let exp_h_tau = exp_h_tau.unwrap_or_else(|| (-h / prop.tau_m).exp());
    (0.5 * h * h / prop.c_m * exp_h_tau, p32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn regular_case_matches_the_closed_form() {
        let (ts, tm, c, h) = (2.0, 10.0, 250.0, 0.1);
        let p = exp_p_vi(ts, tm, c, h);
        let closed = ts * tm / (c * (tm - ts)) * ((-h / tm).exp() - (-h / ts).exp());
        assert!(rel(p, closed) < 1e-12, "{p} vs {closed}");
        let (p31, p32) = alpha_p_vdi_vi(ts, tm, c, h);
        assert_eq!(p32, p);
        // P31 = 1/C int_0^h s exp(-s/ts) exp(-(h-s)/tm) ds
        let k = 1.0 / ts - 1.0 / tm;
        let closed31 = (-h / tm).exp() / c * (1.0 - (-k * h).exp() * (1.0 + k * h)) / (k * k);
        assert!(rel(p31, closed31) < 1e-9, "{p31} vs {closed31}");
    }

    #[test]
    fn equal_time_constants_take_the_limit() {
        let (tau, c, h): (f64, f64, f64) = (10.0, 250.0, 0.1);
        let lim32 = h / c * (-h / tau).exp();
        let lim31 = 0.5 * h * h / c * (-h / tau).exp();
        assert_eq!(exp_p_vi(tau, tau, c, h), lim32);
        assert_eq!(alpha_p_vdi_vi(tau, tau, c, h), (lim31, lim32));
        // Close to the singularity the result stays continuous.
        for eps in [1e-14, 1e-10, 1e-6] {
            let p = exp_p_vi(tau * (1.0 + eps), tau, c, h);
            assert!(rel(p, lim32) < 1e-5, "eps {eps}: {p} vs {lim32}");
            let (p31, p32) = alpha_p_vdi_vi(tau * (1.0 + eps), tau, c, h);
            assert!(rel(p31, lim31) < 1e-5, "eps {eps}: {p31} vs {lim31}");
            assert!(rel(p32, lim32) < 1e-5, "eps {eps}: {p32} vs {lim32}");
        }
    }
}
