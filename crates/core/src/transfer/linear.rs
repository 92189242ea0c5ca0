//! `linear`: gain, offset and clip per element.

use serde::Deserialize;

use super::{
    analog_out, one_all, value_input, zero_all, PerChannel, RunningTransfer, TransferKind,
};
use crate::payload::Payload;
use crate::port::{Channel, PortKind};

const NAME: &str = "linear";

/// `{ kind = "linear", gain = [2, -1, 0.5], offset = 0, min = 0, max = 1, unit = "1" }`.
///
/// analog -> analog, scalar -> scalar: y_i = clip(gain_i * x_i + offset_i, min, max), per element.
/// Channel names are kept; the unit is `unit` or else the input's.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    /// Gain (scalar or per channel; default 1).
    #[serde(default = "one_all")]
    pub gain: PerChannel,
    /// Offset (scalar or per channel; default 0).
    #[serde(default = "zero_all")]
    pub offset: PerChannel,
    /// Lower clip (default none).
    #[serde(default)]
    pub min: Option<f64>,
    /// Upper clip (default none).
    #[serde(default)]
    pub max: Option<f64>,
    /// Unit of the output channels (default: the input's units).
    #[serde(default)]
    pub unit: Option<String>,
}

impl TransferKind for Linear {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let c = value_input(NAME, input)?;
        self.gain.expand(c, "gain", NAME)?;
        self.offset.expand(c, "offset", NAME)?;
        let (min, max) = (self.min, self.max);
        if min.is_some_and(f64::is_nan) || max.is_some_and(f64::is_nan) {
            return Err("linear: `min` and `max` must be numbers".into());
        }
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                return Err(format!("linear: `min` ({lo}) is above `max` ({hi})"));
            }
        }
        let unit = &self.unit;
        Ok(match input {
            PortKind::Analog { channels } => PortKind::Analog {
                channels: channels
                    .iter()
                    .map(|ch| Channel {
                        name: ch.name.clone(),
                        unit: unit.clone().unwrap_or_else(|| ch.unit.clone()),
                    })
                    .collect(),
            },
            PortKind::Scalar { unit: u } => PortKind::Scalar {
                unit: unit.clone().unwrap_or_else(|| u.clone()),
            },
            other => return Err(format!("linear cannot take {}", other.describe())),
        })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let c = value_input(NAME, input)?;
        Ok(Box::new(Running {
            gain: self.gain.expand(c, "gain", NAME)?,
            offset: self.offset.expand(c, "offset", NAME)?,
            min: self.min.unwrap_or(f64::NEG_INFINITY),
            max: self.max.unwrap_or(f64::INFINITY),
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    gain: Vec<f64>,
    offset: Vec<f64>,
    min: f64,
    max: f64,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, _t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let (min, max) = (self.min, self.max);
        let clip = |y: f64| {
            if y < min {
                min
            } else if y > max {
                max
            } else {
                y
            }
        };
        match input {
            Payload::Scalar(x) => *out = Payload::Scalar(clip(self.gain[0] * x + self.offset[0])),
            Payload::Analog(x) if x.len() == self.gain.len() => {
                let y = analog_out(out, x.len());
                for (i, yi) in y.iter_mut().enumerate() {
                    *yi = clip(self.gain[i] * x[i] + self.offset[i]);
                }
            }
            _ => {}
        }
    }

    fn reset(&mut self) {}
}
