//! Proprioception against the Prochazka rate equations on ramp-and-hold stretches.

mod common;
use common::{ctx, Harness};
use neuroloop_sensors::proprio::SpindleModel;
use serde_json::json;

const L0: f64 = 0.010; // rest length, m

/// Ramp-and-hold: rest 100 ms, stretch by 1 mm at 20 mm/s (50 ms), hold 300 ms. Returns (length, velocity)
/// at step k (1 ms steps).
fn ramp_hold(k: u64) -> (f64, f64) {
    let t = k as f64; // ms
    let v = 0.020; // m/s
    if t < 100.0 {
        (L0, 0.0)
    } else if t < 150.0 {
        (L0 + v * (t - 100.0) * 1e-3, v)
    } else {
        (L0 + 0.001, 0.0)
    }
}

fn input(length: f64, velocity: f64, force: f64, activation: f64) -> Vec<f64> {
    vec![length, velocity, force, activation]
}

fn run(
    config: serde_json::Value,
    seed: u64,
    steps: u64,
) -> (Vec<Vec<f64>>, Vec<[usize; 3]>, Harness) {
    let mut h = Harness::new(
        neuroloop_sensors::new_proprioception,
        &ctx("spindles", config, seed, 1),
    );
    let (mut rates, mut counts) = (Vec::new(), Vec::new());
    for k in 0..steps {
        let (l, v) = ramp_hold(k);
        h.step(Some(&input(l, v, 0.1, 0.2)));
        rates.push(h.analog("rates"));
        counts.push([
            h.spikes("ia").len(),
            h.spikes("ii").len(),
            h.spikes("ib").len(),
        ]);
    }
    (rates, counts, h)
}

#[test]
fn rates_follow_the_prochazka_equations_on_ramp_and_hold() {
    let cfg = json!({ "muscles": ["Foot1"], "rest_length_m": [L0] });
    let (rates, _, _) = run(cfg, 1, 450);
    let m = SpindleModel::default();
    for (k, r) in rates.iter().enumerate() {
        let (l, v) = ramp_hold(k as u64);
        let d_mm = (l - L0) * 1e3;
        let ia = 4.3 * (v * 1e3f64).powf(0.6) + 2.0 * d_mm + 100.0 * 0.2 + 80.0;
        let ii = 13.5 * d_mm + 20.0 * 0.2 + 80.0;
        let ib = 333.0 * 0.1;
        assert!((r[0] - ia).abs() < 1e-9, "Ia at {k}: {} vs {ia}", r[0]);
        assert!((r[1] - ii).abs() < 1e-9, "II at {k}");
        assert!((r[2] - ib).abs() < 1e-9, "Ib at {k}");
        assert_eq!(m.rates(l, L0, v, 0.1, 0.2), [r[0], r[1], r[2]]);
    }
    // Ia peaks during the ramp (velocity term) and drops back on the hold, staying above rest (length term).
    let ia: Vec<f64> = rates.iter().map(|r| r[0]).collect();
    let peak = ia.iter().cloned().fold(0.0, f64::max);
    let at_peak = ia.iter().position(|&x| x == peak).unwrap();
    assert!((100..150).contains(&at_peak), "Ia peaks at {at_peak} ms");
    assert!(ia[300] < peak - 20.0 && ia[300] > ia[50]);
    // II holds with length: constant over the hold, higher than at rest.
    let ii: Vec<f64> = rates.iter().map(|r| r[1]).collect();
    assert!(ii[160..450].iter().all(|&x| (x - ii[200]).abs() < 1e-12));
    assert!((ii[200] - ii[50] - 13.5).abs() < 1e-9);
}

#[test]
fn spike_counts_match_rates() {
    // 50 afferents per muscle, integrate-and-fire: count over the hold = rate * time * n within +-n.
    let cfg = json!({
        "muscles": ["Foot1"], "rest_length_m": [L0], "afferents_per_muscle": 50,
        "encoding": "integrate_and_fire"
    });
    let (rates, counts, _) = run(cfg, 2, 450);
    let ii_rate = rates[300][1];
    let ii_count: usize = counts[200..450].iter().map(|c| c[1]).sum();
    let expected = ii_rate * 0.25 * 50.0;
    assert!(
        (ii_count as f64 - expected).abs() <= 50.0,
        "{ii_count} vs {expected}"
    );
    // Poisson: within 4 sigma.
    let cfg = json!({ "muscles": ["Foot1"], "rest_length_m": [L0], "afferents_per_muscle": 50 });
    let (rates, counts, _) = run(cfg, 3, 450);
    let ia_hold: usize = counts[200..450].iter().map(|c| c[0]).sum();
    let expected = rates[300][0] * 0.25 * 50.0;
    assert!(
        (ia_hold as f64 - expected).abs() < 4.0 * expected.sqrt(),
        "{ia_hold} vs {expected}"
    );
    // During the ramp the Ia population fires faster than during the hold.
    let ia_ramp: usize = counts[100..150].iter().map(|c| c[0]).sum();
    assert!(ia_ramp as f64 / 50.0 > ia_hold as f64 / 250.0 * 1.1);
}

