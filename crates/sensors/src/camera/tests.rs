use super::*;

use neuroloop_core::engine::InitContext;

fn saccades(rate_hz: f64, drift: f64) -> JitterConfig {
    JitterConfig {
        kind: JitterKind::Microsaccades,
        amplitude_deg: 0.25,
        frequency_hz: None,
        rate_hz,
        duration_ms: 20.0,
        drift_deg_per_sqrt_s: drift,
    }
}

#[test]
fn microsaccades_come_at_the_configured_rate_and_keep_the_gaze_near_fixation() {
    for rate in [1.0, 3.0] {
        let mut g = Gaze::new(&saccades(rate, 0.1), 5, 0.0);
        let seconds = 1000.0;
        let mut far: f64 = 0.0;
        for k in 0..(seconds as usize) {
            let [y, p] = g.at(k as f64 * 1e3);
            far = far.max(y.hypot(p));
            g.forget_before(k as f64 * 1e3);
        }
        let n = g.onsets_ms().len() as f64;
        let expected = rate * seconds;
        assert!(
            (n - expected).abs() < 0.05 * expected,
            "{n} saccades at {rate} Hz"
        );
        // Saccades aim back towards the fixation point: the gaze stays within a few saccades.
        assert!(far < 1.0, "gaze wandered {far} deg away");
        // No two saccades overlap.
        assert!(g.onsets_ms().windows(2).all(|w| w[1] - w[0] >= 20.0));
    }
}

#[test]
fn gaze_path_depends_on_seed_and_time_only() {
    // Without drift each saccade moves the gaze by exactly its amplitude, and nothing else does.
    let mut g = Gaze::new(&saccades(2.0, 0.0), 1, 0.0);
    let path: Vec<[f64; 2]> = (0..20_000).map(|k| g.at(k as f64 * 0.5)).collect();
    let onsets = g.onsets_ms().to_vec();
    assert!(onsets.len() > 5);
    for &t in &onsets {
        let (a, b) = ((t / 0.5) as usize, ((t + 20.0) / 0.5).ceil() as usize + 1);
        let d = (path[b][0] - path[a][0]).hypot(path[b][1] - path[a][1]);
        assert!((d - 0.25).abs() < 1e-9, "saccade at {t}: {d}");
    }
    let still = |k: usize| {
        onsets
            .iter()
            .all(|&t| (k as f64 * 0.5) < t || (k as f64 * 0.5) > t + 20.5)
    };
    for k in 1..path.len() {
        if still(k) && still(k - 1) {
            assert_eq!(path[k], path[k - 1]);
        }
    }
    // Read at other times (with drift): the same path where the times coincide.
    let j = saccades(2.0, 0.1);
    let mut a = Gaze::new(&j, 3, 0.0);
    let mut b = Gaze::new(&j, 3, 0.0);
    let mut c = Gaze::new(&j, 4, 0.0);
    let mut differs = false;
    for k in 0..5000 {
        let t = k as f64;
        let _ = b.at(t - 0.37);
        let _ = b.at(t - 0.13);
        assert_eq!(a.at(t), b.at(t));
        differs |= a.at(t) != c.at(t);
    }
    assert!(differs);
}

