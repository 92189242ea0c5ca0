//! The `Neurons` trait and the `create` factory: errors that name the problem, the recordables, and
//! checkpoints (save -> load -> step gives the same bytes as a run never saved).

use neuroloop_brain::neurons::{create, Neurons, MODELS};
use serde_json::json;

const H: f64 = 0.1;

/// Weights (ex, in) and a current that make every model fire within 50 ms.
fn drive(model: &str) -> (f64, f64, f64) {
    match model {
        "iaf_psc_delta" => (3.0, -1.0, 400.0),
        "iaf_psc_exp" | "iaf_psc_alpha" => (300.0, -100.0, 400.0),
        "iaf_cond_exp" => (20.0, -5.0, 300.0),
        "izhikevich" => (2.0, -1.0, 10.0),
        "aeif_cond_exp" => (30.0, -5.0, 800.0),
        other => panic!("no drive for {other}"),
    }
}

/// Steps `pop` for `steps` steps with a reproducible mixture of inputs; returns the spike count.
fn run(pop: &mut dyn Neurons, from: usize, steps: usize) -> usize {
    let n = pop.len();
    let (w_ex, w_in, i) = drive(pop.model());
    let mut spiked = Vec::new();
    let mut count = 0;
    for k in from..from + steps {
        let ex: Vec<f64> = (0..n)
            .map(|j| if (k + j) % 7 == 0 { w_ex } else { 0.0 })
            .collect();
        let inh: Vec<f64> = (0..n)
            .map(|j| if (k + 2 * j) % 11 == 0 { w_in } else { 0.0 })
            .collect();
        let stim: Vec<f64> = (0..n).map(|j| if j % 2 == 0 { i } else { 0.0 }).collect();
        pop.step(&ex, &inh, &stim, &mut spiked);
        assert!(spiked.iter().all(|&s| (s as usize) < n));
        count += spiked.len();
    }
    count
}

#[test]
fn every_model_is_created_steps_and_records() {
    for &model in MODELS {
        let mut pop = create(model, &json!({}), 4, H).unwrap();
        assert_eq!(pop.model(), model);
        assert_eq!(pop.len(), 4);
        assert!(!pop.is_empty());
        assert_eq!(pop.recordables()[0], "V_m", "{model}");
        for name in pop.recordables() {
            assert_eq!(
                pop.recordable(name).map(<[f64]>::len),
                Some(4),
                "{model} {name}"
            );
        }
        assert!(pop.recordable("no_such_variable").is_none());
        pop.set_v_m(2, -61.5);
        assert_eq!(pop.recordable("V_m").unwrap()[2], -61.5);
        let spikes = run(pop.as_mut(), 0, 500);
        assert!(spikes > 0, "{model} never fired");
    }
}

#[test]
fn factory_gives_the_same_numbers_as_the_module() {
    use neuroloop_brain::aeif_cond_exp::{prepare, Params, Population};
    let params = json!({"a": 2.0, "b": 60.0, "t_ref": 1.0});
    let p: Params = serde_json::from_value(params.clone()).unwrap();
    let d = prepare(&p, H).unwrap();
    let mut direct = Population::new(3, &p);
    let mut boxed = create("aeif_cond_exp", &params, 3, H).unwrap();
    let (mut s1, mut s2) = (Vec::new(), Vec::new());
    for k in 0..1000 {
        let ex = [if k % 5 == 0 { 40.0 } else { 0.0 }, 0.0, 10.0];
        let inh = [0.0, if k % 3 == 0 { -8.0 } else { 0.0 }, 0.0];
        let stim = [500.0, 900.0, 0.0];
        direct.step(&d, &ex, &inh, &stim, &mut s1);
        boxed.step(&ex, &inh, &stim, &mut s2);
        assert_eq!(s1, s2);
    }
    assert_eq!(boxed.recordable("V_m").unwrap(), &direct.v_m[..]);
    assert_eq!(boxed.recordable("w").unwrap(), &direct.w[..]);
}

