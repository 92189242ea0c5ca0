//! Spike recordings: which population and group each neuron of a port belongs to (from the brain's
//! `<engine>.neurons.json` or a sensor's `<engine>.afferents.json`), a raster of a time window and the
//! population rates over the whole run, read chunk by chunk so that a recording need not fit in
//! memory.

use std::path::Path;

use neuroloop_record::{RecordedData, Recording};
use serde::Deserialize;

use super::svg::{colour, colour_rgb, encode_png, range_of, Panel, Svg};
use super::Limits;

/// Neurons of one population shown in the raster.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    /// Its name (`M1`, or `spindles.ia` for afferents).
    pub name: String,
    /// Neurons of the port in this population.
    pub size: usize,
    /// Neurons shown (every `stride`-th).
    pub shown: usize,
    /// First raster row.
    pub first_row: usize,
    /// Groups: (label, first row, end row), in row order.
    pub groups: Vec<(String, usize, usize)>,
}

/// The neurons of one spike port mapped to populations and raster rows.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronMap {
    /// Populations in row order.
    pub populations: Vec<Population>,
    /// For each neuron of the port: (population, raster row or `u32::MAX` when not shown).
    pub neuron: Vec<(u32, u32)>,
    /// Where the map came from (for the caption).
    pub source: String,
}

impl NeuronMap {
    /// Raster rows in all.
    pub fn rows(&self) -> usize {
        self.populations.iter().map(|p| p.shown).sum()
    }
}

#[derive(Deserialize)]
struct NeuronsFile {
    populations: Vec<NeuronsPopulation>,
    outputs: Vec<NeuronsOutput>,
}

#[derive(Deserialize)]
struct NeuronsPopulation {
    name: String,
    #[serde(default)]
    groups: Vec<NeuronsGroup>,
}

#[derive(Deserialize)]
struct NeuronsGroup {
    name: String,
    global_range: [u64; 2],
}

#[derive(Deserialize)]
struct NeuronsOutput {
    port: String,
    population: String,
    group: Option<String>,
    global_range: [u64; 2],
}

/// Every `stride`-th of `n` neurons so that at most `max` are shown.
fn stride(n: usize, max: usize) -> usize {
    n.div_ceil(max.max(1)).max(1)
}

/// The map of port `port` from a brain's `neurons.json` text: one population per output entry of the
/// port (in order), groups from the population's groups.
pub fn from_neurons_json(text: &str, port: &str, limits: &Limits) -> Result<NeuronMap, String> {
    let file: NeuronsFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let outs: Vec<&NeuronsOutput> = file.outputs.iter().filter(|o| o.port == port).collect();
    if outs.is_empty() {
        return Err(format!("no output port \"{port}\" in it"));
    }
    let per_pop = (limits.raster_rows / outs.len()).clamp(1, limits.neurons_per_population);
    let (mut populations, mut neuron) = (Vec::new(), Vec::new());
    let mut row = 0usize;
    for (p, out) in outs.iter().enumerate() {
        let [g0, g1] = out.global_range;
        let size = g1.saturating_sub(g0) as usize;
        let s = stride(size, per_pop);
        let first_row = row;
        let mut groups: Vec<(String, usize, usize)> = Vec::new();
        let pop_groups = file
            .populations
            .iter()
            .find(|x| x.name == out.population)
            .map(|x| x.groups.as_slice())
            .unwrap_or_default();
        for k in 0..size {
            let shown = k % s == 0;
            neuron.push((p as u32, if shown { row as u32 } else { u32::MAX }));
            if !shown {
                continue;
            }
            let g = g0 + k as u64;
            if let Some(grp) = pop_groups
                .iter()
                .find(|x| x.global_range[0] <= g && g < x.global_range[1])
            {
                match groups.last_mut() {
                    Some(last) if last.0 == grp.name && last.2 == row => last.2 = row + 1,
                    _ => groups.push((grp.name.clone(), row, row + 1)),
                }
            }
            row += 1;
        }
        let name = match &out.group {
            Some(g) => format!("{}.{g}", out.population),
            None => out.population.clone(),
        };
        populations.push(Population {
            name,
            size,
            shown: row - first_row,
            first_row,
            groups,
        });
    }
    Ok(NeuronMap {
        populations,
        neuron,
        source: String::new(),
    })
}

