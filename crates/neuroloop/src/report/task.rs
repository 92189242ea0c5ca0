//! The joystick task's per-trial records (`<body>.trials.jsonl`): the learning curve, the lateral
//! displacement per trial beside Mathis et al. (2017) and the trajectories per block.

use std::path::Path;

use serde::Deserialize;

use super::svg::{colour, range_of, Panel, Svg};

/// Mathis et al. (2017), block means of the lateral displacement at the 1 mm bin (authors' data):
/// (first trial, last trial, mm, what).
pub const PAPER_LATERAL_MM: [(usize, usize, f64, &str); 3] = [
    (76, 85, -1.28, "force field, first trials"),
    (166, 175, -1.00, "force field, last trials"),
    (176, 185, 0.61, "washout, after-effect"),
];

/// The fields of a trial record the report uses (the layout of `neuroloop_body::task::TrialRecord`;
/// `null`s are NaNs written by serde_json).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Trial {
    /// `baseline`, `force_field` or `washout`.
    #[serde(default)]
    pub block: Option<String>,
    /// `success` for a rewarded trial.
    pub outcome: String,
    /// Lateral displacement at each of the task's bins, mm.
    #[serde(default)]
    pub lateral_at_bins_mm: Vec<Option<f64>>,
    /// (time since start ms, pull mm, lateral mm).
    #[serde(default)]
    pub trajectory: Vec<[Option<f64>; 3]>,
}

impl Trial {
    /// Whether the trial was rewarded.
    pub fn success(&self) -> bool {
        self.outcome == "success"
    }

    fn block_name(&self) -> &str {
        self.block.as_deref().unwrap_or("trials")
    }
}

/// Reads the trial records at `path`, up to the first line that cannot be read; the error names the
/// file and line (the trials before it are kept).
pub fn read_trials(path: &Path) -> Result<(Vec<Trial>, Option<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut trials = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Trial>(line) {
            Ok(t) => trials.push(t),
            Err(e) => {
                return Ok((
                    trials,
                    Some(format!(
                        "{} line {}: {e} (the {} trials before it are shown)",
                        path.display(),
                        i + 1,
                        i
                    )),
                ))
            }
        }
    }
    Ok((trials, None))
}

/// The blocks in trial order: (name, first trial index, end index).
pub fn blocks(trials: &[Trial]) -> Vec<(String, usize, usize)> {
    let mut out: Vec<(String, usize, usize)> = Vec::new();
    for (i, t) in trials.iter().enumerate() {
        match out.last_mut() {
            Some(b) if b.0 == t.block_name() => b.2 = i + 1,
            _ => out.push((t.block_name().to_string(), i, i + 1)),
        }
    }
    out
}

fn block_colour(name: &str) -> &'static str {
    match name {
        "baseline" => colour(0),
        "force_field" => colour(1),
        "washout" => colour(2),
        _ => colour(7),
    }
}

/// Light bands behind a trial axis marking the blocks, with their names.
fn block_bands(svg: &mut Svg, panel: &Panel, blocks: &[(String, usize, usize)]) {
    if blocks.len() < 2 {
        return;
    }
    for (k, (name, a, b)) in blocks.iter().enumerate() {
        let (x0, x1) = (panel.px(*a as f64 + 0.5), panel.px(*b as f64 + 0.5));
        if k % 2 == 1 {
            svg.rect(x0, panel.top, x1 - x0, panel.height, "#f3f3f3", "none");
        }
        svg.text((x0 + x1) / 2.0, panel.top + 12.0, name, "middle", 10.0);
    }
}

/// The learning curve (success per `block` trials) as bars over the trials they cover.
pub fn learning_curve_figure(trials: &[Trial], curve: &[(f64, usize)], block: usize) -> String {
    let n = trials.len();
    let mut svg = Svg::new(820.0, 300.0);
    let panel = Panel {
        left: 70.0,
        top: 30.0,
        width: 720.0,
        height: 210.0,
        x: (0.5, n as f64 + 0.5),
        y: (0.0, 1.0),
    };
    block_bands(&mut svg, &panel, &blocks(trials));
    for (k, &(rate, len)) in curve.iter().enumerate() {
        let a = (k * block) as f64 + 0.5;
        let (x0, x1) = (panel.px(a), panel.px(a + len as f64));
        let y = panel.py(rate);
        svg.rect(
            x0 + 1.0,
            y,
            x1 - x0 - 2.0,
            panel.py(0.0) - y,
            colour(0),
            "none",
        );
        svg.text(
            (x0 + x1) / 2.0,
            y - 3.0,
            &format!("{rate:.2}"),
            "middle",
            10.0,
        );
    }
    svg.axes(
        &panel,
        "trial",
        "success rate",
        &format!("success per {block} trials ({n} trials)"),
    );
    svg.finish()
}

