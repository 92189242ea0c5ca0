//! GSL's explicit embedded Runge-Kutta-Fehlberg 4(5) stepper with its standard step-size control, as
//! NEST's conductance-based models drive it (`gsl_odeiv_evolve_apply` called until the end of a step).
//!
//! Source: GSL 1.15 `ode-initval/{rkf45.c, cstd.c, evolve.c}` (the version bundled with the NEST 3.10
//! wheel), reproduced operation for operation so that the states match NEST's to rounding.
//!
//! One call of [`evolve_apply`] makes one accepted step from `t` towards `t1`: it tries the proposed
//! step size `h` (cut to `t1 - t` if longer, then `t` becomes `t1` exactly), and while the error
//! estimate is too large (`max_i |yerr_i| / D0_i > 1.1` with
//! `D0_i = eps_rel (a_y |y_i| + a_dydt |h y'_i|) + eps_abs`) retries with
//! `h max(0.2, 0.9 rmax^(-1/5))`; on success it proposes `h min(5, max(1, 0.9 rmax^(-1/6)))` for the
//! next call (NEST carries that proposal across simulation steps, per neuron).

/// Runge-Kutta-Fehlberg nodes (`ah`) and weights, GSL's zero entries left out.
const AH: [f64; 5] = [1.0 / 4.0, 3.0 / 8.0, 12.0 / 13.0, 1.0, 1.0 / 2.0];
const B3: [f64; 2] = [3.0 / 32.0, 9.0 / 32.0];
const B4: [f64; 3] = [1932.0 / 2197.0, -7200.0 / 2197.0, 7296.0 / 2197.0];
const B5: [f64; 4] = [
    8341.0 / 4104.0,
    -32832.0 / 4104.0,
    29440.0 / 4104.0,
    -845.0 / 4104.0,
];
const B6: [f64; 5] = [
    -6080.0 / 20520.0,
    41040.0 / 20520.0,
    -28352.0 / 20520.0,
    9295.0 / 20520.0,
    -5643.0 / 20520.0,
];
const C1: f64 = 902880.0 / 7618050.0;
const C3: f64 = 3953664.0 / 7618050.0;
const C4: f64 = 3855735.0 / 7618050.0;
const C5: f64 = -1371249.0 / 7618050.0;
const C6: f64 = 277020.0 / 7618050.0;
/// Differences of the fifth- and fourth-order weights (the error estimate), `ec[1], ec[3..=6]`.
const EC1: f64 = 1.0 / 360.0;
const EC3: f64 = -128.0 / 4275.0;
const EC4: f64 = -2197.0 / 75240.0;
const EC5: f64 = 1.0 / 50.0;
const EC6: f64 = 2.0 / 55.0;
/// The order GSL's rkf45 reports to the step control.
const ORDER: f64 = 5.0;

/// GSL's standard step-size control (`gsl_odeiv_control_standard_new(eps_abs, eps_rel, a_y, a_dydt)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Control {
    /// Absolute error bound.
    pub eps_abs: f64,
    /// Relative error bound.
    pub eps_rel: f64,
    /// Weight of `|y|` in the relative bound.
    pub a_y: f64,
    /// Weight of `|h y'|` in the relative bound.
    pub a_dydt: f64,
}

impl Control {
    /// `gsl_odeiv_control_y_new(eps_abs, eps_rel)`: bound on the state.
    pub fn y(eps_abs: f64, eps_rel: f64) -> Self {
        Control {
            eps_abs,
            eps_rel,
            a_y: 1.0,
            a_dydt: 0.0,
        }
    }

    /// `gsl_odeiv_control_yp_new(eps_abs, eps_rel)`: bound on the derivative.
    pub fn yp(eps_abs: f64, eps_rel: f64) -> Self {
        Control {
            eps_abs,
            eps_rel,
            a_y: 0.0,
            a_dydt: 1.0,
        }
    }

    /// GSL's `std_control_hadjust`: `Some(smaller h)` if the step must be retried, else the proposal
    /// for the next step.
    fn hadjust<const N: usize>(
        &self,
        y: &[f64; N],
        yerr: &[f64; N],
        yp: &[f64; N],
        h: f64,
    ) -> Adjust {
        let h_old = h;
        let mut rmax = f64::MIN_POSITIVE;
        for i in 0..N {
            let d0 = self.eps_rel * (self.a_y * y[i].abs() + self.a_dydt * (h_old * yp[i]).abs())
                + self.eps_abs;
            let r = yerr[i].abs() / d0.abs();
            rmax = if r > rmax { r } else { rmax };
        }
        if rmax > 1.1 {
            let mut r = 0.9 / rmax.powf(1.0 / ORDER);
            if r < 0.2 {
                r = 0.2;
            }
            Adjust::Decrease(r * h_old)
        } else if rmax < 0.5 {
            // GSL caps the growth at 5 and never lets S = 0.9 shrink the step.
            let r = (0.9 / rmax.powf(1.0 / (ORDER + 1.0))).clamp(1.0, 5.0);
            Adjust::Keep(r * h_old)
        } else {
            Adjust::Keep(h_old)
        }
    }
}

enum Adjust {
    Decrease(f64),
    Keep(f64),
}

