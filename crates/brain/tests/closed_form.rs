//! Each model against closed-form solutions of its equations: subthreshold response to a constant
//! current, the shape of one postsynaptic potential (also at `tau_m == tau_syn`), spike times, reset
//! and refractoriness, `V_min`, and parameter validation.

use neuroloop_brain::ParamError;
use neuroloop_brain::{iaf_psc_alpha as alpha, iaf_psc_delta as delta, iaf_psc_exp as exp};

const H: f64 = 0.1;

/// Runs `steps` steps of a one-neuron population and returns `V_m` after each step (at t = k h,
/// k = 1 ..= steps) and the step-end times of its spikes, in steps.
macro_rules! run {
    ($model:ident, $p:expr, $steps:expr, |$k:ident| ($ex:expr, $inh:expr, $stim:expr)) => {{
        let p = $p;
        let d = $model::prepare(&p, H).unwrap();
        let mut pop = $model::Population::new(1, &p);
        let mut spiked = Vec::new();
        let mut v = Vec::new();
        let mut spikes = Vec::new();
        for $k in 0..$steps {
            pop.step(&d, &[$ex], &[$inh], &[$stim], &mut spiked);
            v.push(pop.v_m[0]);
            if !spiked.is_empty() {
                spikes.push($k + 1);
            }
        }
        (v, spikes, pop)
    }};
}

fn assert_close(got: &[f64], want: impl Fn(usize) -> f64, rel_tol: f64, what: &str) {
    for (i, &g) in got.iter().enumerate() {
        let w = want(i + 1);
        let err = (g - w).abs() / w.abs().max(1e-300);
        assert!(
            err <= rel_tol,
            "{what}: t = {:.1} ms: {g} vs {w} (rel {err:e})",
            (i + 1) as f64 * H
        );
    }
}

/// V(t) = E_L + R I (1 - exp(-t/tau_m)), R = tau_m/C_m, for a current acting from t0 on.
fn relax(i_pa: f64, t0: f64) -> impl Fn(usize) -> f64 {
    move |k| {
        let t = (k as f64 * H - t0).max(0.0);
        -70.0 + 10.0 / 250.0 * i_pa * (1.0 - (-t / 10.0).exp())
    }
}

#[test]
fn subthreshold_constant_current() {
    // I_e acts from t = 0; a current given as i_stim is latched and acts from the next step on.
    let (v, s, _) = run!(
        delta,
        delta::Params {
            i_e: 300.0,
            ..Default::default()
        },
        1000,
        |_k| (0.0, 0.0, 0.0)
    );
    assert!(s.is_empty());
    assert_close(&v, relax(300.0, 0.0), 1e-12, "delta I_e");
    let (v, _, _) = run!(
        exp,
        exp::Params {
            i_e: 300.0,
            ..Default::default()
        },
        1000,
        |_k| (0.0, 0.0, 0.0)
    );
    assert_close(&v, relax(300.0, 0.0), 1e-12, "exp I_e");
    let (v, _, _) = run!(
        alpha,
        alpha::Params {
            i_e: 300.0,
            ..Default::default()
        },
        1000,
        |_k| (0.0, 0.0, 0.0)
    );
    assert_close(&v, relax(300.0, 0.0), 1e-12, "alpha I_e");

    let (v, _, _) = run!(delta, delta::Params::default(), 1000, |_k| (
        0.0, 0.0, 300.0
    ));
    assert_close(&v, relax(300.0, H), 1e-12, "delta i_stim");
    let (v, _, _) = run!(exp, exp::Params::default(), 1000, |_k| (0.0, 0.0, 300.0));
    assert_close(&v, relax(300.0, H), 1e-12, "exp i_stim");
    let (v, _, _) = run!(alpha, alpha::Params::default(), 1000, |_k| (
        0.0, 0.0, 300.0
    ));
    assert_close(&v, relax(300.0, H), 1e-12, "alpha i_stim");
}

/// Time since the input arrived at the end of step 0 (t = h) for the sample after step k.
fn since(k: usize) -> f64 {
    (k - 1) as f64 * H
}

