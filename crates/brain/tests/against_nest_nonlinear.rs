//! The nonlinear and conductance-based models (`iaf_cond_exp`, `izhikevich`, `aeif_cond_exp`) against
//! NEST 3.10 on identical input, built through `neurons::create` and stepped through the `Neurons`
//! trait. As in `tests/against_nest.rs`, `bridges/nest/single_neuron.py` runs the NEST neuron with a
//! `dc_generator` and `spike_generator`s, and the Rust population gets the same input on NEST's grid:
//!
//! - a spike at `t_s` with delay `d` arrives in the step ending at `t_s + d` (step index `(t_s + d)/h - 1`);
//! - a `dc_generator` current arrives in the steps starting at `t` with `start <= t < stop`;
//! - NEST's multimeter sample at `k h` is the state after `k` steps; a spike in step `k` is stamped `(k + 1) h`.
//!
//! Tolerance: bit-identical traces (every recorded variable, compared through the doubles' bits that
//! the bridge sends with `"float_bits": true`) and identical spike steps, in every scenario where no
//! step receives more than one input spike. `izhikevich` repeats NEST's float operations; the RKF45
//! models (`iaf_cond_exp`, `aeif_cond_exp`) repeat GSL 1.15's rkf45 stepper, its standard step control
//! and `gsl_odeiv_evolve_apply` operation for operation (`src/rkf45.rs`), with NEST's initial and
//! carried-over integration step, so they take the same adaptive steps on the same numbers. Where
//! several spikes arrive in one step, NEST adds them to its buffer one by one in delivery order while
//! here they come summed, so the sum may round differently (an ulp); those scenarios are held to
//! `tests/against_nest.rs`'s bound `|rust - nest| <= max(1e-6 |nest|, 1e-9)` (measured: 0 in every
//! scenario below, up to 3e-14 mV with other spike trains; see the printed table). The bound cannot hide a modelling error: a wrong order of update, a missed
//! refractory step or another integrator moves the trace by far more (RKF45's error bound alone is
//! 1e-3 mV per step for `iaf_cond_exp`).
//!
//! Needs NEST: run `scripts/setup_nest.sh` once. Without it these tests fail (they never pass silently).

mod common;

use neuroloop_brain::neurons;
use serde::Serialize;
use serde_json::{json, Value};

use common::{steps, t_ms, H};

#[derive(Serialize, Clone)]
struct Dc {
    amplitude: f64,
    start: f64,
    stop: f64,
}

#[derive(Serialize, Clone)]
struct Scenario {
    name: String,
    model: String,
    params: Value,
    /// Initial V_m, mV: the Rust population's initial V_m (E_L, or -65 for izhikevich).
    #[serde(rename = "V_m")]
    v_m: f64,
    sim_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dc: Option<Dc>,
    spikes_ex: Train,
    spikes_in: Train,
    delay_ms: f64,
    record: Vec<String>,
}

/// Runs all scenarios in one NEST process; returns NEST's version and one result per scenario.
fn run_nest(scenarios: &[Scenario]) -> (String, Vec<Value>) {
    let request = json!({ "resolution_ms": H, "float_bits": true, "scenarios": scenarios });
    common::run_scenarios("single_neuron.py", &request, scenarios.len())
}

/// The per-step input of a scenario, on NEST's grid.
struct Inputs {
    ex: Vec<f64>,
    inh: Vec<f64>,
    stim: Vec<f64>,
}

fn inputs(sc: &Scenario) -> Inputs {
    let n = steps(sc.sim_ms) as usize;
    let mut inp = Inputs {
        ex: vec![0.0; n],
        inh: vec![0.0; n],
        stim: vec![0.0; n],
    };
    let delay = steps(sc.delay_ms);
    for (list, into) in [(&sc.spikes_ex, &mut inp.ex), (&sc.spikes_in, &mut inp.inh)] {
        for &(t, w) in list {
            let k = steps(t) + delay - 1;
            if (0..n as i64).contains(&k) {
                into[k as usize] += w;
            }
        }
    }
    if let Some(dc) = &sc.dc {
        for k in steps(dc.start).max(0)..steps(dc.stop).min(n as i64) {
            inp.stim[k as usize] = dc.amplitude;
        }
    }
    inp
}

