//! Analog and scalar recordings (one small panel per channel, averaged in bins), event-camera frames
//! (ON/OFF events accumulated) and the run's timings, each read chunk by chunk.

use std::path::Path;

use neuroloop_record::{Manifest, RecordedData, Recording};

use super::svg::{colour, encode_png, range_of, Panel, Svg};
use super::Limits;

/// The largest time in the recording at `path` (0 when empty).
pub fn last_time(path: &Path) -> Result<f64, String> {
    let mut t = 0f64;
    Recording::read_chunks(path, |c| {
        t = c.t_ms.iter().copied().fold(t, f64::max);
    })
    .map_err(|e| e.to_string())?;
    Ok(t)
}

/// An analog or scalar recording averaged in `limits.signal_bins` bins over `(0, t_end]`: one panel a
/// channel, at most `limits.channels` channels. Returns the figure and the channels drawn of how many;
/// None for a recording that is not analog or scalar.
pub fn signals_figure(
    path: &Path,
    t_end: f64,
    limits: &Limits,
) -> Result<Option<(String, usize, usize)>, String> {
    if !matches!(
        Recording::layout_of(path).map_err(|e| e.to_string())?,
        RecordedData::Values { .. }
    ) {
        return Ok(None);
    }
    let bins = limits.signal_bins.max(1);
    let bin_ms = t_end / bins as f64;
    let mut head: Option<(Vec<String>, Vec<String>)> = None;
    let mut sums: Vec<Vec<(f64, u32)>> = Vec::new();
    let mut other = false;
    Recording::read_chunks(path, |c| {
        let RecordedData::Values {
            names,
            units,
            columns,
        } = &c.data
        else {
            other = true;
            return;
        };
        if head.is_none() {
            let n = names.len().min(limits.channels);
            head = Some((names.clone(), units.clone()));
            sums = vec![vec![(0.0, 0); bins]; n];
        }
        for (ch, acc) in sums.iter_mut().enumerate() {
            for (&t, &v) in c.t_ms.iter().zip(&columns[ch]) {
                if t <= 0.0 || t > t_end || !v.is_finite() {
                    continue;
                }
                let b = (((t / bin_ms).ceil() as usize).max(1) - 1).min(bins - 1);
                acc[b].0 += v;
                acc[b].1 += 1;
            }
        }
    })
    .map_err(|e| e.to_string())?;
    let Some((names, units)) = head.filter(|_| !other) else {
        return Ok(None);
    };
    let (pw, ph) = (760.0, 70.0);
    let mut svg = Svg::new(pw + 240.0, (ph + 24.0) * sums.len() as f64 + 50.0);
    for (ch, acc) in sums.iter().enumerate() {
        let pts: Vec<(f64, f64)> = acc
            .iter()
            .enumerate()
            .map(|(b, &(s, n))| {
                let v = if n > 0 { s / n as f64 } else { f64::NAN };
                ((b as f64 + 0.5) * bin_ms, v)
            })
            .collect();
        let panel = Panel {
            left: 70.0,
            top: 14.0 + ch as f64 * (ph + 24.0),
            width: pw,
            height: ph,
            x: (0.0, t_end),
            y: range_of(pts.iter().map(|p| p.1), 0.08),
        };
        let last = ch + 1 == sums.len();
        svg.axes(&panel, if last { "time (ms)" } else { "" }, "", "");
        svg.series(&panel, &pts, colour(ch), 1.2);
        let unit = units.get(ch).filter(|u| !u.is_empty());
        svg.text(
            panel.left + pw + 10.0,
            panel.top + ph / 2.0 + 4.0,
            &match unit {
                Some(u) => format!("{} ({u})", names[ch]),
                None => names[ch].clone(),
            },
            "start",
            11.0,
        );
    }
    Ok(Some((svg.finish(), sums.len(), names.len())))
}

/// Camera frames: the PNG, the window of each frame (ms) and the events drawn.
pub type Frames = (Vec<u8>, Vec<(f64, f64)>, u64);