#[test]
fn psp_delta_is_a_jump_then_decays() {
    let (v, _, _) = run!(delta, delta::Params::default(), 300, |k| (
        if k == 0 { 2.0 } else { 0.0 },
        0.0,
        0.0
    ));
    assert_eq!(v[0], -68.0);
    assert_close(
        &v,
        |k| -70.0 + 2.0 * (-since(k) / 10.0).exp(),
        1e-12,
        "delta psp",
    );
    let (v, _, _) = run!(delta, delta::Params::default(), 300, |k| (
        0.0,
        if k == 0 { -3.0 } else { 0.0 },
        0.0
    ));
    assert_close(
        &v,
        |k| -70.0 - 3.0 * (-since(k) / 10.0).exp(),
        1e-12,
        "delta ipsp",
    );
}

/// V(s) of a current w exp(-s/ts): w/C ts tm/(tm - ts) (exp(-s/tm) - exp(-s/ts)); w/C s exp(-s/tm) at ts == tm.
fn exp_psp(w: f64, ts: f64, s: f64) -> f64 {
    let (tm, c) = (10.0, 250.0);
    if ts == tm {
        w / c * s * (-s / tm).exp()
    } else {
        w / c * ts * tm / (tm - ts) * ((-s / tm).exp() - (-s / ts).exp())
    }
}

#[test]
fn psp_exp_is_a_difference_of_exponentials() {
    let p = exp::Params {
        tau_syn_ex: 2.0,
        tau_syn_in: 5.0,
        ..Default::default()
    };
    let (v, _, pop) = run!(exp, p, 500, |k| (
        if k == 0 { 100.0 } else { 0.0 },
        0.0,
        0.0
    ));
    assert_close(
        &v,
        |k| -70.0 + exp_psp(100.0, 2.0, since(k)),
        1e-10,
        "exp epsp",
    );
    let s_end = since(500);
    assert!((pop.i_syn_ex[0] - 100.0 * (-s_end / 2.0).exp()).abs() < 1e-12);
    let (v, _, pop) = run!(exp, p, 500, |k| (
        0.0,
        if k == 0 { -100.0 } else { 0.0 },
        0.0
    ));
    assert_close(
        &v,
        |k| -70.0 + exp_psp(-100.0, 5.0, since(k)),
        1e-10,
        "exp ipsp",
    );
    assert!((pop.i_syn_in[0] + 100.0 * (-s_end / 5.0).exp()).abs() < 1e-12);
}

#[test]
fn psp_exp_at_tau_syn_equal_tau_m_is_the_limit() {
    for ts in [10.0, 10.0 * (1.0 + 1e-12), 10.0 * (1.0 - 1e-9)] {
        let p = exp::Params {
            tau_syn_ex: ts,
            ..Default::default()
        };
        let (v, _, _) = run!(exp, p, 500, |k| (
            if k == 0 { 100.0 } else { 0.0 },
            0.0,
            0.0
        ));
        assert_close(
            &v,
            |k| -70.0 + exp_psp(100.0, 10.0, since(k)),
            1e-7,
            "exp psp at tau_syn = tau_m",
        );
    }
}

/// V(s) of an alpha current w e/ts s exp(-s/ts):
/// w e/(ts C) exp(-s/tm) (1 - exp(-q s)(1 + q s))/q^2 with q = 1/ts - 1/tm; w e/(ts C) exp(-s/tm) s^2/2 at q = 0.
fn alpha_psp(w: f64, ts: f64, s: f64) -> f64 {
    let (tm, c) = (10.0, 250.0);
    let a = w * std::f64::consts::E / (ts * c) * (-s / tm).exp();
    let q = 1.0 / ts - 1.0 / tm;
    if q == 0.0 {
        a * s * s / 2.0
    } else {
        a * (1.0 - (-q * s).exp() * (1.0 + q * s)) / (q * q)
    }
}