/// A recorded trace: every recorded variable, and the spike steps (one entry per spike).
struct Trace {
    vars: Vec<(String, Vec<f64>)>,
    spike_steps: Vec<i64>,
}

/// Runs the scenario with the Rust model, built by `neurons::create`.
fn simulate(sc: &Scenario) -> Trace {
    let mut pop =
        neurons::create(&sc.model, &sc.params, 1, H).unwrap_or_else(|e| panic!("{}: {e}", sc.name));
    assert_eq!(pop.model(), sc.model);
    pop.set_v_m(0, sc.v_m);
    let inp = inputs(sc);
    let mut trace = Trace {
        vars: sc.record.iter().map(|r| (r.clone(), Vec::new())).collect(),
        spike_steps: Vec::new(),
    };
    let mut spiked = Vec::new();
    for k in 0..inp.ex.len() {
        pop.step(
            &inp.ex[k..k + 1],
            &inp.inh[k..k + 1],
            &inp.stim[k..k + 1],
            &mut spiked,
        );
        for (name, values) in &mut trace.vars {
            let state = pop
                .recordable(name)
                .unwrap_or_else(|| panic!("{} does not record {name}", sc.model));
            values.push(state[0]);
        }
        for _ in &spiked {
            trace.spike_steps.push(k as i64 + 1);
        }
    }
    trace
}

/// Per-variable maximum absolute error and the spike count of one scenario.
struct Errors {
    exact: bool,
    max_abs: Vec<(String, f64)>,
    max_rel_v: f64,
    spikes: usize,
}

/// Compares one scenario against NEST under the module's tolerance.
fn compare(sc: &Scenario, rust: &Trace, nest: &Value) -> Errors {
    let n = steps(sc.sim_ms) as usize;
    let times: Vec<f64> = serde_json::from_value(nest["times_ms"].clone()).unwrap();
    assert_eq!(times.len(), n, "{}: NEST samples", sc.name);
    for (k, &t) in times.iter().enumerate() {
        assert!(
            (t - t_ms(k as u64 + 1)).abs() < 1e-9,
            "{}: sample {k} at {t} ms",
            sc.name
        );
    }
    // Bit-identical unless a step receives several spikes (whose sum may round differently).
    let inp_steps: Vec<i64> = sc
        .spikes_ex
        .iter()
        .chain(&sc.spikes_in)
        .map(|&(t, _)| steps(t))
        .collect();
    let exact = inp_steps
        .iter()
        .enumerate()
        .all(|(i, k)| !inp_steps[..i].contains(k));
    let mut errors = Errors {
        exact,
        max_abs: Vec::new(),
        max_rel_v: 0.0,
        spikes: 0,
    };
    for (name, ours) in &rust.vars {
        // The exact doubles, from their bits (a decimal JSON float may be parsed an ulp off).
        let bits: Vec<u64> = serde_json::from_value(nest[format!("{name}_bits")].clone())
            .unwrap_or_else(|e| panic!("{}: NEST did not record {name}: {e}", sc.name));
        let theirs: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
        let mut max_abs: f64 = 0.0;
        for k in 0..n {
            let (r, x) = (ours[k], theirs[k]);
            let err = (r - x).abs();
            let bound = if exact {
                0.0
            } else {
                (1e-6 * x.abs()).max(1e-9)
            };
            assert!(
                err <= bound,
                "{}: {name} at t = {} ms: rust {r} vs NEST {x} (|diff| {err:e})",
                sc.name,
                t_ms(k as u64 + 1)
            );
            if name == "V_m" && x != 0.0 {
                errors.max_rel_v = errors.max_rel_v.max(err / x.abs());
            }
            max_abs = max_abs.max(err);
        }
        errors.max_abs.push((name.clone(), max_abs));
    }
    let nest_spikes: Vec<f64> = serde_json::from_value(nest["spike_times_ms"].clone()).unwrap();
    let nest_steps: Vec<i64> = nest_spikes.iter().map(|&t| steps(t)).collect();
    assert_eq!(
        rust.spike_steps, nest_steps,
        "{}: spike steps (times / h)",
        sc.name
    );
    errors.spikes = nest_steps.len();
    errors
}

