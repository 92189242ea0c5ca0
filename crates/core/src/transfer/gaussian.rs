//! `gaussian`: population coding of analog values by Gaussian tuning curves.

use serde::Deserialize;

use super::{analog_out, value_input, values_of, PerChannel, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::{Channel, PortKind};

const NAME: &str = "gaussian";

/// `{ kind = "gaussian", range = [-0.02, 0.02], count = 10, max_hz = 100, min_hz = 2, sigma = 0.005 }`;
/// `range` may also give one `[lo, hi]` pair per channel (`range = [[0, 1], [-1, 1]]`), and `sigma` one
/// width per channel.
///
/// analog[C] or scalar (C = 1) -> analog[C * count] in Hz. Input channel c is encoded by `count` = K
/// units with preferred values evenly spaced over its range, mu_k = lo_c + k (hi_c - lo_c) / (K - 1),
/// firing at r_{c,k} = min_hz + (max_hz - min_hz) exp(-(x_c - mu_k)^2 / (2 sigma_c^2)) Hz. Unit c * K + k
/// is named `<channel name>_<k>` (`x_<k>` for a scalar input), unit `Hz`. Chain it with `poisson` to get
/// spikes. A NaN input gives NaN rates (which `poisson` treats as 0).
// Source: Pouget, Dayan & Zemel (2000), Information processing with population codes, Nat Rev Neurosci 1:125.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gaussian {
    /// The range of the preferred values, one `[lo, hi]` for every channel or one per channel (lo < hi,
    /// in the input's unit).
    pub range: Ranges,
    /// Units per input channel, K >= 2.
    pub count: u32,
    /// Tuning width in the input's unit, one number or one per channel (> 0; default the spacing of
    /// the preferred values, (hi - lo) / (K - 1)).
    #[serde(default)]
    pub sigma: Option<PerChannel>,
    /// Rate at the preferred value, in Hz (>= min_hz).
    pub max_hz: f64,
    /// Baseline rate far from the preferred value, in Hz (default 0, >= 0).
    #[serde(default)]
    pub min_hz: f64,
}

/// The `range` of a `gaussian`: one pair for every channel or one per channel.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(
    untagged,
    expecting = "`[lo, hi]` or one `[lo, hi]` per channel (`[[lo0, hi0], [lo1, hi1], ...]`)"
)]
pub enum Ranges {
    /// The same range for every channel.
    All([f64; 2]),
    /// One range per channel.
    Each(Vec<[f64; 2]>),
}

/// Per input channel: preferred values and width.
#[derive(Clone, Debug)]
struct Code {
    mu: Vec<f64>,
    sigma: f64,
}

impl Gaussian {
    /// The code of each of `c` channels.
    fn codes(&self, c: usize) -> Result<Vec<Code>, String> {
        let k = self.count as usize;
        if k < 2 {
            return Err(format!(
                "gaussian: `count` must be at least 2, got {}",
                self.count
            ));
        }
        let ranges = match &self.range {
            Ranges::All(r) => vec![*r; c],
            Ranges::Each(v) if v.len() == c => v.clone(),
            Ranges::Each(v) => {
                return Err(format!(
                    "gaussian: `range` has {} pairs, the input has {c} channels",
                    v.len()
                ))
            }
        };
        let (lo_hz, hi_hz) = (self.min_hz, self.max_hz);
        if !(lo_hz.is_finite() && hi_hz.is_finite() && lo_hz >= 0.0 && hi_hz >= lo_hz) {
            return Err(format!(
                "gaussian: need 0 <= `min_hz` <= `max_hz` (finite), got min_hz = {lo_hz}, max_hz = {hi_hz}"
            ));
        }
        let sigma = match &self.sigma {
            Some(s) => Some(s.expand(c, "sigma", NAME)?),
            None => None,
        };
        let mut codes = Vec::with_capacity(c);
        for (ch, [lo, hi]) in ranges.into_iter().enumerate() {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(format!(
                    "gaussian: range [{lo}, {hi}] of channel {ch} must be finite with lo < hi"
                ));
            }
            let spacing = (hi - lo) / (k - 1) as f64;
            let s = sigma.as_ref().map_or(spacing, |s| s[ch]);
            if s <= 0.0 {
                return Err(format!(
                    "gaussian: `sigma` of channel {ch} must be positive, got {s}"
                ));
            }
            codes.push(Code {
                mu: (0..k).map(|i| lo + i as f64 * spacing).collect(),
                sigma: s,
            });
        }
        Ok(codes)
    }
}

impl TransferKind for Gaussian {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let c = value_input(NAME, input)?;
        if c == 0 {
            return Err("gaussian needs at least one input channel".into());
        }
        self.codes(c)?;
        let names: Vec<String> = match input {
            PortKind::Analog { channels } => channels.iter().map(|ch| ch.name.clone()).collect(),
            _ => vec!["x".into()],
        };
        let channels = names
            .iter()
            .flat_map(|n| {
                (0..self.count).map(move |k| Channel {
                    name: format!("{n}_{k}"),
                    unit: "Hz".into(),
                })
            })
            .collect();
        Ok(PortKind::Analog { channels })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let c = value_input(NAME, input)?;
        let codes = self.codes(c)?;
        Ok(Box::new(Running {
            codes,
            min_hz: self.min_hz,
            max_hz: self.max_hz,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    codes: Vec<Code>,
    min_hz: f64,
    max_hz: f64,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, _t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let Some(x) = values_of(input, self.codes.len()) else {
            return;
        };
        let k = self.codes.first().map_or(0, |c| c.mu.len());
        let y = analog_out(out, self.codes.len() * k);
        let amp = self.max_hz - self.min_hz;
        for ((code, &xc), yc) in self.codes.iter().zip(x).zip(y.chunks_exact_mut(k.max(1))) {
            let inv = 1.0 / (2.0 * code.sigma * code.sigma);
            for (yk, mu) in yc.iter_mut().zip(&code.mu) {
                let d = xc - mu;
                *yk = self.min_hz + amp * (-d * d * inv).exp();
            }
        }
    }

    fn reset(&mut self) {}
}
