//! `threshold`: a scalar event when a value crosses a threshold.

use serde::Deserialize;

use super::{value_input, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::{PortKind, PortType};

const NAME: &str = "threshold";

/// `{ kind = "threshold", threshold = 0.5, channel = 2, direction = "both" }`.
///
/// analog or scalar -> scalar event (unit `1`): 1.0 in the step where channel `channel` crossed
/// `threshold` in the given direction since the previous step, 0.0 otherwise. Rising: prev <
/// threshold <= now; falling: prev >= threshold > now. The first step has no previous value and never
/// gives an event.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// The threshold (finite).
    pub threshold: f64,
    /// Which element of an analog input (default 0; ignored for scalars).
    #[serde(default)]
    pub channel: usize,
    /// `"rising"` (default), `"falling"` or `"both"`.
    #[serde(default)]
    pub direction: Crossing,
}

/// Which threshold crossings count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Crossing {
    /// From below to at-or-above.
    #[default]
    Rising,
    /// From at-or-above to below.
    Falling,
    /// Either.
    Both,
}

impl Crossing {
    /// Whether going from `prev` to `now` crosses `threshold` in this direction.
    pub fn crossed(self, prev: f64, now: f64, threshold: f64) -> bool {
        let rising = prev < threshold && threshold <= now;
        let falling = prev >= threshold && threshold > now;
        match self {
            Crossing::Rising => rising,
            Crossing::Falling => falling,
            Crossing::Both => rising || falling,
        }
    }
}

impl TransferKind for Threshold {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let c = value_input(NAME, input)?;
        let (threshold, channel) = (self.threshold, self.channel);
        if !threshold.is_finite() {
            return Err(format!(
                "threshold: `threshold` must be finite, got {threshold}"
            ));
        }
        if input.port_type() == PortType::Analog && channel >= c {
            return Err(format!(
                "threshold: channel {channel} is out of range for {}",
                input.describe()
            ));
        }
        Ok(PortKind::Scalar { unit: "1".into() })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        value_input(NAME, input)?;
        Ok(Box::new(Running {
            threshold: self.threshold,
            channel: if input.port_type() == PortType::Scalar {
                0
            } else {
                self.channel
            },
            direction: self.direction,
            prev: None,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    threshold: f64,
    channel: usize,
    direction: Crossing,
    prev: Option<f64>,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, _t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let now = match input {
            Payload::Scalar(x) => *x,
            Payload::Analog(v) => match v.get(self.channel) {
                Some(x) => *x,
                None => return,
            },
            _ => return,
        };
        let event = self
            .prev
            .is_some_and(|p| self.direction.crossed(p, now, self.threshold));
        self.prev = Some(now);
        *out = Payload::Scalar(if event { 1.0 } else { 0.0 });
    }

    fn reset(&mut self) {
        self.prev = None;
    }
}