#[test]
fn psp_alpha_matches_the_alpha_psp() {
    let p = alpha::Params {
        tau_syn_ex: 2.0,
        tau_syn_in: 5.0,
        ..Default::default()
    };
    let (v, _, _) = run!(alpha, p, 500, |k| (
        if k == 0 { 100.0 } else { 0.0 },
        0.0,
        0.0
    ));
    assert_close(
        &v,
        |k| -70.0 + alpha_psp(100.0, 2.0, since(k)),
        1e-9,
        "alpha epsp",
    );
    let (v, _, _) = run!(alpha, p, 500, |k| (
        0.0,
        if k == 0 { -100.0 } else { 0.0 },
        0.0
    ));
    assert_close(
        &v,
        |k| -70.0 + alpha_psp(-100.0, 5.0, since(k)),
        1e-9,
        "alpha ipsp",
    );

    // The current peaks at the weight, tau_syn after the spike.
    let d = alpha::prepare(&p, H).unwrap();
    let mut pop = alpha::Population::new(1, &p);
    let mut spiked = Vec::new();
    pop.step(&d, &[100.0], &[], &[], &mut spiked);
    let mut peak: f64 = 0.0;
    for _ in 0..100 {
        pop.step(&d, &[], &[], &[], &mut spiked);
        peak = peak.max(pop.i_syn_ex[0]);
    }
    assert!((peak - 100.0).abs() < 1e-12, "peak {peak}");
}

#[test]
fn psp_alpha_at_tau_syn_equal_tau_m_is_the_limit() {
    for ts in [10.0, 10.0 * (1.0 + 1e-12), 10.0 * (1.0 - 1e-9)] {
        let p = alpha::Params {
            tau_syn_ex: ts,
            ..Default::default()
        };
        let (v, _, _) = run!(alpha, p, 500, |k| (
            if k == 0 { 100.0 } else { 0.0 },
            0.0,
            0.0
        ));
        assert_close(
            &v,
            |k| -70.0 + alpha_psp(100.0, 10.0, since(k)),
            1e-6,
            "alpha psp at tau_syn = tau_m",
        );
    }
}

/// First-spike step of a neuron at rest under a constant current from t = 0:
/// t* = -tau_m ln(1 - (V_th - E_L)/(R I)), rounded up to the grid.
fn first_spike_steps(i_pa: f64) -> usize {
    let t_star = -10.0 * (1.0 - 15.0 / (10.0 / 250.0 * i_pa)).ln();
    (t_star / H).ceil() as usize
}

fn check_spiking(v: &[f64], spikes: &[usize], i_pa: f64, t_ref_steps: usize, what: &str) {
    let n_star = first_spike_steps(i_pa);
    let isi = t_ref_steps + n_star;
    let want: Vec<usize> = (0..)
        .map(|j| n_star + j * isi)
        .take_while(|&k| k <= v.len())
        .collect();
    assert_eq!(spikes, want, "{what}: spike steps");
    for &k in spikes {
        // Reset at the spike, clamped for t_ref, free again afterwards.
        for j in k..k + t_ref_steps + 1 {
            if j <= v.len() {
                assert_eq!(
                    v[j - 1],
                    -70.0,
                    "{what}: V_m at step {j} after spike at {k}"
                );
            }
        }
        if k + t_ref_steps < v.len() {
            assert!(v[k + t_ref_steps] > -70.0, "{what}: V_m free after t_ref");
        }
        assert!(v[k - 2] < -55.0, "{what}: below threshold before the spike");
    }
    // Between spikes the trace is the relaxation from the reset.
    assert_close(&v[..n_star - 1], relax(i_pa, 0.0), 1e-12, what);
}

