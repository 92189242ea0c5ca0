//! `population_vector`: spikes(N) -> analog[D] population vector (Georgopoulos et al. 1986).

use serde::Deserialize;

use super::rate::{check_filter, filter_from, FilterName, RateEstimator};
use super::{analog_out, spikes_input, RateFilter, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::{Channel, PortKind};

const NAME: &str = "population_vector";

/// `{ kind = "population_vector", filter = "window", window_ms = 100, preferred = [[1, 0], [0, 1]] }`.
///
/// v = sum_i r_i d_i / sum_i r_i, zero when no neuron fires, with r_i the neuron's rate from `filter`
/// and d_i its preferred direction. Channels `x`, `y`, then `d2`, `d3`, ... in unit `1`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "File")]
pub struct PopulationVector {
    /// The rate filter.
    pub filter: RateFilter,
    /// Preferred direction of each neuron (one row per neuron, all rows the same length D >= 1). When
    /// left out, neuron i of N prefers the 2-D unit vector at angle 2*pi*i/N.
    pub preferred: Option<Vec<Vec<f64>>>,
}

/// The file syntax.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    filter: FilterName,
    #[serde(default)]
    window_ms: Option<f64>,
    #[serde(default)]
    tau_ms: Option<f64>,
    #[serde(default)]
    preferred: Option<Vec<Vec<f64>>>,
}

impl TryFrom<File> for PopulationVector {
    type Error = String;
    fn try_from(f: File) -> Result<Self, String> {
        Ok(PopulationVector {
            filter: filter_from(NAME, f.filter, f.window_ms, f.tau_ms)?,
            preferred: f.preferred,
        })
    }
}

/// The preferred directions, flattened row by row, and their dimension.
fn preferred_directions(
    preferred: Option<&[Vec<f64>]>,
    n: usize,
) -> Result<(Vec<f64>, usize), String> {
    let Some(rows) = preferred else {
        let dirs = (0..n)
            .flat_map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                [a.cos(), a.sin()]
            })
            .collect();
        return Ok((dirs, 2));
    };
    if rows.len() != n {
        return Err(format!(
            "population_vector: `preferred` has {} rows, the population has {n} neurons",
            rows.len()
        ));
    }
    let dim = rows.first().map_or(0, Vec::len);
    if dim == 0 {
        return Err(
            "population_vector: preferred directions must have at least one component".into(),
        );
    }
    if let Some(i) = rows.iter().position(|r| r.len() != dim) {
        return Err(format!(
            "population_vector: preferred direction {i} has {} components, row 0 has {dim}",
            rows[i].len()
        ));
    }
    if rows.iter().flatten().any(|x| !x.is_finite()) {
        return Err("population_vector: preferred directions must be finite".into());
    }
    Ok((rows.concat(), dim))
}

/// Name of component `i` of a population vector: `x`, `y`, then `d2`, `d3`, ...
fn component_name(i: usize) -> String {
    match i {
        0 => "x".into(),
        1 => "y".into(),
        _ => format!("d{i}"),
    }
}

impl TransferKind for PopulationVector {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let n = spikes_input(NAME, input)?;
        check_filter(NAME, &self.filter)?;
        let (_, dim) = preferred_directions(self.preferred.as_deref(), n)?;
        Ok(PortKind::Analog {
            channels: (0..dim)
                .map(|i| Channel {
                    name: component_name(i),
                    unit: "1".into(),
                })
                .collect(),
        })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let n = spikes_input(NAME, input)?;
        let (dirs, dim) = preferred_directions(self.preferred.as_deref(), n)?;
        Ok(Box::new(Running {
            est: RateEstimator::new(&self.filter, n),
            rates: vec![0.0; n],
            dirs,
            dim,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    est: RateEstimator,
    /// Scratch: per-neuron rates.
    rates: Vec<f64>,
    /// Preferred directions, row by row.
    dirs: Vec<f64>,
    dim: usize,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let Payload::Spikes(batch) = input else {
            return;
        };
        self.est.update(batch, t_start_ms, &mut self.rates);
        let dim = self.dim;
        let v = analog_out(out, dim);
        v.fill(0.0);
        let total: f64 = self.rates.iter().sum();
        if total > 0.0 && total.is_finite() {
            for (r, d) in self.rates.iter().zip(self.dirs.chunks_exact(dim)) {
                for (vk, dk) in v.iter_mut().zip(d) {
                    *vk += r * dk;
                }
            }
            v.iter_mut().for_each(|vk| *vk /= total);
        }
    }

    fn reset(&mut self) {
        self.est.reset();
    }
}
