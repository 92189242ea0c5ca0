//! `group_rate`: spikes of N neurons -> one rate in Hz per group of neurons (a motor readout).

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::rate::{check_filter, filter_from, FilterName, RateEstimator};
use super::{analog_out, spikes_input, RateFilter, RunningTransfer, TransferKind};
use crate::payload::Payload;
use crate::port::{Channel, PortKind};

const NAME: &str = "group_rate";

/// `{ kind = "group_rate", groups = { size = 50 }, filter = "window", window_ms = 50 }`,
/// `groups = [[0, 50], [50, 120]]` or `groups = [{ neurons = [0, 3, 7] }, { neurons = [1, 2] }]`
/// (ranges and lists may be mixed), with optional `names = ["flexor", "extensor"]`.
///
/// spikes(N) -> analog[G] in Hz, channel g = the mean rate of group g's neurons:
/// R_g(t) = (1/|g|) sum_{i in g} r_i(t), with r_i from the filter (see [`RateFilter`]). A neuron may
/// belong to several groups or to none.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "File")]
pub struct GroupRate {
    /// The groups.
    pub groups: Groups,
    /// Channel names, one per group (default `g0`, `g1`, ...).
    pub names: Option<Vec<String>>,
    /// The rate filter (`filter = "window"` with `window_ms`, or `"exponential"` with `tau_ms`).
    pub filter: RateFilter,
}

/// The groups of a `group_rate`.
#[derive(Clone, Debug, PartialEq)]
pub enum Groups {
    /// `{ size = S }`: N / S contiguous groups of S neurons (N must be a multiple of S).
    Size(u32),
    /// A list of groups.
    List(Vec<Group>),
}

/// One group of a list.
#[derive(Clone, Debug, PartialEq)]
pub enum Group {
    /// `[first, end]`: the neurons first..end (end excluded).
    Range(u32, u32),
    /// `{ neurons = [i, j, ...] }`: the listed neurons.
    Neurons(Vec<u32>),
}

/// The file syntax.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    groups: Groups,
    #[serde(default)]
    names: Option<Vec<String>>,
    filter: FilterName,
    #[serde(default)]
    window_ms: Option<f64>,
    #[serde(default)]
    tau_ms: Option<f64>,
}

impl TryFrom<File> for GroupRate {
    type Error = String;
    fn try_from(f: File) -> Result<Self, String> {
        Ok(GroupRate {
            groups: f.groups,
            names: f.names,
            filter: filter_from(NAME, f.filter, f.window_ms, f.tau_ms)?,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BySize {
    size: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByList {
    neurons: Vec<u32>,
}

impl<'de> Deserialize<'de> for Groups {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Groups;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "`{ size = S }` or a list of groups (`[first, end]` or `{ neurons = [...] }`)",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Groups, A::Error> {
                let b = BySize::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Groups::Size(b.size))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Groups, A::Error> {
                Vec::<Group>::deserialize(SeqAccessDeserializer::new(seq)).map(Groups::List)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Group {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Group;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a group: `[first, end]` or `{ neurons = [...] }`")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Group, A::Error> {
                let b = ByList::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Group::Neurons(b.neurons))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Group, A::Error> {
                let v = Vec::<u32>::deserialize(SeqAccessDeserializer::new(seq))?;
                match v[..] {
                    [a, b] => Ok(Group::Range(a, b)),
                    _ => Err(de::Error::custom(format!(
                        "a group range is `[first, end]` (two neuron indices), got {} numbers",
                        v.len()
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl GroupRate {
    /// The neurons of each group for a population of `n`, or an error naming the offending group.
    fn members(&self, n: usize) -> Result<Vec<Vec<u32>>, String> {
        let members: Vec<Vec<u32>> = match &self.groups {
            Groups::Size(0) => return Err("group_rate: `groups.size` must be at least 1".into()),
            Groups::Size(s) => {
                let s = *s as usize;
                if !n.is_multiple_of(s) {
                    return Err(format!(
                        "group_rate: {n} neurons cannot be split into groups of {s} ({n} is not a multiple of {s})"
                    ));
                }
                (0..n / s)
                    .map(|g| ((g * s) as u32..((g + 1) * s) as u32).collect())
                    .collect()
            }
            Groups::List(list) => {
                if list.is_empty() {
                    return Err("group_rate: `groups` is empty".into());
                }
                let mut out = Vec::with_capacity(list.len());
                for (g, group) in list.iter().enumerate() {
                    let m: Vec<u32> = match group {
                        Group::Range(a, b) => {
                            if a >= b || *b as usize > n {
                                return Err(format!(
                                    "group_rate: group {g} [{a}, {b}] is not a range of neurons inside 0..{n} (first < end <= {n})"
                                ));
                            }
                            (*a..*b).collect()
                        }
                        Group::Neurons(v) => {
                            if v.is_empty() {
                                return Err(format!("group_rate: group {g} has no neurons"));
                            }
                            if let Some(i) = v.iter().find(|&&i| i as usize >= n) {
                                return Err(format!(
                                    "group_rate: group {g} names neuron {i}, the population has {n} neurons"
                                ));
                            }
                            v.clone()
                        }
                    };
                    out.push(m);
                }
                out
            }
        };
        Ok(members)
    }

    fn channel_names(&self, groups: usize) -> Result<Vec<String>, String> {
        let Some(names) = &self.names else {
            return Ok((0..groups).map(|g| format!("g{g}")).collect());
        };
        if names.len() != groups {
            return Err(format!(
                "group_rate: `names` has {} names for {groups} groups",
                names.len()
            ));
        }
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(format!("group_rate: name {i} is empty"));
            }
            if names[..i].contains(name) {
                return Err(format!("group_rate: name \"{name}\" is given twice"));
            }
        }
        Ok(names.clone())
    }
}

impl TransferKind for GroupRate {
    fn output_kind(&self, input: &PortKind) -> Result<PortKind, String> {
        let n = spikes_input(NAME, input)?;
        check_filter(NAME, &self.filter)?;
        let members = self.members(n)?;
        let channels = self
            .channel_names(members.len())?
            .into_iter()
            .map(|name| Channel {
                name,
                unit: "Hz".into(),
            })
            .collect();
        Ok(PortKind::Analog { channels })
    }

    fn build(&self, input: &PortKind, _seed: u64) -> Result<Box<dyn RunningTransfer>, String> {
        let n = spikes_input(NAME, input)?;
        Ok(Box::new(Running {
            est: RateEstimator::new(&self.filter, n),
            rates: vec![0.0; n],
            members: self.members(n)?,
        }))
    }
}

#[derive(Clone, Debug)]
struct Running {
    est: RateEstimator,
    /// Scratch: per-neuron rates.
    rates: Vec<f64>,
    /// The neurons of each group (each non-empty, inside the population).
    members: Vec<Vec<u32>>,
}

impl RunningTransfer for Running {
    fn apply(&mut self, input: &Payload, t_start_ms: f64, _t_end_ms: f64, out: &mut Payload) {
        let Payload::Spikes(batch) = input else {
            return;
        };
        self.est.update(batch, t_start_ms, &mut self.rates);
        let v = analog_out(out, self.members.len());
        for (vg, m) in v.iter_mut().zip(&self.members) {
            let sum: f64 = m.iter().map(|&i| self.rates[i as usize]).sum();
            *vg = sum / m.len() as f64;
        }
    }

    fn reset(&mut self) {
        self.est.reset();
    }
}