/// One RKF45 step of size `h` from `y` (with `k1 = y'(y)` given), in place; returns the error estimate.
fn rkf45_step<const N: usize, F: FnMut(&[f64; N], &mut [f64; N])>(
    f: &mut F,
    h: f64,
    y: &mut [f64; N],
    k1: &[f64; N],
) -> [f64; N] {
    let mut k2 = [0.0; N];
    let mut k3 = [0.0; N];
    let mut k4 = [0.0; N];
    let mut k5 = [0.0; N];
    let mut k6 = [0.0; N];
    let mut ytmp = [0.0; N];
    for i in 0..N {
        ytmp[i] = y[i] + AH[0] * h * k1[i];
    }
    f(&ytmp, &mut k2);
    for i in 0..N {
        ytmp[i] = y[i] + h * (B3[0] * k1[i] + B3[1] * k2[i]);
    }
    f(&ytmp, &mut k3);
    for i in 0..N {
        ytmp[i] = y[i] + h * (B4[0] * k1[i] + B4[1] * k2[i] + B4[2] * k3[i]);
    }
    f(&ytmp, &mut k4);
    for i in 0..N {
        ytmp[i] = y[i] + h * (B5[0] * k1[i] + B5[1] * k2[i] + B5[2] * k3[i] + B5[3] * k4[i]);
    }
    f(&ytmp, &mut k5);
    for i in 0..N {
        ytmp[i] = y[i]
            + h * (B6[0] * k1[i] + B6[1] * k2[i] + B6[2] * k3[i] + B6[3] * k4[i] + B6[4] * k5[i]);
    }
    f(&ytmp, &mut k6);
    for i in 0..N {
        let d_i = C1 * k1[i] + C3 * k3[i] + C4 * k4[i] + C5 * k5[i] + C6 * k6[i];
        y[i] += h * d_i;
    }
    let mut yerr = [0.0; N];
    for i in 0..N {
        yerr[i] = h * (EC1 * k1[i] + EC3 * k3[i] + EC4 * k4[i] + EC5 * k5[i] + EC6 * k6[i]);
    }
    yerr
}

/// GSL's `gsl_odeiv_evolve_apply` with the rkf45 stepper: one accepted step of `y' = f(y)` from `*t`
/// towards `t1 > *t`, with the proposed step size `*h > 0` (updated to the proposal for the next call).
/// The system is autonomous within a call (NEST's right-hand sides ignore `t`).
pub fn evolve_apply<const N: usize, F: FnMut(&[f64; N], &mut [f64; N])>(
    ctl: &Control,
    f: &mut F,
    t: &mut f64,
    t1: f64,
    h: &mut f64,
    y: &mut [f64; N],
) {
    let t0 = *t;
    let mut h0 = *h;
    let dt = t1 - t0;
    let y0 = *y;
    let mut dydt_in = [0.0; N];
    f(y, &mut dydt_in);
    // The derivative at the end of the step enters the control only through a_dydt.
    let need_dydt_out = ctl.a_dydt != 0.0;
    let mut dydt_out = [0.0; N];
    loop {
        let final_step = h0 > dt;
        if final_step {
            h0 = dt;
        }
        let yerr = rkf45_step(f, h0, y, &dydt_in);
        if need_dydt_out {
            f(y, &mut dydt_out);
        }
        *t = if final_step { t1 } else { t0 + h0 };
        let h_old = h0;
        match ctl.hadjust(y, &yerr, &dydt_out, h0) {
            Adjust::Decrease(h_new) => {
                // GSL retries only if the step really shrank and still moves t by at least one ulp.
                if h_new.abs() < h_old.abs() && *t + h_new != *t {
                    *y = y0;
                    h0 = h_new;
                    continue;
                }
                h0 = h_old;
            }
            Adjust::Keep(h_new) => h0 = h_new,
        }
        *h = h0;
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y' = -y over [0, 1] in steps of 0.1 with a tight bound: the result is exp(-1) to ~1e-9, and the
    /// step size grows from the initial 0.1 only as the bound allows.
    #[test]
    fn exponential_decay() {
        let ctl = Control::y(1e-10, 0.0);
        let mut y = [1.0];
        let mut h = 0.1;
        let mut f = |y: &[f64; 1], d: &mut [f64; 1]| d[0] = -y[0];
        for _ in 0..10 {
            let mut t = 0.0;
            while t < 0.1 {
                evolve_apply(&ctl, &mut f, &mut t, 0.1, &mut h, &mut y);
            }
            assert_eq!(t, 0.1);
        }
        assert!((y[0] - (-1.0f64).exp()).abs() < 1e-9, "{}", y[0]);
    }

    /// A loose bound accepts one step per call; the local error of that step shrinks as h^6 (RKF's
    /// fifth-order solution): halving h divides it by ~64.
    #[test]
    fn one_step_is_fifth_order() {
        let ctl = Control::y(1.0, 0.0);
        let err = |step: f64| {
            let (mut y, mut h, mut t) = ([1.0], step, 0.0);
            let mut f = |y: &[f64; 1], d: &mut [f64; 1]| d[0] = -y[0];
            evolve_apply(&ctl, &mut f, &mut t, step, &mut h, &mut y);
            assert_eq!(t, step);
            assert!(h > step, "the step grows after an accurate step: {h}");
            (y[0] - (-step).exp()).abs()
        };
        let ratio = err(0.4) / err(0.2);
        assert!((50.0..80.0).contains(&ratio), "error ratio {ratio}");
    }
}