/// Spikes as `(time_ms, weight)`.
type Train = Vec<(f64, f64)>;

/// A reproducible train of grid spike times in [from, to) ms with weights in [w_lo, w_hi].
fn train(seed: u64, count: usize, from: f64, to: f64, w_lo: f64, w_hi: f64) -> Train {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let (k0, k1) = (steps(from) as u64, steps(to) as u64);
    let mut out: Vec<(f64, f64)> = (0..count)
        .map(|_| {
            let k = k0 + ((k1 - k0) as f64 * next()) as u64;
            let w = w_lo + (w_hi - w_lo) * next();
            (t_ms(k), (w * 1000.0).round() / 1000.0)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// `ex` and `in` without the spikes that share a step with an earlier one (so each step gets at most
/// one spike).
fn one_per_step(ex: Train, inh: Train) -> (Train, Train) {
    let mut taken = std::collections::HashSet::new();
    let ex: Vec<_> = ex
        .into_iter()
        .filter(|s| taken.insert(steps(s.0)))
        .collect();
    let inh: Vec<_> = inh
        .into_iter()
        .filter(|s| taken.insert(steps(s.0)))
        .collect();
    (ex, inh)
}

fn scenario(
    name: &str,
    model: &str,
    params: Value,
    v_m: f64,
    sim_ms: f64,
    rec: &[&str],
) -> Scenario {
    Scenario {
        name: name.into(),
        model: model.into(),
        v_m,
        params,
        sim_ms,
        dc: None,
        spikes_ex: vec![],
        spikes_in: vec![],
        delay_ms: H,
        record: rec.iter().map(|s| s.to_string()).collect(),
    }
}

fn dc(amplitude: f64, start: f64, stop: f64) -> Option<Dc> {
    Some(Dc {
        amplitude,
        start,
        stop,
    })
}

/// Runs the scenarios in NEST and in Rust, compares them, prints the errors; returns the spike counts.
fn check(model: &str, scenarios: &[Scenario]) -> Vec<usize> {
    let (version, nest) = run_nest(scenarios);
    println!("{model} vs NEST {version}:");
    let mut counts = Vec::new();
    for (sc, nest) in scenarios.iter().zip(&nest) {
        let e = compare(sc, &simulate(sc), nest);
        let abs: Vec<String> = e
            .max_abs
            .iter()
            .map(|(name, err)| format!("{name} {err:8.2e}"))
            .collect();
        println!(
            "  {:<28} {} max rel err V_m {:8.2e}  max abs err {}  spikes {}",
            sc.name,
            if e.exact { "bit-exact" } else { "tolerance" },
            e.max_rel_v,
            abs.join("  "),
            e.spikes
        );
        counts.push(e.spikes);
    }
    counts
}

#[test]
#[ignore = "compares with NEST 3.10: needs scripts/setup_nest.sh; scripts/test.sh runs it (--include-ignored)"]
fn iaf_cond_exp_matches_nest() {
    let m = "iaf_cond_exp";
    let rec = ["V_m", "g_ex", "g_in"];
    let varied = json!({"C_m": 200.0, "g_L": 10.0, "t_ref": 2.45, "V_th": -50.0, "V_reset": -65.0,
                        "E_L": -65.0, "E_ex": 5.0, "E_in": -80.0, "tau_syn_ex": 1.5, "tau_syn_in": 5.0,
                        "I_e": 50.0});
    let mut scenarios = vec![
        // Rheobase g_L (V_th - E_L) = 250 pA.
        Scenario {
            dc: dc(200.0, 5.0, 60.0),
            ..scenario("dc_subthreshold", m, json!({}), -70.0, 100.0, &rec)
        },
        Scenario {
            dc: dc(600.0, 5.0, 150.0),
            ..scenario("dc_suprathreshold", m, json!({}), -70.0, 200.0, &rec)
        },
        Scenario {
            dc: dc(300.0, 10.3, 120.7),
            ..scenario(
                "dc_supra_varied_params",
                m,
                varied.clone(),
                -65.0,
                150.0,
                &rec,
            )
        },
        Scenario {
            spikes_ex: train(1, 300, 1.0, 190.0, 10.0, 60.0),
            spikes_in: train(2, 80, 1.0, 190.0, -20.0, -2.0),
            ..scenario("spike_train", m, json!({}), -70.0, 200.0, &rec)
        },
        Scenario {
            spikes_ex: train(3, 150, 0.1, 140.0, 1.0, 8.0),
            spikes_in: train(4, 50, 0.1, 140.0, -8.0, -1.0),
            dc: dc(120.0, 20.0, 100.0),
            delay_ms: 1.5,
            ..scenario("spike_train_dc_delay_1.5", m, varied, -65.0, 150.0, &rec)
        },
    ];
    let (ex, inh) = one_per_step(
        train(16, 400, 1.0, 190.0, 20.0, 80.0),
        train(17, 100, 1.0, 190.0, -20.0, -2.0),
    );
    scenarios.push(Scenario {
        spikes_ex: ex,
        spikes_in: inh,
        ..scenario("one_spike_per_step", m, json!({}), -70.0, 200.0, &rec)
    });
    let counts = check(m, &scenarios);
    assert!(counts.iter().filter(|&&c| c > 3).count() >= 3, "{counts:?}");
}

#[test]
#[ignore = "compares with NEST 3.10: needs scripts/setup_nest.sh; scripts/test.sh runs it (--include-ignored)"]
fn izhikevich_matches_nest() {
    let m = "izhikevich";
    let rec = ["V_m", "U_m"];
    // Izhikevich (2003) fig. 2: chattering (c = -50, d = 2) and fast spiking (a = 0.1).
    let chattering = json!({"a": 0.02, "b": 0.2, "c": -50.0, "d": 2.0});
    let fast = json!({"a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0, "I_e": 2.0});
    let scenarios = vec![
        Scenario {
            dc: dc(3.0, 5.0, 60.0),
            ..scenario("dc_subthreshold", m, json!({}), -65.0, 100.0, &rec)
        },
        Scenario {
            dc: dc(10.0, 5.0, 150.0),
            ..scenario("dc_suprathreshold", m, json!({}), -65.0, 200.0, &rec)
        },
        Scenario {
            dc: dc(10.0, 10.3, 120.7),
            ..scenario("dc_chattering", m, chattering, -65.0, 150.0, &rec)
        },
        Scenario {
            spikes_ex: train(5, 200, 1.0, 190.0, 0.5, 6.0),
            spikes_in: train(6, 80, 1.0, 190.0, -6.0, -0.5),
            ..scenario("spike_train", m, json!({}), -65.0, 200.0, &rec)
        },
        Scenario {
            spikes_ex: train(7, 150, 0.1, 140.0, 0.5, 5.0),
            spikes_in: train(8, 50, 0.1, 140.0, -5.0, -0.5),
            dc: dc(4.0, 20.0, 100.0),
            delay_ms: 1.5,
            ..scenario("spike_train_dc_fast_spiking", m, fast, -70.0, 150.0, &rec)
        },
        Scenario {
            spikes_ex: train(9, 60, 1.0, 190.0, 2.0, 8.0),
            spikes_in: train(10, 120, 1.0, 190.0, -12.0, -2.0),
            dc: dc(6.0, 1.0, 200.0),
            ..scenario("V_min", m, json!({"V_min": -75.0}), -65.0, 200.0, &rec)
        },
        Scenario {
            spikes_ex: train(11, 100, 1.0, 190.0, 0.5, 6.0),
            dc: dc(8.0, 10.0, 150.0),
            ..scenario(
                "inconsistent_integration",
                m,
                json!({"consistent_integration": false}),
                -65.0,
                200.0,
                &rec,
            )
        },
    ];
    let counts = check(m, &scenarios);
    assert!(counts.iter().filter(|&&c| c > 3).count() >= 3, "{counts:?}");
}

#[test]
#[ignore = "compares with NEST 3.10: needs scripts/setup_nest.sh; scripts/test.sh runs it (--include-ignored)"]
fn aeif_cond_exp_matches_nest() {
    let m = "aeif_cond_exp";
    let rec = ["V_m", "g_ex", "g_in", "w"];
    // Brette & Gerstner / Naud et al. (2008) style parameters: bursting with a refractory period.
    let bursting = json!({"C_m": 200.0, "g_L": 10.0, "E_L": -58.0, "V_th": -50.0, "Delta_T": 2.0,
                          "a": 2.0, "tau_w": 120.0, "b": 100.0, "V_reset": -46.0, "t_ref": 2.0,
                          "tau_syn_ex": 1.0, "tau_syn_in": 4.0});
    let mut scenarios = vec![
        Scenario {
            dc: dc(400.0, 5.0, 60.0),
            ..scenario("dc_subthreshold", m, json!({}), -70.6, 100.0, &rec)
        },
        Scenario {
            dc: dc(800.0, 5.0, 150.0),
            ..scenario("dc_suprathreshold", m, json!({}), -70.6, 200.0, &rec)
        },
        Scenario {
            dc: dc(210.0, 10.3, 180.7),
            ..scenario("dc_bursting_t_ref", m, bursting.clone(), -58.0, 200.0, &rec)
        },
        Scenario {
            spikes_ex: train(12, 300, 1.0, 190.0, 20.0, 100.0),
            spikes_in: train(13, 80, 1.0, 190.0, -40.0, -5.0),
            ..scenario("spike_train", m, json!({}), -70.6, 200.0, &rec)
        },
        Scenario {
            spikes_ex: train(14, 150, 0.1, 140.0, 1.0, 10.0),
            spikes_in: train(15, 50, 0.1, 140.0, -10.0, -1.0),
            dc: dc(150.0, 20.0, 100.0),
            delay_ms: 1.5,
            ..scenario("spike_train_dc_bursting", m, bursting, -58.0, 150.0, &rec)
        },
        Scenario {
            dc: dc(700.0, 5.0, 150.0),
            ..scenario(
                "Delta_T_0",
                m,
                json!({"Delta_T": 0.0, "t_ref": 1.0}),
                -70.6,
                200.0,
                &rec,
            )
        },
    ];
    // With t_ref = 0 (the default) a strong current makes NEST emit several spikes in one step.
    scenarios.push(Scenario {
        dc: dc(300000.0, 5.0, 10.0),
        ..scenario("several_spikes_per_step", m, json!({}), -70.6, 20.0, &rec)
    });
    let (ex, inh) = one_per_step(
        train(18, 400, 1.0, 190.0, 30.0, 120.0),
        train(19, 100, 1.0, 190.0, -30.0, -3.0),
    );
    scenarios.push(Scenario {
        spikes_ex: ex,
        spikes_in: inh,
        ..scenario("one_spike_per_step", m, json!({}), -70.6, 200.0, &rec)
    });
    let counts = check(m, &scenarios);
    assert!(counts.iter().filter(|&&c| c > 3).count() >= 3, "{counts:?}");
    let several = scenarios
        .iter()
        .position(|s| s.name == "several_spikes_per_step")
        .unwrap();
    assert!(
        counts[several] > 50,
        "the 5 ms (50 step) pulse should give several spikes per step: {}",
        counts[several]
    );
}