#[test]
fn photoreceptor_low_pass_follows_the_first_order_step_response() {
    let eps = 0.001;
    let c = 0.1;
    let cutoff_hz = 300.0;
    let tau_ms = 1e3 / (std::f64::consts::TAU * cutoff_hz);
    // A bright step (fast) and a step down to a dark level (slow: v2e's intensity scaling).
    for (i0, i1) in [(0.2f64, 0.8f64), (0.8, 0.05)] {
        let ctx = InitContext {
            name: "dvs".into(),
            config: serde_json::json!({
                "width": 1, "height": 1, "scene": { "bodies": [], "planes": [] },
                "esim": { "threshold_on": c, "threshold_off": c, "threshold_mismatch_sigma": 0.0,
                          "threshold_noise_sigma": 0.0, "leak_rate_hz": 0.0,
                          "shot_noise_rate_hz": 0.0, "refractory_ms": 0.0,
                          "cutoff_hz": cutoff_hz }
            }),
            seed: 1,
            base_step_ms: 1.0,
            period: 1,
            episode: 0,
        };
        let mut cam = EventCamera::new(&ctx).unwrap();
        cam.init_pixels(0.0);
        let (l0, l1) = ((eps + i0).ln(), (eps + i1).ln());
        {
            let px = cam.pixels.as_mut().unwrap();
            px.intensity[0] = i0;
            px.log[0] = l0;
            px.reference[0] = l0;
        }
        cam.image[0] = i1;
        cam.regions.push((0, 1, 0, 1));
        let tau_eff = tau_ms / ((255.0 * i1 + 20.0) / 275.0);
        let dt = 0.001;
        for k in 0..150_000 {
            cam.emit(f64::from(k) * dt, f64::from(k + 1) * dt);
            if k % 1000 == 999 {
                // The filtered log intensity is the exact first-order response.
                let t = f64::from(k + 1) * dt;
                let want = l1 + (l0 - l1) * (-t / tau_eff).exp();
                let got = cam.pixels.as_ref().unwrap().log[0];
                assert!((got - want).abs() < 1e-9, "{t} ms: {got} vs {want}");
            }
        }
        // One event per threshold crossed, at t_k = -tau ln(1 - k C / |L1 - L0|).
        let n = ((l1 - l0).abs() / c).floor() as usize;
        assert_eq!(cam.raw.len(), n, "{:?}", cam.raw);
        for (k, ev) in cam.raw.iter().enumerate() {
            let frac = (k + 1) as f64 * c / (l1 - l0).abs();
            let want = -tau_eff * (1.0 - frac).ln();
            assert_eq!(ev.2, i1 > i0);
            assert!(
                (ev.0 - want).abs() < 2.0 * dt,
                "event {k}: {} vs {want}",
                ev.0
            );
        }
        // Settled: no pixel is left to update.
        assert!(cam.pixels.as_ref().unwrap().unsettled.is_empty());
    }
}

#[test]
fn event_times_are_interpolated_linearly_between_samples() {
    let ctx = InitContext {
        name: "dvs".into(),
        config: serde_json::json!({
            "width": 1, "height": 1, "scene": { "planes": [] },
            "esim": { "threshold_on": 0.3, "threshold_off": 0.3, "threshold_mismatch_sigma": 0.0,
                      "threshold_noise_sigma": 0.0, "leak_rate_hz": 0.0, "shot_noise_rate_hz": 0.0,
                      "refractory_ms": 0.0 }
        }),
        seed: 1,
        base_step_ms: 1.0,
        period: 1,
        episode: 0,
    };
    let mut cam = EventCamera::new(&ctx).unwrap();
    cam.init_pixels(0.0);
    let eps = 0.001;
    let (i0, i1) = (0.2, 0.8);
    {
        let px = cam.pixels.as_mut().unwrap();
        px.intensity[0] = i0;
        px.log[0] = (eps + i0).ln();
        px.reference[0] = px.log[0];
    }
    cam.image[0] = i1;
    cam.regions.push((0, 1, 0, 1));
    cam.emit(10.0, 12.0);
    let (l0, l1) = ((eps + i0).ln(), (eps + i1).ln());
    let expected: Vec<f64> = (1..=4)
        .map(|k| 10.0 + (f64::from(k) * 0.3) / (l1 - l0) * 2.0)
        .collect();
    assert_eq!(cam.raw.len(), 4);
    for (e, t) in cam.raw.iter().zip(&expected) {
        assert!(e.2 && (e.0 - t).abs() < 1e-12, "{e:?} vs {t}");
    }
    // The reference moved by 4 thresholds; going back down gives OFF events.
    let px = cam.pixels.as_ref().unwrap();
    assert!((px.reference[0] - (l0 + 1.2)).abs() < 1e-12);
}