#[test]
fn spike_times_reset_and_refractoriness() {
    for i_pa in [400.0, 1000.0] {
        let (v, s, _) = run!(
            delta,
            delta::Params {
                i_e: i_pa,
                ..Default::default()
            },
            2000,
            |_k| (0.0, 0.0, 0.0)
        );
        check_spiking(&v, &s, i_pa, 20, "delta");
        let (v, s, _) = run!(
            exp,
            exp::Params {
                i_e: i_pa,
                ..Default::default()
            },
            2000,
            |_k| (0.0, 0.0, 0.0)
        );
        check_spiking(&v, &s, i_pa, 20, "exp");
        let (v, s, _) = run!(
            alpha,
            alpha::Params {
                i_e: i_pa,
                ..Default::default()
            },
            2000,
            |_k| (0.0, 0.0, 0.0)
        );
        check_spiking(&v, &s, i_pa, 20, "alpha");
    }
    // t_ref = 0.25 ms is 3 steps at 0.1 ms (NEST rounds up); t_ref = 0 means no clamping.
    let (v, s, _) = run!(
        exp,
        exp::Params {
            i_e: 400.0,
            t_ref: 0.25,
            ..Default::default()
        },
        2000,
        |_k| (0.0, 0.0, 0.0)
    );
    check_spiking(&v, &s, 400.0, 3, "exp t_ref 0.25");
    let (v, s, _) = run!(
        delta,
        delta::Params {
            i_e: 400.0,
            t_ref: 0.0,
            ..Default::default()
        },
        2000,
        |_k| (0.0, 0.0, 0.0)
    );
    check_spiking(&v, &s, 400.0, 0, "delta t_ref 0");
}

#[test]
fn input_during_refractoriness() {
    // A 30 mV kick fires the neuron at step 1; a 2 mV input arrives at step 2, while refractory.
    let input = |k: usize| match k {
        0 => 30.0,
        1 => 2.0,
        _ => 0.0,
    };
    let (v, s, _) = run!(delta, delta::Params::default(), 40, |k| (
        input(k),
        0.0,
        0.0
    ));
    assert_eq!(s, vec![1]);
    assert!(v.iter().all(|&x| x == -70.0), "dropped by default");

    let p = delta::Params {
        refractory_input: true,
        ..Default::default()
    };
    let (v, _, _) = run!(delta, p, 40, |k| (input(k), 0.0, 0.0));
    // Refractory in steps 2..=21 (the input arrives at the end of step 2, 20 steps before V_m is free).
    assert_eq!(v[20], -70.0);
    assert_close(
        &v[21..],
        |k| -70.0 + 2.0 * (-((k + 21 - 2) as f64) * H / 10.0).exp(),
        1e-12,
        "refractory_input",
    );
}

#[test]
fn v_min_bounds_the_membrane() {
    let p = delta::Params {
        v_min: Some(-72.0),
        ..Default::default()
    };
    let (v, _, _) = run!(delta, p, 10, |k| (
        0.0,
        if k == 0 { -10.0 } else { 0.0 },
        0.0
    ));
    assert_eq!(v[0], -72.0);
    assert!(v[1] > -72.0);
    let p = alpha::Params {
        v_min: Some(-70.5),
        ..Default::default()
    };
    let (v, _, _) = run!(alpha, p, 200, |k| (
        0.0,
        if k == 0 { -1000.0 } else { 0.0 },
        0.0
    ));
    assert!(v.iter().all(|&x| x >= -70.5) && v.contains(&-70.5));
}