/// Mean of the finite values of trials `first..=last` (1-based) at bin `bin`: (mean, trials used).
pub fn block_mean(trials: &[Trial], first: usize, last: usize, bin: usize) -> Option<(f64, usize)> {
    let vals: Vec<f64> = trials
        .iter()
        .enumerate()
        .filter(|(i, _)| (first..=last).contains(&(i + 1)))
        .filter_map(|(_, t)| t.lateral_at_bins_mm.get(bin).copied().flatten())
        .filter(|v| v.is_finite())
        .collect();
    (!vals.is_empty()).then(|| (vals.iter().sum::<f64>() / vals.len() as f64, vals.len()))
}

/// The lateral displacement at bin `bin` (of `bin_mm` mm) per trial, coloured by block, with the
/// paper's block means (dashed black) and this run's means over the same trials (solid red).
pub fn lateral_figure(trials: &[Trial], bin: usize, bin_mm: f64) -> String {
    let pts: Vec<(f64, f64, &str)> = trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = t.lateral_at_bins_mm.get(bin).copied().flatten();
            ((i + 1) as f64, v.unwrap_or(f64::NAN), t.block_name())
        })
        .collect();
    let n = trials.len();
    let last_paper = PAPER_LATERAL_MM[2].1;
    let x_hi = n.max(if n >= PAPER_LATERAL_MM[0].0 {
        last_paper
    } else {
        n
    });
    let (lo, hi) = range_of(
        pts.iter()
            .map(|p| p.1)
            .chain(PAPER_LATERAL_MM.iter().map(|p| p.2)),
        0.08,
    );
    let mut svg = Svg::new(900.0, 320.0);
    let panel = Panel {
        left: 70.0,
        top: 30.0,
        width: 680.0,
        height: 230.0,
        x: (0.5, x_hi as f64 + 0.5),
        y: (lo, hi),
    };
    block_bands(&mut svg, &panel, &blocks(trials));
    svg.line(
        (panel.left, panel.py(0.0)),
        (panel.left + panel.width, panel.py(0.0)),
        "#bbb",
        1.0,
        false,
    );
    for (name, _, _) in blocks(trials) {
        let p: Vec<(f64, f64)> = pts
            .iter()
            .filter(|x| x.2 == name)
            .map(|x| (x.0, x.1))
            .collect();
        svg.dots(&panel, &p, block_colour(&name), 2.5);
    }
    for &(a, b, mm, _) in &PAPER_LATERAL_MM {
        if b <= x_hi {
            svg.line(
                (panel.px(a as f64 - 0.5), panel.py(mm)),
                (panel.px(b as f64 + 0.5), panel.py(mm)),
                "#000",
                2.0,
                true,
            );
        }
        if let Some((m, _)) = block_mean(trials, a, b, bin) {
            svg.line(
                (panel.px(a as f64 - 0.5), panel.py(m)),
                (panel.px(b as f64 + 0.5), panel.py(m)),
                "#d62728",
                2.5,
                false,
            );
        }
    }
    svg.axes(
        &panel,
        "trial",
        &format!("lateral at {bin_mm} mm (mm)"),
        &format!("lateral displacement at the {bin_mm} mm bin per trial"),
    );
    let mut legend: Vec<(String, String)> = blocks(trials)
        .iter()
        .map(|b| (b.0.clone(), block_colour(&b.0).to_string()))
        .collect();
    legend.dedup();
    legend.push(("paper, block mean".into(), "#000".into()));
    legend.push(("this run, same trials".into(), "#d62728".into()));
    svg.legend(panel.left + panel.width + 14.0, panel.top + 10.0, &legend);
    svg.finish()
}