/// Event-camera frames: the ON and OFF events of each of `limits.camera_frames` equal parts of
/// `(0, t_end]` accumulated per pixel, side by side in one RGB image (ON green, OFF magenta, on
/// black; brightness grows with the log of the count). Returns the PNG, the windows (ms) and the
/// events drawn (events outside the sensor or the run are left out).
pub fn camera_frames(
    path: &Path,
    size: (usize, usize),
    t_end: f64,
    limits: &Limits,
) -> Result<Frames, String> {
    let (w, h) = size;
    if w == 0 || h == 0 || w > 4096 || h > 4096 {
        return Err(format!(
            "{}: a {w}x{h} sensor cannot be drawn",
            path.display()
        ));
    }
    let k = limits.camera_frames.max(1);
    let seg = t_end / k as f64;
    let mut on = vec![0u32; k * w * h];
    let mut off = vec![0u32; k * w * h];
    let (mut events, mut other) = (0u64, false);
    Recording::read_chunks(path, |c| {
        let RecordedData::Events { x, y, polarity } = &c.data else {
            other = true;
            return;
        };
        for i in 0..c.t_ms.len() {
            let t = c.t_ms[i];
            let (px, py) = (x[i] as usize, y[i] as usize);
            if t <= 0.0 || t > t_end || px >= w || py >= h {
                continue;
            }
            events += 1;
            let f = (((t / seg).ceil() as usize).max(1) - 1).min(k - 1);
            let cell = f * w * h + py * w + px;
            if polarity[i] {
                on[cell] += 1;
            } else {
                off[cell] += 1;
            }
        }
    })
    .map_err(|e| e.to_string())?;
    if other {
        return Err(format!("{} is not an events recording", path.display()));
    }
    let scale = (384 / w.max(h)).clamp(1, 4);
    let gap = 8;
    let (fw, fh) = (w * scale, h * scale);
    let iw = k * fw + (k - 1) * gap;
    let mut rgb = vec![255u8; iw * fh * 3];
    let max = on.iter().chain(&off).copied().max().unwrap_or(0).max(1) as f64;
    let level = |n: u32| ((1.0 + n as f64).ln() / (1.0 + max).ln() * 255.0).round() as u8;
    for f in 0..k {
        for py in 0..fh {
            for px in 0..fw {
                let cell = f * w * h + (py / scale) * w + px / scale;
                let (a, b) = (level(on[cell]), level(off[cell]));
                let i = (py * iw + f * (fw + gap) + px) * 3;
                rgb[i..i + 3].copy_from_slice(&[b, a, b]);
            }
        }
    }
    let png = encode_png(iw as u32, fh as u32, &rgb)?;
    let windows = (0..k)
        .map(|f| (f as f64 * seg, (f + 1) as f64 * seg))
        .collect();
    Ok((png, windows, events))
}