/// The map of port `port` from a sensor's `afferents.json` text (`{"ports": {port: [{"neuron": i,
/// "muscle" | "shape" | "taxel": ...}]}}`): one population, grouped by muscle, else by shape.
pub fn from_afferents_json(
    text: &str,
    engine: &str,
    port: &str,
    size: usize,
    limits: &Limits,
) -> Result<NeuronMap, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let list = v
        .get("ports")
        .and_then(|p| p.get(port))
        .and_then(|p| p.as_array())
        .ok_or_else(|| format!("no ports.{port} list in it"))?;
    // (group label, neuron) in file order.
    let mut entries: Vec<(String, usize)> = Vec::new();
    for e in list {
        let Some(n) = e.get("neuron").and_then(|n| n.as_u64()) else {
            return Err(format!("an entry of ports.{port} has no neuron index: {e}"));
        };
        let label = ["muscle", "shape", "afferent"]
            .iter()
            .find_map(|k| e.get(*k).and_then(|x| x.as_str()))
            .unwrap_or("")
            .to_string();
        entries.push((label, n as usize));
    }
    let size = size.max(entries.iter().map(|e| e.1 + 1).max().unwrap_or(0));
    // Rows ordered by group (first appearance), then neuron.
    let mut order: Vec<String> = Vec::new();
    for (l, _) in &entries {
        if !order.contains(l) {
            order.push(l.clone());
        }
    }
    entries.sort_by_key(|(l, n)| (order.iter().position(|x| x == l), *n));
    let s = stride(entries.len(), limits.neurons_per_population);
    let mut neuron = vec![(0u32, u32::MAX); size];
    let mut groups: Vec<(String, usize, usize)> = Vec::new();
    let mut row = 0usize;
    for (k, (label, n)) in entries.iter().enumerate() {
        if k % s != 0 {
            continue;
        }
        neuron[*n] = (0, row as u32);
        match groups.last_mut() {
            Some(last) if &last.0 == label => last.2 = row + 1,
            _ => groups.push((label.clone(), row, row + 1)),
        }
        row += 1;
    }
    Ok(NeuronMap {
        populations: vec![Population {
            name: format!("{engine}.{port}"),
            size,
            shown: row,
            first_row: 0,
            groups,
        }],
        neuron,
        source: String::new(),
    })
}

/// A map without names: one population `name` of `size` neurons, by index.
pub fn by_index(name: &str, size: usize, limits: &Limits) -> NeuronMap {
    let s = stride(size, limits.neurons_per_population);
    let mut row = 0u32;
    let neuron = (0..size)
        .map(|k| {
            if k % s == 0 {
                row += 1;
                (0, row - 1)
            } else {
                (0, u32::MAX)
            }
        })
        .collect();
    NeuronMap {
        populations: vec![Population {
            name: name.to_string(),
            size,
            shown: row as usize,
            first_row: 0,
            groups: Vec::new(),
        }],
        neuron,
        source: "neuron index (no neuron map)".into(),
    }
}

/// What one pass over a spike recording gathered.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeSummary {
    /// Spikes in the file.
    pub spikes: u64,
    /// Spikes of neurons outside the map (ignored).
    pub unmapped: u64,
    /// Raster window `(t0, t1]`, ms.
    pub window: (f64, f64),
    /// Raster cells: `rows x columns`, 1 where a shown neuron spiked.
    pub raster: Vec<u8>,
    /// Raster columns.
    pub columns: usize,
    /// Rate bin width, ms.
    pub bin_ms: f64,
    /// Spike counts per population and bin.
    pub counts: Vec<Vec<u64>>,
}

