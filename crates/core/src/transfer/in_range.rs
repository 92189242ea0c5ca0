//! `in_range`: 1 while a value lies in a closed interval, else 0 (a gate, e.g. a laser switched on
//! for a block of trials).

use serde::Deserialize;

use super::{value_input, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::{PortKind, PortType};

const NAME: &str = "in_range";

/// `{ kind = "in_range", channel = 1, min = 75, max = 174 }`.
///
/// analog or scalar -> scalar (unit `1`): 1.0 in every step where channel `channel` (ignored for a
/// scalar) lies in `[min, max]`, 0.0 otherwise (also before the first value arrives).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InRange {
    /// Lower end, inclusive (finite).
    pub min: f64,
    /// Upper end, inclusive (finite, at least `min`).
    pub max: f64,
    /// Which element of an analog input (default 0; ignored for scalars).
    #[serde(default)]
    pub channel: usize,
}

impl TransferKind for InRange {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let c = value_input(NAME, input)?;
        let (min, max, channel) = (self.min, self.max, self.channel);
        if !min.is_finite() || !max.is_finite() || min > max {
            return Err(format!(
                "in_range: `min` and `max` must be finite with min <= max, got [{min}, {max}]"
            ));
        }
        if input.port_type() == PortType::Analog && channel >= c {
            return Err(format!(
                "in_range: channel {channel} is out of range for {}",
                input.describe()
            ));
        }
        Ok(PortKind::Scalar { unit: "1".into() })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        self.output_kind(input)?;
        let channel = match input.port_type() {
            PortType::Scalar => 0,
            _ => self.channel,
        };
        Ok(Box::new(Running {
            min: self.min,
            max: self.max,
            channel,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    min: f64,
    max: f64,
    channel: usize,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, _t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let x = match input {
            Payload::Scalar(x) => Some(*x),
            Payload::Analog(v) => v.get(self.channel).copied(),
            _ => None,
        };
        let inside = x.is_some_and(|x| self.min <= x && x <= self.max);
        *out = Payload::Scalar(if inside { 1.0 } else { 0.0 });
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::{Transfer, TransferSpec};

    fn gate(toml_text: &str, input: &PortKind) -> Result<Transfer, String> {
        let spec: TransferSpec = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        Transfer::new(&spec, input, 0).map_err(|e| e.to_string())
    }

    #[test]
    fn one_inside_the_closed_interval_zero_outside() {
        let input = PortKind::analog(&[("state", "1"), ("trial", "1")]);
        let mut tf = gate(
            "kind = \"in_range\"\nchannel = 1\nmin = 75\nmax = 174",
            &input,
        )
        .unwrap();
        assert_eq!(tf.output_kind(), &PortKind::Scalar { unit: "1".into() });
        let mut out = Payload::Scalar(0.0);
        for (trial, want) in [
            (0.0, 0.0),
            (74.0, 0.0),
            (75.0, 1.0),
            (120.0, 1.0),
            (174.0, 1.0),
            (175.0, 0.0),
        ] {
            tf.apply(&Payload::Analog(vec![3.0, trial]), 0.0, 1.0, &mut out);
            assert_eq!(out, Payload::Scalar(want), "trial {trial}");
        }
    }

    #[test]
    fn bad_bounds_and_channels_are_refused_by_name() {
        let input = PortKind::analog(&[("state", "1")]);
        let e = gate("kind = \"in_range\"\nmin = 5\nmax = 1", &input).unwrap_err();
        assert!(e.contains("min <= max"), "{e}");
        let e = gate("kind = \"in_range\"\nmin = 0\nmax = 1\nchannel = 3", &input).unwrap_err();
        assert!(e.contains("channel 3"), "{e}");
        let e = gate(
            "kind = \"in_range\"\nmin = 0\nmax = 1",
            &PortKind::Spikes { size: 2 },
        )
        .unwrap_err();
        assert!(e.contains("analog or scalar"), "{e}");
    }
}
