//! Tactile skin: silence without contact, SA-I sustained and RA-I transient responses, rate rising with
//! force, RA locking to a vibration, send-on-delta events, determinism.

mod common;
use common::{ctx, Harness};
use neuroloop_core::payload::SpikeBatch;
use neuroloop_sensors::encoder::LifPopulation;
use neuroloop_sensors::skin::AfferentConfig;
use serde_json::{json, Value};

/// SA-I gains of the tests (saturation 10, tau_m 10 ms, t_ref 1 ms).
fn sa_test() -> AfferentConfig {
    AfferentConfig {
        k_s: 0.1,
        ..AfferentConfig::default()
    }
}

/// One taxel at the origin of shape `pad`, one at the same point on shape `digit` (contacts on `pad`
/// must not reach it); two contact slots; kernel sigma 0.5 mm; SA k_s 0.1 per kPa, RA 1 per kPa/ms,
/// saturation 10, send-on-delta 2 kPa.
fn config(extra: Value) -> Value {
    let mut c = json!({
        "shapes": ["pad", "digit"],
        "max_contacts": 2,
        "surfaces": [],
        "spread_sigma_m": 0.5e-3,
        "sa1": { "k_s": 0.1 },
        "ra1": { "k_ds_pos": 1.0, "k_ds_neg": 1.0 },
        "delta_kpa": 2.0,
        "taxels": [
            { "name": "centre", "shape": "pad", "position_m": [0.0, 0.0, 0.0] },
            { "name": "tip", "shape": "digit", "position_m": [0.0, 0.0, 0.0] }
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// Contacts input: one press at the origin of `pad` (shape 1) with `force_n`.
fn press(force_n: f64) -> Vec<f64> {
    let mut x = vec![0.0; 10];
    if force_n > 0.0 {
        x[..5].copy_from_slice(&[1.0, 0.0, 0.0, 0.0, force_n]);
    }
    x
}

/// Ramp 10 ms up to `f`, hold until 510 ms, ramp down 10 ms, then rest; steps of 1 ms.
fn ramp_hold(f: f64, k: u64) -> f64 {
    let t = k as f64;
    match k {
        0..50 => 0.0,
        50..60 => f * (t - 50.0) / 10.0,
        60..510 => f,
        510..520 => f * (520.0 - t) / 10.0,
        _ => 0.0,
    }
}

struct Run {
    sa: SpikeBatch,
    ra: SpikeBatch,
    events: Vec<(f64, u16, bool)>,
    pressure: Vec<f64>,
}

fn run(cfg: Value, seed: u64, steps: u64, force: impl Fn(u64) -> f64) -> Run {
    let mut h = Harness::new(neuroloop_sensors::new_skin, &ctx("skin", cfg, seed, 1));
    let mut r = Run {
        sa: SpikeBatch::default(),
        ra: SpikeBatch::default(),
        events: Vec::new(),
        pressure: Vec::new(),
    };
    for k in 0..steps {
        h.step(Some(&press(force(k))));
        r.sa.extend_from(&h.spikes("sa1"));
        r.ra.extend_from(&h.spikes("ra1"));
        let e = h.events("events");
        r.events
            .extend((0..e.len()).map(|i| (e.time_ms[i], e.x[i], e.polarity[i])));
        r.pressure.push(h.analog("pressure")[0]);
    }
    r
}

fn times(b: &SpikeBatch, neuron: u32) -> Vec<f64> {
    (0..b.len())
        .filter(|&i| b.neuron[i] == neuron)
        .map(|i| b.time_ms[i])
        .collect()
}

/// Peak pressure under a contact of `f` N with the default sigma of 0.5 mm, kPa.
fn peak_kpa(f: f64) -> f64 {
    f * 1e-3 / (2.0 * std::f64::consts::PI * 0.5e-3 * 0.5e-3)
}

#[test]
fn no_contact_no_spikes() {
    let r = run(config(json!({})), 1, 300, |_| 0.0);
    assert!(r.sa.is_empty() && r.ra.is_empty() && r.events.is_empty());
    assert!(r.pressure.iter().all(|&p| p == 0.0));
    // The default layout too.
    let mut h = Harness::new(neuroloop_sensors::new_skin, &ctx("skin", json!({}), 1, 1));
    for _ in 0..100 {
        h.step(Some(&[0.0; 80]));
        assert!(h.spikes("sa1").is_empty() && h.spikes("ra1").is_empty());
    }
}

#[test]
fn held_press_sa_sustained_ra_at_onset_and_offset() {
    let f = 0.05;
    let r = run(config(json!({})), 1, 700, |k| ramp_hold(f, k));
    assert!((r.pressure[100] - peak_kpa(f)).abs() < 1e-9);
    let sa = times(&r.sa, 0);
    let ra = times(&r.ra, 0);
    // SA fires in every 50 ms window of the hold, with the closed-form LIF interval once settled.
    for w in 0..9 {
        let (a, b) = (60.0 + 50.0 * w as f64, 110.0 + 50.0 * w as f64);
        assert!(
            sa.iter().any(|&t| t >= a && t < b),
            "no SA spike in [{a}, {b})"
        );
    }
    let sa_cfg = sa_test();
    let lif = LifPopulation::new(1, sa_cfg.tau_m_ms, sa_cfg.t_ref_ms, 0.2);
    let period_ms = f64::from(
        lif.period_slots(sa_cfg.current(peak_kpa(f), 0.0, 0.0))
            .unwrap(),
    ) * 0.2;
    let hold: Vec<f64> = sa
        .iter()
        .cloned()
        .filter(|&t| (100.0..500.0).contains(&t))
        .collect();
    assert!(
        hold.windows(2)
            .all(|w| (w[1] - w[0] - period_ms).abs() < 1e-9),
        "period {period_ms}"
    );
    // RA: spikes during the loading and unloading ramps (+ a few ms), none during the hold or at rest.
    assert!(ra.iter().any(|&t| (50.0..65.0).contains(&t)), "{ra:?}");
    assert!(ra.iter().any(|&t| (510.0..525.0).contains(&t)), "{ra:?}");
    assert!(
        ra.iter()
            .all(|&t| (50.0..65.0).contains(&t) || (510.0..525.0).contains(&t)),
        "{ra:?}"
    );
    // SA stops after release; the far taxel on another body never fires.
    assert!(sa.iter().all(|&t| t < 530.0));
    assert!(times(&r.sa, 1).is_empty() && times(&r.ra, 1).is_empty());
}

#[test]
fn sa_rate_rises_with_force() {
    let counts: Vec<usize> = [0.02, 0.05, 0.1, 0.2, 0.4]
        .iter()
        .map(|&f| {
            let r = run(config(json!({})), 1, 400, |k| ramp_hold(f, k));
            times(&r.sa, 0)
                .iter()
                .filter(|&&t| (100.0..400.0).contains(&t))
                .count()
        })
        .collect();
    assert!(counts[0] > 0);
    assert!(counts.windows(2).all(|w| w[1] > w[0]), "{counts:?}");
}

/// Vector strength of spike times at `f_hz` (1: every spike at the same phase).
fn vector_strength(t_ms: &[f64], f_hz: f64) -> f64 {
    let (mut c, mut s) = (0.0, 0.0);
    for &t in t_ms {
        let ph = 2.0 * std::f64::consts::PI * f_hz * t * 1e-3;
        c += ph.cos();
        s += ph.sin();
    }
    (c * c + s * s).sqrt() / t_ms.len() as f64
}

#[test]
fn ra_locks_to_a_vibration() {
    // 40 Hz sinusoidal force around 0.05 N, amplitude 0.02 N: a period of exactly 25 steps.
    let f = |k: u64| 0.05 + 0.02 * (2.0 * std::f64::consts::PI * 40.0 * k as f64 * 1e-3).sin();
    // Default RA (loading and unloading gains): one spike per half cycle, so locked at 2 f; loading only
    // (k_ds_neg = 0): one spike per cycle, locked at f.
    for (extra, per_cycle_expected, lock_hz) in [
        (json!({}), 2, 80.0),
        (
            json!({ "ra1": { "k_ds_pos": 1.0, "k_ds_neg": 0.0 } }),
            1,
            40.0,
        ),
    ] {
        let r = run(config(extra), 1, 1100, f);
        let ra: Vec<f64> = times(&r.ra, 0)
            .into_iter()
            .filter(|&t| t >= 100.0)
            .collect();
        let per_cycle: Vec<Vec<f64>> = (4..44)
            .map(|c| {
                let t0 = 25.0 * c as f64;
                ra.iter()
                    .filter(|&&t| t >= t0 && t < t0 + 25.0)
                    .map(|t| t - t0)
                    .collect()
            })
            .collect();
        for cycle in &per_cycle {
            assert_eq!(cycle.len(), per_cycle_expected, "{per_cycle:?}");
            for (a, b) in cycle.iter().zip(&per_cycle[0]) {
                assert!((a - b).abs() <= 0.2 + 1e-9, "phase drift {a} vs {b}");
            }
        }
        let vs = vector_strength(&ra, lock_hz);
        assert!(vs > 0.95, "vector strength at {lock_hz} Hz: {vs}");
    }
}

#[test]
fn send_on_delta_events() {
    let f = 0.05;
    let delta = 2.0;
    let r = run(config(json!({ "delta_kpa": delta })), 1, 700, |k| {
        ramp_hold(f, k)
    });
    let n = (peak_kpa(f) / delta).floor() as usize;
    let on: Vec<_> = r.events.iter().filter(|e| e.2).collect();
    let off: Vec<_> = r.events.iter().filter(|e| !e.2).collect();
    assert_eq!(on.len(), n);
    assert!(on.iter().all(|e| e.1 == 0 && e.0 >= 51.0 && e.0 < 61.0));
    // Linear ramp seen one 1 ms step late (the skin ramps from the previous input to the current one
    // over each step): the k-th ON event at 51 + 10 k delta / peak ms.
    for (k, e) in on.iter().enumerate() {
        let t = 51.0 + 10.0 * (k + 1) as f64 * delta / peak_kpa(f);
        assert!((e.0 - t).abs() < 1e-9, "{} vs {t}", e.0);
    }
    // Idle during the hold; back down on release.
    assert!(r.events.iter().all(|e| e.0 < 61.0 || e.0 >= 511.0));
    assert!(off.len() == n || off.len() == n - 1, "{}", off.len());
}

#[test]
fn same_seed_same_spikes_with_noise() {
    let cfg = config(json!({
        "sa1": { "k_s": 0.1, "noise_sigma": 0.3 },
        "ra1": { "k_ds_pos": 1.0, "k_ds_neg": 1.0, "noise_sigma": 0.3 },
        "pc": {}
    }));
    let a = run(cfg.clone(), 3, 300, |k| ramp_hold(0.05, k));
    let b = run(cfg.clone(), 3, 300, |k| ramp_hold(0.05, k));
    let c = run(cfg, 4, 300, |k| ramp_hold(0.05, k));
    assert!(!a.sa.is_empty());
    assert_eq!((a.sa.clone(), a.ra.clone()), (b.sa, b.ra));
    assert_ne!((a.sa, a.ra), (c.sa, c.ra));
}

#[test]
fn default_layout_covers_the_paw_shapes_denser_at_the_digits() {
    let skin = neuroloop_sensors::skin::Skin::new(&ctx("skin", json!({}), 1, 1)).unwrap();
    let names = skin.taxel_names();
    let pos = skin.taxel_positions();
    // Mean nearest-neighbour distance of the taxels of one shape.
    let spacing = |prefix: &str| {
        let pts: Vec<[f64; 3]> = (0..pos.len())
            .filter(|&i| names[i].starts_with(prefix))
            .map(|i| pos[i])
            .collect();
        let d =
            |a: &[f64; 3], b: &[f64; 3]| (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt();
        let nn: f64 = pts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                pts.iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, b)| d(a, b))
                    .fold(f64::INFINITY, f64::min)
            })
            .sum();
        (pts.len(), nn / pts.len() as f64)
    };
    let (n_palm, palm) = spacing("palm_pad");
    let (n_digit, digit) = spacing("digit3");
    assert!(n_palm > 20 && n_digit > 100, "{n_palm} {n_digit}");
    assert!(digit < 0.7 * palm, "digit {digit} m, palm {palm} m");
    // A press on the middle of digit 3 (shape 3) reaches only digit-3 taxels.
    let mut h = Harness::new(neuroloop_sensors::new_skin, &ctx("skin", json!({}), 1, 1));
    let mut x = vec![0.0; 80];
    x[..5].copy_from_slice(&[3.0, 0.0058393, 0.0000211, -0.0001734 - 0.00025, 0.01]);
    for _ in 0..5 {
        h.step(Some(&x));
    }
    let p = h.analog("pressure");
    assert!((0..p.len()).all(|i| p[i] == 0.0 || names[i].starts_with("digit3")));
    assert!(p.iter().cloned().fold(0.0, f64::max) > 10.0);
}

#[test]
fn pc_responds_to_vibration_not_to_a_slow_press() {
    let cfg = config(json!({ "pc": { "k_dds_pos": 5.0, "k_dds_neg": 5.0 } }));
    let pc_count = |force: &dyn Fn(u64) -> f64| {
        let mut h = Harness::new(neuroloop_sensors::new_skin, &ctx("skin", cfg.clone(), 1, 1));
        (0..600)
            .map(|k| {
                h.step(Some(&press(force(k))));
                h.spikes("pc").len()
            })
            .sum::<usize>()
    };
    let slow = pc_count(&|k| ramp_hold(0.05, k));
    let vib =
        pc_count(&|k| 0.05 + 0.005 * (2.0 * std::f64::consts::PI * 100.0 * k as f64 * 1e-3).sin());
    assert_eq!(slow, 0);
    assert!(vib > 50, "{vib}");
}

#[test]
fn reset_replays_the_same_spikes() {
    let cfg = config(json!({ "sa1": { "k_s": 0.1, "noise_sigma": 0.3 } }));
    let mut h = Harness::new(neuroloop_sensors::new_skin, &ctx("skin", cfg, 3, 1));
    let record = |h: &mut Harness| {
        (0..200)
            .map(|k| {
                h.step(Some(&press(ramp_hold(0.05, k))));
                (h.spikes("sa1"), h.spikes("ra1"), h.events("events"))
            })
            .collect::<Vec<_>>()
    };
    let first = record(&mut h);
    h.reset();
    assert_eq!(first, record(&mut h));
}

#[test]
fn longer_sync_steps_give_the_same_sa_rate() {
    // 5 ms sync steps (25 internal steps each) on a held press: same closed-form interval.
    let mut h = Harness::new(
        neuroloop_sensors::new_skin,
        &ctx("skin", config(json!({})), 1, 5),
    );
    let mut sa = Vec::new();
    for _ in 0..100 {
        h.step(Some(&press(0.05)));
        sa.extend(times(&h.spikes("sa1"), 0));
    }
    let cls = sa_test();
    let lif = LifPopulation::new(1, cls.tau_m_ms, cls.t_ref_ms, 0.2);
    let period_ms = f64::from(
        lif.period_slots(cls.current(peak_kpa(0.05), 0.0, 0.0))
            .unwrap(),
    ) * 0.2;
    let late: Vec<f64> = sa.into_iter().filter(|&t| t > 50.0).collect();
    assert!(late.len() > 10);
    assert!(late
        .windows(2)
        .all(|w| (w[1] - w[0] - period_ms).abs() < 1e-9));
}

#[test]
fn default_gains_give_100_to_200_hz_for_a_firm_press_and_silence_for_a_touch() {
    let skin = neuroloop_sensors::skin::Skin::new(&ctx("skin", json!({}), 1, 1)).unwrap();
    let target = skin.taxel_positions()[0]; // a palm_pad taxel (shape 1)
    let rate = |force_n: f64| {
        let mut h = Harness::new(neuroloop_sensors::new_skin, &ctx("skin", json!({}), 1, 1));
        let mut x = vec![0.0; 80];
        x[..5].copy_from_slice(&[1.0, target[0], target[1], target[2], force_n]);
        let mut n = 0;
        for k in 0..400 {
            h.step(Some(&x));
            if k >= 100 {
                n += times(&h.spikes("sa1"), 0).len();
            }
        }
        n as f64 / 0.3
    };
    let firm = rate(0.1);
    assert!((100.0..=200.0).contains(&firm), "{firm} Hz");
    assert!(rate(1.0) <= 198.0);
    assert_eq!(rate(0.005), 0.0);
}