/// Reads the spike recording at `path` chunk by chunk: the raster of the last
/// `limits.raster_window_ms` before `t_end` and the counts per population in bins over `(0, t_end]`.
pub fn summarize(
    path: &Path,
    map: &NeuronMap,
    t_end: f64,
    limits: &Limits,
) -> Result<SpikeSummary, String> {
    let t0 = (t_end - limits.raster_window_ms).max(0.0);
    let columns = limits.raster_columns;
    let rows = map.rows();
    let bin_ms = (t_end / limits.rate_bins as f64).max(limits.min_rate_bin_ms);
    let bins = ((t_end / bin_ms).ceil() as usize).max(1);
    let mut s = SpikeSummary {
        spikes: 0,
        unmapped: 0,
        window: (t0, t_end),
        raster: vec![0; rows * columns],
        columns,
        bin_ms,
        counts: vec![vec![0; bins]; map.populations.len()],
    };
    let mut wrong_kind = false;
    Recording::read_chunks(path, |chunk| {
        let RecordedData::Spikes { neuron, .. } = &chunk.data else {
            wrong_kind = true;
            return;
        };
        for (&t, &n) in chunk.t_ms.iter().zip(neuron) {
            s.spikes += 1;
            let Some(&(pop, row)) = map.neuron.get(n as usize) else {
                s.unmapped += 1;
                continue;
            };
            if t > 0.0 && t <= t_end {
                let b = (((t / bin_ms).ceil() as usize).max(1) - 1).min(bins - 1);
                s.counts[pop as usize][b] += 1;
            }
            if row != u32::MAX && t > t0 && t <= t_end {
                let c = ((((t - t0) / (t_end - t0)) * columns as f64).ceil() as usize).max(1) - 1;
                s.raster[row as usize * columns + c.min(columns - 1)] = 1;
            }
        }
    })
    .map_err(|e| e.to_string())?;
    if wrong_kind {
        return Err(format!("{} is not a spike recording", path.display()));
    }
    Ok(s)
}

/// The raster as an SVG figure (the spikes a PNG image inside it): populations top to bottom with
/// their names on the left and group labels on the right.
pub fn raster_figure(map: &NeuronMap, s: &SpikeSummary) -> Result<(String, Vec<u8>), String> {
    let rows = map.rows().max(1);
    let row_px = (600 / rows).clamp(1, 6);
    let (w, h) = (s.columns, rows * row_px);
    let mut rgb = vec![255u8; w * h * 3];
    for (p, pop) in map.populations.iter().enumerate() {
        let c = colour_rgb(p);
        for r in pop.first_row..pop.first_row + pop.shown {
            for col in 0..w {
                if s.raster[r * w + col] == 0 {
                    continue;
                }
                for dy in 0..row_px {
                    let i = ((r * row_px + dy) * w + col) * 3;
                    rgb[i..i + 3].copy_from_slice(&c);
                }
            }
        }
    }
    let png = encode_png(w as u32, h as u32, &rgb)?;
    let (left, top, right, bottom) = (110.0, 30.0, 130.0, 50.0);
    let ph = (h as f64).max(120.0);
    let mut svg = Svg::new(left + w as f64 + right, top + ph + bottom);
    let panel = Panel {
        left,
        top,
        width: w as f64,
        height: ph,
        x: s.window,
        y: (0.0, 1.0),
    };
    svg.png(left, top, w as f64, ph, &png);
    let scale = ph / h as f64;
    let y_of = |row: usize| top + (row * row_px) as f64 * scale;
    let mut last_label = f64::NEG_INFINITY;
    for (p, pop) in map.populations.iter().enumerate() {
        let (a, b) = (y_of(pop.first_row), y_of(pop.first_row + pop.shown));
        if p > 0 {
            svg.line((left, a), (left + w as f64, a), "#999", 0.5, false);
        }
        let label = if pop.shown < pop.size {
            format!("{} ({} of {})", pop.name, pop.shown, pop.size)
        } else {
            pop.name.clone()
        };
        let y = (a + b) / 2.0 + 4.0;
        if y - last_label >= 11.0 {
            svg.text(left - 6.0, y, &label, "end", 10.0);
            last_label = y;
        }
        let mut last_group = f64::NEG_INFINITY;
        for (g, r0, r1) in &pop.groups {
            let y = (y_of(*r0) + y_of(*r1)) / 2.0 + 3.0;
            if y - last_group >= 10.0 {
                svg.text(left + w as f64 + 6.0, y, g, "start", 9.0);
                last_group = y;
            }
        }
    }
    svg.x_axis(&panel, "time (ms)", "");
    Ok((svg.finish(), png))
}