/// Trajectories (pull against lateral, mm) per block, one panel each, at most `max_per_block` trials
/// a block (evenly spaced); rewarded trials in colour, others grey. Returns the figure and how many
/// trials were drawn of how many.
pub fn trajectories_figure(trials: &[Trial], max_per_block: usize) -> (String, usize, usize) {
    let bl = blocks(trials);
    let all_pts = trials.iter().flat_map(|t| t.trajectory.iter());
    let xs: Vec<f64> = all_pts.clone().filter_map(|p| p[1]).collect();
    let ys: Vec<f64> = all_pts.filter_map(|p| p[2]).collect();
    let (x, y) = (range_of(xs, 0.05), range_of(ys, 0.05));
    let (pw, ph) = (260.0, 230.0);
    let mut svg = Svg::new(80.0 + bl.len() as f64 * (pw + 40.0), ph + 80.0);
    let mut drawn = 0;
    for (k, (name, a, b)) in bl.iter().enumerate() {
        let panel = Panel {
            left: 70.0 + k as f64 * (pw + 40.0),
            top: 30.0,
            width: pw,
            height: ph,
            x,
            y,
        };
        let n = b - a;
        let step = n.div_ceil(max_per_block.max(1)).max(1);
        let mut shown = 0;
        for (i, t) in trials[*a..*b].iter().enumerate() {
            if i % step != 0 {
                continue;
            }
            let pts: Vec<(f64, f64)> = t
                .trajectory
                .iter()
                .map(|p| (p[1].unwrap_or(f64::NAN), p[2].unwrap_or(f64::NAN)))
                .collect();
            let c = if t.success() {
                block_colour(name)
            } else {
                "#bbb"
            };
            svg.series(&panel, &pts, c, 1.0);
            shown += 1;
        }
        drawn += shown;
        svg.axes(
            &panel,
            "pull (mm)",
            if k == 0 { "lateral (mm)" } else { "" },
            &format!("{name}: trials {}-{} ({shown} of {n} drawn)", a + 1, b),
        );
    }
    (svg.finish(), drawn, trials.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(block: &str, ok: bool, lateral: Option<f64>) -> Trial {
        Trial {
            block: Some(block.into()),
            outcome: if ok { "success" } else { "timeout" }.into(),
            lateral_at_bins_mm: vec![Some(9.0), lateral],
            trajectory: vec![
                [Some(0.0), Some(0.0), Some(0.0)],
                [Some(5.0), Some(1.0), lateral],
            ],
        }
    }

    #[test]
    fn trials_are_read_up_to_a_broken_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("body.trials.jsonl");
        std::fs::write(
            &p,
            "{\"block\":\"baseline\",\"outcome\":\"success\",\"lateral_at_bins_mm\":[null,1.5],\"trajectory\":[]}\n{\"outcome\": 3}\n{}\n",
        )
        .unwrap();
        let (t, err) = read_trials(&p).unwrap();
        assert_eq!(t.len(), 1);
        assert!(t[0].success());
        assert_eq!(t[0].lateral_at_bins_mm, [None, Some(1.5)]);
        let err = err.unwrap();
        assert!(err.contains("body.trials.jsonl line 2"), "{err}");
        assert!(read_trials(&dir.path().join("none.jsonl"))
            .unwrap_err()
            .contains("none.jsonl"));
    }

    #[test]
    fn blocks_and_block_means() {
        let mut t = vec![trial("baseline", true, Some(1.0)); 3];
        t.push(trial("force_field", false, Some(-1.0)));
        t.push(trial("force_field", true, None));
        t.push(trial("washout", true, Some(0.5)));
        assert_eq!(
            blocks(&t),
            [
                ("baseline".to_string(), 0, 3),
                ("force_field".to_string(), 3, 5),
                ("washout".to_string(), 5, 6)
            ]
        );
        // Trials 3-5: 1.0, -1.0 and a bin never reached.
        assert_eq!(block_mean(&t, 3, 5, 1), Some((0.0, 2)));
        assert_eq!(block_mean(&t, 7, 9, 1), None);
        let svg = lateral_figure(&t, 1, 1.0);
        assert!(svg.contains("force_field") && svg.contains("paper, block mean"));
        let (svg, drawn, of) = trajectories_figure(&t, 1);
        assert_eq!((drawn, of), (3, 6));
        assert!(svg.contains("baseline: trials 1-3 (1 of 3 drawn)"), "{svg}");
        let curve = neuroloop_record::learning_curve(&[true, true, true, false, true, true], 4);
        let svg = learning_curve_figure(&t, &curve, 4);
        assert!(svg.contains(">0.75<") && svg.contains(">1.00<"), "{svg}");
    }
}