#[test]
fn same_seed_same_spikes_and_reset_replays() {
    let cfg = json!({ "muscles": ["Foot1", "Foot2"], "afferents_per_muscle": 10 });
    let record = |h: &mut Harness| {
        let mut all = Vec::new();
        for k in 0..200 {
            let (l, v) = ramp_hold(k);
            let x = [input(l, v, 0.05, 0.1), input(l, -v, 0.2, 0.0)].concat();
            h.step(Some(&x));
            all.push((h.spikes("ia"), h.spikes("ii"), h.spikes("ib")));
        }
        all
    };
    let c = ctx("spindles", cfg.clone(), 9, 1);
    let mut a = Harness::new(neuroloop_sensors::new_proprioception, &c);
    let mut b = Harness::new(neuroloop_sensors::new_proprioception, &c);
    let first = record(&mut a);
    assert!(first.iter().map(|s| s.0.len()).sum::<usize>() > 100);
    assert_eq!(first, record(&mut b));
    let mut d = Harness::new(
        neuroloop_sensors::new_proprioception,
        &ctx("spindles", cfg, 10, 1),
    );
    assert_ne!(first, record(&mut d));
    a.reset();
    assert_eq!(first, record(&mut a));
}

#[test]
fn shortening_silences_the_velocity_term() {
    let m = SpindleModel::default();
    let r = m.rates(L0, L0, -0.5, 0.0, 0.0);
    // 4.3 * -(500)^0.6 + 80 < 0 -> clipped at 0.
    assert_eq!(r[0], 0.0);
    assert_eq!(r[1], 80.0);
}

#[test]
fn lin_crago_tendon_organ_follows_its_equations() {
    use neuroloop_sensors::proprio::{IbModel, LinCragoFilter};
    let m = SpindleModel {
        ib_model: IbModel::LinCrago,
        ..SpindleModel::default()
    };
    // Static nonlinearity: 60 Hz * ln(F / 4 N + 1); no force, no rate; compression counts as none.
    for f in [0.0, 0.1, 0.5, 2.0, 40.0] {
        let want = 60.0 * (f / 4.0 + 1.0f64).ln();
        assert!((m.ib_static(f) - want).abs() < 1e-12, "{f}");
        assert!((m.rates(L0, L0, 0.0, f, 0.0)[2] - want.min(500.0)).abs() < 1e-12);
    }
    assert_eq!(m.ib_static(-1.0), 0.0);
    // A force step from 0 to 0.5 N after 100 ms: the rate jumps to 1.7 R and adapts to R as
    // R (1 + A exp(-0.2 t) + B exp(-2 t)) (partial fractions of H(s) / s: A = 2/15, B = 17/30).
    let cfg = json!({ "muscles": ["Foot1"], "rest_length_m": [L0],
                      "model": { "ib_model": "lin_crago" } });
    let mut h = Harness::new(
        neuroloop_sensors::new_proprioception,
        &ctx("gto", cfg, 1, 1),
    );
    let f = 0.5;
    let r_static = 60.0 * (f / 4.0 + 1.0f64).ln();
    let (a, b) = (2.0 / 15.0, 17.0 / 30.0);
    let mut ib = Vec::new();
    for k in 0..3100 {
        h.step(Some(&input(L0, 0.0, if k < 100 { 0.0 } else { f }, 0.0)));
        ib.push(h.analog("rates")[2]);
    }
    assert!(ib[..100].iter().all(|&r| r == 0.0));
    for (k, &rate) in ib.iter().enumerate().skip(100) {
        let t = (k - 100) as f64 * 1e-3;
        let want = r_static * (1.0 + a * (-0.2 * t).exp() + b * (-2.0 * t).exp());
        assert!(
            (rate - want).abs() < 2e-3 * r_static,
            "{k} ms: {rate} vs {want}"
        );
    }
    assert!((ib[100] / r_static - 1.7).abs() < 2e-3);
    // The filter alone: starts in steady state, unit static gain.
    let mut filt = LinCragoFilter::default();
    assert_eq!(filt.step(10.0, 1e-3), 10.0);
    let last = (0..200_000).map(|_| filt.step(10.0, 1e-3)).last().unwrap();
    assert!((last - 10.0).abs() < 1e-9);
}