#[test]
fn create_errors_name_the_problem() {
    let err = |model: &str, params: serde_json::Value| match create(model, &params, 1, H) {
        Ok(_) => panic!("{model} {params} was accepted"),
        Err(e) => e,
    };
    let e = err("iaf_cond_exq", json!({}));
    assert!(e.contains("iaf_cond_exq"), "{e}");
    assert!(MODELS.iter().all(|m| e.contains(m)), "{e}");

    let e = err("iaf_psc_exp", json!({"tau_m": "ten"}));
    assert!(e.starts_with("params.tau_m: invalid type"), "{e}");

    let e = err("iaf_cond_exp", json!({"tau_m": 10.0}));
    assert!(e.contains("unknown field `tau_m`"), "{e}");
    assert!(e.starts_with("params"), "{e}");

    let e = err("izhikevich", json!({"consistent_integration": 1}));
    assert!(
        e.starts_with("params.consistent_integration: invalid type"),
        "{e}"
    );

    let e = err("aeif_cond_exp", json!({"V_peak": -60.0}));
    assert_eq!(e, "aeif_cond_exp: V_peak = -60: must be >= V_th");

    let e = err("iaf_cond_exp", json!({"C_m": 0.0}));
    assert_eq!(e, "iaf_cond_exp: C_m = 0: must be > 0");

    let e = err("iaf_psc_alpha", json!([1, 2]));
    assert!(e.starts_with("params: expected an object"), "{e}");

    let e = match create("iaf_psc_delta", &json!({}), 1, 0.0005) {
        Ok(_) => panic!("accepted h = 0.0005"),
        Err(e) => e,
    };
    assert!(e.contains("resolution_ms = 0.0005"), "{e}");
}

#[test]
fn save_load_then_step_gives_the_same_bytes() {
    for &model in MODELS {
        // One run of 600 steps, and one saved after 300 steps and restored into a fresh population.
        let mut straight = create(model, &json!({}), 5, H).unwrap();
        run(straight.as_mut(), 0, 600);

        let mut first = create(model, &json!({}), 5, H).unwrap();
        run(first.as_mut(), 0, 300);
        let saved = first.save();
        let mut restored = create(model, &json!({}), 5, H).unwrap();
        restored
            .load(&saved)
            .unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(restored.save(), saved, "{model}: load then save");
        run(restored.as_mut(), 300, 300);
        assert_eq!(
            restored.save(),
            straight.save(),
            "{model}: restored run differs"
        );
    }
}

#[test]
fn load_refuses_another_model_or_size() {
    let exp = create("iaf_psc_exp", &json!({}), 3, H).unwrap();
    let mut cond = create("iaf_cond_exp", &json!({}), 3, H).unwrap();
    let before = cond.save();
    let e = cond.load(&exp.save()).unwrap_err();
    assert_eq!(e, "checkpoint of model iaf_psc_exp, not iaf_cond_exp");

    let bigger = create("iaf_cond_exp", &json!({}), 4, H).unwrap();
    let e = cond.load(&bigger.save()).unwrap_err();
    assert!(
        e.contains("4 iaf_cond_exp neurons") && e.contains("has 3"),
        "{e}"
    );

    let e = cond.load(b"not json").unwrap_err();
    assert!(e.starts_with("bad iaf_cond_exp checkpoint"), "{e}");

    // A state vector of the wrong length is refused, whichever it is.
    let mut v: serde_json::Value = serde_json::from_slice(&before).unwrap();
    v["state"]["integration_step"] = json!([0.1, 0.1]);
    let e = cond.load(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.contains("state.integration_step"), "{e}");

    let mut v: serde_json::Value = serde_json::from_slice(&before).unwrap();
    v["state"]["g_ex"] = json!(["x", 0.0, 0.0]);
    let e = cond.load(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.contains("state.g_ex"), "{e}");

    assert_eq!(
        cond.save(),
        before,
        "a refused load leaves the state as it was"
    );
}
