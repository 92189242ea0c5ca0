//! `select`: some channels of an analog vector, or a range of neurons of a population.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::{analog_out, spikes_out, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::PortKind;

const NAME: &str = "select";

/// `{ kind = "select", channels = [0, 3] }`, `{ kind = "select", channels = ["x", "y"] }` (indices and
/// names may be mixed) or `{ kind = "select", neurons = [a, b] }`.
///
/// analog[C] -> analog[K]: y_k = x_{channels[k]}, channel names and units kept (a channel may be
/// chosen twice). spikes(N) -> spikes(b - a): the spikes of neurons a..b (b excluded), renumbered
/// i -> i - a, times and order kept; the others are dropped.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// The channels of an analog input, by index or name.
    #[serde(default)]
    pub channels: Option<Vec<ChannelRef>>,
    /// `[a, b]`: the neurons a..b (b excluded) of a spikes input.
    #[serde(default)]
    pub neurons: Option<Vec<u32>>,
}

/// A channel by its index or its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelRef {
    /// Position in the vector, from 0.
    Index(usize),
    /// The channel's name.
    Name(String),
}

impl<'de> Deserialize<'de> for ChannelRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ChannelRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a channel index (0, 1, ...) or a channel name")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ChannelRef, E> {
                usize::try_from(v)
                    .map(ChannelRef::Index)
                    .map_err(|_| E::custom(format!("channel index {v} is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ChannelRef, E> {
                usize::try_from(v)
                    .map(ChannelRef::Index)
                    .map_err(|_| E::custom(format!("channel index {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChannelRef, E> {
                Ok(ChannelRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelRef::Index(i) => write!(f, "{i}"),
            ChannelRef::Name(n) => write!(f, "\"{n}\""),
        }
    }
}

/// What a select does once resolved against its input.
#[derive(Clone, Debug)]
enum Plan {
    /// Indices of the chosen channels.
    Channels(Vec<usize>),
    /// Neurons first..end.
    Neurons(u32, u32),
}

impl Select {
    /// The plan and the output kind for `input`.
    fn plan(&self, input: &PortKind) -> Result<(Plan, PortKind), String> {
        match (input, &self.channels, &self.neurons) {
            (_, Some(_), Some(_)) => Err(format!(
                "{NAME}: give `channels` (analog input) or `neurons` (spikes input), not both"
            )),
            (PortKind::Analog { channels }, Some(chosen), None) => {
                if chosen.is_empty() {
                    return Err("select: `channels` is empty".into());
                }
                let mut idx = Vec::with_capacity(chosen.len());
                for c in chosen {
                    let i = match c {
                        ChannelRef::Index(i) if *i < channels.len() => *i,
                        ChannelRef::Index(i) => {
                            return Err(format!(
                                "select: channel {i} is out of range for {}",
                                input.describe()
                            ))
                        }
                        ChannelRef::Name(n) => {
                            channels.iter().position(|ch| ch.name == *n).ok_or_else(|| {
                                let names: Vec<&str> =
                                    channels.iter().map(|ch| ch.name.as_str()).collect();
                                format!(
                                    "select: the input has no channel named \"{n}\" (its channels: {})",
                                    names.join(", ")
                                )
                            })?
                        }
                    };
                    idx.push(i);
                }
                let out = PortKind::Analog {
                    channels: idx.iter().map(|&i| channels[i].clone()).collect(),
                };
                Ok((Plan::Channels(idx), out))
            }
            (PortKind::Spikes { size }, None, Some(range)) => {
                let &[a, b] = &range[..] else {
                    return Err(format!(
                        "select: `neurons` is `[first, end]` (two neuron indices), got {} numbers",
                        range.len()
                    ));
                };
                if a >= b || b > *size {
                    return Err(format!(
                        "select: neurons [{a}, {b}] is not a range inside 0..{size} (first < end <= {size})"
                    ));
                }
                Ok((Plan::Neurons(a, b), PortKind::Spikes { size: b - a }))
            }
            (PortKind::Analog { .. }, None, _) => {
                Err("select on an analog input needs `channels`".into())
            }
            (PortKind::Spikes { .. }, _, None) => {
                Err("select on a spikes input needs `neurons = [first, end]`".into())
            }
            (other, _, _) => Err(format!(
                "select needs an analog or spikes input, got {}",
                other.describe()
            )),
        }
    }
}

impl TransferKind for Select {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        self.plan(input).map(|(_, out)| out)
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let (plan, _) = self.plan(input)?;
        let width = match input {
            PortKind::Analog { channels } => channels.len(),
            _ => 0,
        };
        Ok(Box::new(Running { plan, width }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    plan: Plan,
    /// Length of an analog input.
    width: usize,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, _t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        match (&self.plan, input) {
            (Plan::Channels(idx), Payload::Analog(x)) if x.len() == self.width => {
                let y = analog_out(out, idx.len());
                for (yk, &i) in y.iter_mut().zip(idx) {
                    *yk = x[i];
                }
            }
            (Plan::Neurons(a, b), Payload::Spikes(batch)) => {
                let (a, b) = (*a, *b);
                let o = spikes_out(out);
                for (&n, &t) in batch.neuron.iter().zip(&batch.time_ms) {
                    if (a..b).contains(&n) {
                        o.push(n - a, t);
                    }
                }
            }
            _ => {}
        }
    }

    fn reset(&mut self) {}
}