/// Per-step compute time of each engine (p50 bar, p99 whisker) and the lockstep coupling overhead,
/// in microseconds.
pub fn timing_figure(m: &Manifest) -> String {
    let mut rows: Vec<(String, f64, f64, &str)> = m
        .engines
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                format!("{} compute", e.name),
                e.compute_p50_us,
                e.compute_p99_us,
                colour(i),
            )
        })
        .collect();
    rows.push((
        "coupling overhead".into(),
        m.coupling_overhead_p50_us,
        m.coupling_overhead_p99_us,
        "#7f7f7f",
    ));
    let (_, hi) = range_of(rows.iter().flat_map(|r| [0.0, r.1, r.2]), 0.05);
    let row_h = 26.0;
    let mut svg = Svg::new(860.0, rows.len() as f64 * row_h + 90.0);
    let panel = Panel {
        left: 170.0,
        top: 30.0,
        width: 640.0,
        height: rows.len() as f64 * row_h,
        x: (0.0, hi),
        y: (0.0, 1.0),
    };
    svg.x_axis(
        &panel,
        "microseconds per step (bar: median, whisker: 99th percentile)",
        "time per lockstep step",
    );
    for (i, (label, p50, p99, c)) in rows.iter().enumerate() {
        let y = panel.top + i as f64 * row_h;
        svg.text(panel.left - 8.0, y + row_h / 2.0 + 4.0, label, "end", 11.0);
        if p50.is_finite() {
            let x1 = panel.px(*p50);
            svg.rect(
                panel.left,
                y + 5.0,
                x1 - panel.left,
                row_h - 10.0,
                c,
                "none",
            );
        }
        if p50.is_finite() && p99.is_finite() {
            let (a, b) = (panel.px(*p50), panel.px(*p99));
            svg.line(
                (a, y + row_h / 2.0),
                (b, y + row_h / 2.0),
                "#000",
                1.0,
                false,
            );
            svg.line((b, y + 8.0), (b, y + row_h - 8.0), "#000", 1.0, false);
        }
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use neuroloop_core::payload::{EventBatch, Payload};
    use neuroloop_core::port::PortKind;
    use neuroloop_core::time::Step;

    use super::*;

    #[test]
    fn camera_events_are_accumulated_per_frame() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = neuroloop_record::Recorder::new(dir.path());
        let id = rec
            .create(
                "cam",
                "events",
                &PortKind::Events {
                    width: 10,
                    height: 10,
                },
            )
            .unwrap();
        let mut b = EventBatch::default();
        b.push(0, 0, 1.0, true);
        b.push(3, 1, 1.5, false);
        b.push(9, 9, 1.5, false); // outside the 4x2 frame drawn below: left out
        rec.push(id, Step(2), 2.0, &Payload::Events(b)).unwrap();
        let mut b = EventBatch::default();
        b.push(1, 1, 7.0, true);
        rec.push(id, Step(8), 8.0, &Payload::Events(b)).unwrap();
        let (files, err) = rec.finish_all();
        assert!(err.is_none());
        let l = Limits {
            camera_frames: 2,
            ..Limits::default()
        };
        let (png, windows, n) = camera_frames(&files[0], (4, 2), 8.0, &l).unwrap();
        assert_eq!(n, 3);
        assert_eq!(windows, [(0.0, 4.0), (4.0, 8.0)]);
        let mut r = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        let (iw, scale) = (info.width as usize, 4);
        assert_eq!(iw, 2 * 4 * scale + 8);
        let px = |x: usize, y: usize| &buf[(y * iw + x) * 3..(y * iw + x) * 3 + 3];
        // Frame 0: ON at (0, 0) green, OFF at (3, 1) magenta; frame 1: ON at (1, 1).
        assert_eq!(px(0, 0), [0, 255, 0]);
        assert_eq!(px(3 * scale, scale), [255, 0, 255]);
        assert_eq!(px(scale, 0), [0, 0, 0]);
        assert_eq!(px(4 * scale + 8 + scale, scale), [0, 255, 0]);
        assert!(camera_frames(&files[0], (0, 2), 8.0, &l).is_err());
    }

    #[test]
    fn analog_recordings_are_binned_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = neuroloop_record::Recorder::new(dir.path());
        let id = rec
            .create(
                "arm",
                "pos",
                &PortKind::analog(&[("x", "mm"), ("y", "mm"), ("z", "mm")]),
            )
            .unwrap();
        for k in 1..=10u64 {
            let t = k as f64;
            rec.push(id, Step(k), t, &Payload::Analog(vec![t, -t, 0.0]))
                .unwrap();
        }
        let (files, err) = rec.finish_all();
        assert!(err.is_none());
        let l = Limits {
            channels: 2,
            signal_bins: 5,
            ..Limits::default()
        };
        let (svg, drawn, of) = signals_figure(&files[0], 10.0, &l).unwrap().unwrap();
        assert_eq!((drawn, of), (2, 3));
        assert!(svg.contains("x (mm)") && !svg.contains("z (mm)"), "{svg}");
        assert_eq!(last_time(&files[0]).unwrap(), 10.0);
    }

    #[test]
    fn timing_figure_lists_engines_and_coupling() {
        let m = Manifest {
            engines: vec![neuroloop_record::EngineTiming {
                name: "brain".into(),
                compute_p50_us: 70.0,
                compute_p99_us: 300.0,
                ..Default::default()
            }],
            coupling_overhead_p50_us: 150.0,
            coupling_overhead_p99_us: f64::NAN,
            ..Manifest::default()
        };
        let svg = timing_figure(&m);
        assert!(svg.contains("brain compute") && svg.contains("coupling overhead"));
    }
}