fn field(e: ParamError) -> &'static str {
    match e {
        ParamError::Invalid { field, .. } => field,
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn validate_names_the_bad_field() {
    let ok = exp::Params::default();
    assert!(ok.validate().is_ok());
    let cases: [(exp::Params, &str); 7] = [
        (exp::Params { c_m: 0.0, ..ok }, "C_m"),
        (exp::Params { tau_m: -1.0, ..ok }, "tau_m"),
        (
            exp::Params {
                tau_syn_ex: 0.0,
                ..ok
            },
            "tau_syn_ex",
        ),
        (
            exp::Params {
                tau_syn_in: 0.0,
                ..ok
            },
            "tau_syn_in",
        ),
        (exp::Params { t_ref: -0.1, ..ok }, "t_ref"),
        (
            exp::Params {
                v_reset: -55.0,
                ..ok
            },
            "V_reset",
        ),
        (
            exp::Params {
                e_l: f64::NAN,
                ..ok
            },
            "E_L",
        ),
    ];
    for (p, name) in cases {
        assert_eq!(field(p.validate().unwrap_err()), name);
        assert_eq!(field(exp::prepare(&p, H).unwrap_err()), name);
    }
    let a = alpha::Params::default();
    assert_eq!(
        field(
            alpha::Params {
                tau_syn_in: -2.0,
                ..a
            }
            .validate()
            .unwrap_err()
        ),
        "tau_syn_in"
    );
    assert_eq!(
        field(
            alpha::Params {
                v_min: Some(-60.0),
                ..a
            }
            .validate()
            .unwrap_err()
        ),
        "V_reset"
    );
    let d = delta::Params::default();
    assert_eq!(
        field(delta::Params { c_m: -1.0, ..d }.validate().unwrap_err()),
        "C_m"
    );
    assert_eq!(
        field(delta::Params { v_th: -80.0, ..d }.validate().unwrap_err()),
        "V_reset"
    );
    let e = delta::Params { tau_m: 0.0, ..d }.validate().unwrap_err();
    assert_eq!(e.to_string(), "iaf_psc_delta: tau_m = 0: must be > 0");
    assert_eq!(
        exp::prepare(&ok, 0.0).unwrap_err(),
        ParamError::Resolution(0.0)
    );
    assert_eq!(
        exp::prepare(&ok, 0.00005).unwrap_err(),
        ParamError::Resolution(0.00005)
    );
}

#[test]
fn params_use_nest_names_and_defaults() {
    let p: exp::Params = serde_json::from_str(
        r#"{"C_m": 1.0, "tau_m": 20.0, "V_th": 20.0, "E_L": 0.0, "V_reset": 10.0}"#,
    )
    .unwrap();
    assert_eq!(p.c_m, 1.0);
    assert_eq!(p.tau_syn_ex, 2.0);
    assert_eq!(p.t_ref, 2.0);
    let e = serde_json::from_str::<exp::Params>(r#"{"C_M": 1.0}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `C_M`"), "{e}");
    let d: delta::Params =
        serde_json::from_str(r#"{"V_min": -80.0, "refractory_input": true}"#).unwrap();
    assert_eq!(d.v_min, Some(-80.0));
    let back: delta::Params = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    assert_eq!(back, d);
    let a: alpha::Params = serde_json::from_str("{}").unwrap();
    assert_eq!(a, alpha::Params::default());
}

#[test]
fn populations_are_independent_and_round_trip() {
    let p = exp::Params::default();
    let d = exp::prepare(&p, H).unwrap();
    let mut pop = exp::Population::new(3, &p);
    let mut spiked = Vec::new();
    for k in 0..400 {
        let ex = if k == 5 { [0.0, 50.0, 0.0] } else { [0.0; 3] };
        pop.step(&d, &ex, &[], &[0.0, 0.0, 500.0], &mut spiked);
        if k == 200 {
            // save -> restore -> step gives the same bits.
            let saved: exp::Population =
                serde_json::from_str(&serde_json::to_string(&pop).unwrap()).unwrap();
            let mut a = pop.clone();
            let mut b = saved;
            let mut sa = Vec::new();
            let mut sb = Vec::new();
            for _ in 0..100 {
                a.step(&d, &[], &[], &[0.0, 0.0, 500.0], &mut sa);
                b.step(&d, &[], &[], &[0.0, 0.0, 500.0], &mut sb);
                assert_eq!(sa, sb);
            }
            assert_eq!(a, b);
        }
    }
    assert_eq!(pop.v_m[0], -70.0);
    assert!(pop.v_m[1] > -70.0 && pop.v_m[1] < -55.0);
    assert!(pop.i_syn_ex[1] > 0.0 && pop.i_syn_ex[0] == 0.0);
}

#[test]
#[should_panic(expected = "ex_in has 2 entries for 3 neurons")]
fn wrong_input_length_panics() {
    let p = exp::Params::default();
    let d = exp::prepare(&p, H).unwrap();
    let mut pop = exp::Population::new(3, &p);
    pop.step(&d, &[1.0, 2.0], &[], &[], &mut Vec::new());
}