/// The population rates (spikes per neuron per second, in bins) as an SVG figure: up to 10
/// populations a panel.
pub fn rates_figure(map: &NeuronMap, s: &SpikeSummary, title: &str) -> String {
    let chunks: Vec<Vec<usize>> = (0..map.populations.len())
        .collect::<Vec<_>>()
        .chunks(10)
        .map(<[usize]>::to_vec)
        .collect();
    let (pw, ph) = (760.0, 180.0);
    let mut svg = Svg::new(pw + 260.0, (ph + 70.0) * chunks.len() as f64 + 10.0);
    let t_end = s.bin_ms * s.counts.first().map_or(1, Vec::len) as f64;
    for (k, pops) in chunks.iter().enumerate() {
        let series: Vec<Vec<(f64, f64)>> = pops
            .iter()
            .map(|&p| {
                let n = map.populations[p].size.max(1) as f64;
                s.counts[p]
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| {
                        (
                            (b as f64 + 0.5) * s.bin_ms,
                            c as f64 / n / (s.bin_ms * 1e-3),
                        )
                    })
                    .collect()
            })
            .collect();
        let (_, hi) = range_of(series.iter().flatten().map(|p| p.1), 0.05);
        let panel = Panel {
            left: 70.0,
            top: 30.0 + k as f64 * (ph + 70.0),
            width: pw,
            height: ph,
            x: (0.0, t_end),
            y: (0.0, hi.max(1.0)),
        };
        let t = if k == 0 { title } else { "" };
        svg.axes(&panel, "time (ms)", "rate (Hz per neuron)", t);
        let mut legend = Vec::new();
        for (i, (&p, pts)) in pops.iter().zip(&series).enumerate() {
            let c = colour(k * 10 + i);
            svg.series(&panel, pts, c, 1.2);
            legend.push((map.populations[p].name.clone(), c.to_string()));
        }
        svg.legend(panel.left + pw + 14.0, panel.top + 10.0, &legend);
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            neurons_per_population: 3,
            raster_rows: 100,
            ..Limits::default()
        }
    }

    const NEURONS: &str = r#"{"engine": "brain", "inputs": [],
        "outputs": [
            {"port": "motor", "population": "M1", "group": null, "global_range": [10, 16], "size": 6},
            {"port": "motor", "population": "Cue", "group": null, "global_range": [0, 2], "size": 2},
            {"port": "other", "population": "Cue", "group": null, "global_range": [0, 10], "size": 10}],
        "populations": [
            {"name": "Cue", "first_id": 0, "size": 10, "model": "x", "groups": []},
            {"name": "M1", "first_id": 10, "size": 6, "model": "x", "groups": [
                {"name": "Foot", "global_range": [10, 13], "local_range": [0, 3]},
                {"name": "Hand", "global_range": [13, 16], "local_range": [3, 6]}]}]}"#;

    #[test]
    fn brain_ports_map_to_populations_and_groups_with_a_stride() {
        let m = from_neurons_json(NEURONS, "motor", &limits()).unwrap();
        assert_eq!(m.populations.len(), 2);
        let m1 = &m.populations[0];
        // 6 neurons, at most 3 shown: every second one (local 0, 2, 4 = global 10, 12, 14).
        assert_eq!(
            (m1.name.as_str(), m1.size, m1.shown, m1.first_row),
            ("M1", 6, 3, 0)
        );
        assert_eq!(
            m1.groups,
            [("Foot".to_string(), 0, 2), ("Hand".to_string(), 2, 3)]
        );
        assert_eq!(m.populations[1].first_row, 3);
        assert_eq!(m.neuron[0], (0, 0));
        assert_eq!(m.neuron[1], (0, u32::MAX));
        assert_eq!(m.neuron[4], (0, 2));
        assert_eq!(m.neuron[6], (1, 3));
        assert_eq!(m.rows(), 5);
        assert!(from_neurons_json(NEURONS, "nope", &limits())
            .unwrap_err()
            .contains("nope"));
        assert!(from_neurons_json("{", "motor", &limits()).is_err());
    }

    #[test]
    fn afferents_are_grouped_by_muscle() {
        let text = r#"{"engine": "sp", "ports": {"ia": [
            {"neuron": 0, "muscle": "A"}, {"neuron": 1, "muscle": "B"}, {"neuron": 2, "muscle": "A"}]}}"#;
        let l = Limits {
            neurons_per_population: 10,
            ..Limits::default()
        };
        let m = from_afferents_json(text, "sp", "ia", 3, &l).unwrap();
        assert_eq!(
            m.populations[0].groups,
            [("A".to_string(), 0, 2), ("B".to_string(), 2, 3)]
        );
        assert_eq!(m.neuron, [(0, 0), (0, 2), (0, 1)]);
        assert_eq!(m.populations[0].name, "sp.ia");
    }

    #[test]
    fn spikes_are_binned_and_rastered() {
        use neuroloop_core::payload::{Payload, SpikeBatch};
        use neuroloop_core::port::PortKind;
        use neuroloop_core::time::Step;
        let dir = tempfile::tempdir().unwrap();
        let mut rec = neuroloop_record::Recorder::new(dir.path());
        let id = rec
            .create("brain", "motor", &PortKind::Spikes { size: 8 })
            .unwrap();
        for k in 1..=100u64 {
            let mut b = SpikeBatch::default();
            b.push((k % 8) as u32, k as f64);
            rec.push(id, Step(k), k as f64, &Payload::Spikes(b))
                .unwrap();
        }
        let (files, err) = rec.finish_all();
        assert!(err.is_none());
        let map = from_neurons_json(NEURONS, "motor", &limits()).unwrap();
        let l = Limits {
            raster_window_ms: 50.0,
            raster_columns: 50,
            rate_bins: 10,
            min_rate_bin_ms: 1.0,
            ..limits()
        };
        let s = summarize(&files[0], &map, 100.0, &l).unwrap();
        assert_eq!(s.spikes, 100);
        assert_eq!(s.bin_ms, 10.0);
        // Neurons 0-5 are M1, 6-7 Cue: 10 spikes a bin, 2 or 3 of them Cue's.
        let total: u64 = s.counts.iter().map(|c| c.iter().sum::<u64>()).sum();
        assert_eq!(total, 100);
        assert_eq!(s.counts[1].iter().sum::<u64>(), 24);
        // Window (50, 100]: spike at t = 51 of neuron 3 (not shown), t = 52 of neuron 4 (row 2).
        assert_eq!(s.window, (50.0, 100.0));
        assert_eq!(s.raster[2 * 50 + 1], 1);
        let (svg, png) = raster_figure(&map, &s).unwrap();
        assert!(svg.contains("M1 (3 of 6)") && svg.contains("Foot"), "{svg}");
        assert_eq!(&png[1..4], b"PNG");
        let rates = rates_figure(&map, &s, "rates");
        assert!(rates.contains("<path"));
    }
}
