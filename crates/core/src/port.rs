//! Ports: the typed inputs and outputs an engine declares.
//!
//! An engine declares its ports once, after it is initialized; a link in the experiment file connects an
//! output port of one engine to an input port of another. Four port types exist:
//!
//! | type | payload | what it carries |
//! |---|---|---|
//! | `spikes` | [`SpikeBatch`](crate::payload::SpikeBatch) | neuron indices and spike times of one population of `size` neurons |
//! | `analog` | `Vec<f64>` | a fixed-length vector with a name and a unit per element (muscle excitations, joint angles) |
//! | `events` | [`EventBatch`](crate::payload::EventBatch) | address events (x, y, t, polarity) from a `width` x `height` sensor |
//! | `scalar` | `f64` | one value (reward, a trial event) |

use serde::{Deserialize, Serialize};

/// Whether a port receives data (input) or produces it (output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The engine receives data on this port.
    Input,
    /// The engine produces data on this port.
    Output,
}

/// The four port types, without their shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortType {
    /// Spike batches of one population.
    Spikes,
    /// A fixed-length vector of f64.
    Analog,
    /// Address events (x, y, t, polarity).
    Events,
    /// One f64 value.
    Scalar,
}

impl PortType {
    /// Wire tag of the type (see `docs/protocol.md`).
    pub fn tag(self) -> u8 {
        match self {
            PortType::Spikes => 1,
            PortType::Analog => 2,
            PortType::Events => 3,
            PortType::Scalar => 4,
        }
    }

    /// The type for a wire tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => PortType::Spikes,
            2 => PortType::Analog,
            3 => PortType::Events,
            4 => PortType::Scalar,
            _ => return None,
        })
    }

    /// The lowercase name used in files and messages.
    pub fn name(self) -> &'static str {
        match self {
            PortType::Spikes => "spikes",
            PortType::Analog => "analog",
            PortType::Events => "events",
            PortType::Scalar => "scalar",
        }
    }

    /// Whether batches of this type accumulate between a producer and a slower consumer (spikes, events),
    /// rather than the consumer holding the latest value (analog, scalar).
    pub fn accumulates(self) -> bool {
        matches!(self, PortType::Spikes | PortType::Events)
    }
}

impl std::fmt::Display for PortType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One element of an analog vector: its name and unit (e.g. `("Foot1", "1")`, `("elbow", "rad")`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Name of the element.
    pub name: String,
    /// Unit of the element, SI-style text (`"rad"`, `"N"`, `"1"` for dimensionless).
    pub unit: String,
}

/// A port type together with its shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PortKind {
    /// Spikes of a population of `size` neurons (indices 0..size).
    Spikes {
        /// Number of neurons in the population.
        size: u32,
    },
    /// A vector with one [`Channel`] per element.
    Analog {
        /// Name and unit of each element.
        channels: Vec<Channel>,
    },
    /// Address events of a `width` x `height` sensor.
    Events {
        /// Sensor width in pixels or taxel columns.
        width: u16,
        /// Sensor height in pixels or taxel rows.
        height: u16,
    },
    /// One value with a unit.
    Scalar {
        /// Unit of the value (`"1"` for dimensionless).
        unit: String,
    },
}

impl PortKind {
    /// The type without the shape.
    pub fn port_type(&self) -> PortType {
        match self {
            PortKind::Spikes { .. } => PortType::Spikes,
            PortKind::Analog { .. } => PortType::Analog,
            PortKind::Events { .. } => PortType::Events,
            PortKind::Scalar { .. } => PortType::Scalar,
        }
    }

    /// An analog kind from `(name, unit)` pairs.
    pub fn analog(channels: &[(&str, &str)]) -> Self {
        PortKind::Analog {
            channels: channels
                .iter()
                .map(|(n, u)| Channel {
                    name: (*n).into(),
                    unit: (*u).into(),
                })
                .collect(),
        }
    }

    /// Human-readable description, e.g. `analog[3]`, `spikes(100)`.
    pub fn describe(&self) -> String {
        match self {
            PortKind::Spikes { size } => format!("spikes({size})"),
            PortKind::Analog { channels } => format!("analog[{}]", channels.len()),
            PortKind::Events { width, height } => format!("events({width}x{height})"),
            PortKind::Scalar { unit } => format!("scalar({unit})"),
        }
    }
}

/// A declared port: name, direction and kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortSpec {
    /// Port name, unique within the engine (`[A-Za-z0-9_]+`).
    pub name: String,
    /// Input or output.
    pub direction: Direction,
    /// Type and shape.
    pub kind: PortKind,
}

impl PortSpec {
    /// An input port.
    pub fn input(name: &str, kind: PortKind) -> Self {
        PortSpec {
            name: name.into(),
            direction: Direction::Input,
            kind,
        }
    }

    /// An output port.
    pub fn output(name: &str, kind: PortKind) -> Self {
        PortSpec {
            name: name.into(),
            direction: Direction::Output,
            kind,
        }
    }
}

/// Marker types for [`PortId`]: which payload a port carries.
pub mod payload_type {
    /// Spike batches.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Spikes;
    /// A vector of f64.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Analog;
    /// Address events.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Events;
    /// One f64.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Scalar;
}

/// A typed handle to one of an engine's ports: its index in the engine's port list and, in the type,
/// the payload it carries. [`PortsBuilder`] hands one out for each port it declares, so an engine
/// declares a port once and reads or writes it through the handle (`inputs.analog(handle)`).
#[derive(Debug, PartialEq, Eq)]
pub struct PortId<T> {
    index: usize,
    payload: std::marker::PhantomData<T>,
}

impl<T> Clone for PortId<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for PortId<T> {}

impl<T> PortId<T> {
    /// The port's index in the engine's port list.
    pub fn index(self) -> usize {
        self.index
    }
}

/// A reference to a port carrying payload `T`: a typed [`PortId<T>`], or a bare index (`usize`) for
/// engines that keep their own indices.
pub trait PortRef<T> {
    /// The port's index in the engine's port list.
    fn port_index(self) -> usize;
}

impl<T> PortRef<T> for usize {
    fn port_index(self) -> usize {
        self
    }
}

impl<T> PortRef<T> for PortId<T> {
    fn port_index(self) -> usize {
        self.index
    }
}

/// Declares an engine's ports in order, handing out a typed [`PortId`] for each; [`PortsBuilder::build`]
/// gives the port list (the handles' indices are positions in it).
#[derive(Debug, Default)]
pub struct PortsBuilder {
    ports: Vec<PortSpec>,
}

impl PortsBuilder {
    /// An empty port list.
    pub fn new() -> Self {
        Self::default()
    }

    fn add<T>(&mut self, spec: PortSpec) -> PortId<T> {
        self.ports.push(spec);
        PortId {
            index: self.ports.len() - 1,
            payload: std::marker::PhantomData,
        }
    }

    /// An analog input with one channel per element.
    pub fn analog_input(
        &mut self,
        name: &str,
        channels: Vec<Channel>,
    ) -> PortId<payload_type::Analog> {
        self.add(PortSpec::input(name, PortKind::Analog { channels }))
    }

    /// An analog output with one channel per element.
    pub fn analog_output(
        &mut self,
        name: &str,
        channels: Vec<Channel>,
    ) -> PortId<payload_type::Analog> {
        self.add(PortSpec::output(name, PortKind::Analog { channels }))
    }

    /// A spike input of a population of `size` neurons.
    pub fn spikes_input(&mut self, name: &str, size: u32) -> PortId<payload_type::Spikes> {
        self.add(PortSpec::input(name, PortKind::Spikes { size }))
    }

    /// A spike output of a population of `size` neurons.
    pub fn spikes_output(&mut self, name: &str, size: u32) -> PortId<payload_type::Spikes> {
        self.add(PortSpec::output(name, PortKind::Spikes { size }))
    }

    /// An event input of a `width` x `height` sensor.
    pub fn events_input(
        &mut self,
        name: &str,
        width: u16,
        height: u16,
    ) -> PortId<payload_type::Events> {
        self.add(PortSpec::input(name, PortKind::Events { width, height }))
    }

    /// An event output of a `width` x `height` sensor.
    pub fn events_output(
        &mut self,
        name: &str,
        width: u16,
        height: u16,
    ) -> PortId<payload_type::Events> {
        self.add(PortSpec::output(name, PortKind::Events { width, height }))
    }

    /// A scalar input with a unit.
    pub fn scalar_input(&mut self, name: &str, unit: &str) -> PortId<payload_type::Scalar> {
        self.add(PortSpec::input(
            name,
            PortKind::Scalar { unit: unit.into() },
        ))
    }

    /// A scalar output with a unit.
    pub fn scalar_output(&mut self, name: &str, unit: &str) -> PortId<payload_type::Scalar> {
        self.add(PortSpec::output(
            name,
            PortKind::Scalar { unit: unit.into() },
        ))
    }

    /// The declared ports, in declaration order.
    pub fn build(self) -> Vec<PortSpec> {
        self.ports
    }
}

/// Checks that a port or engine name is non-empty and made of `[A-Za-z0-9_]` (it becomes part of zenoh
/// key expressions and Parquet file names).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_hands_out_indices_in_declaration_order() {
        let mut b = PortsBuilder::new();
        let u = b.analog_input("u", vec![]);
        let s = b.spikes_output("s", 10);
        let r = b.scalar_output("r", "1");
        let ports = b.build();
        assert_eq!((u.index(), s.index(), r.index()), (0, 1, 2));
        assert_eq!(ports[s.index()].name, "s");
        assert_eq!(ports[s.index()].direction, Direction::Output);
        assert_eq!(ports[u.index()].direction, Direction::Input);
        assert_eq!(ports[r.index()].kind, PortKind::Scalar { unit: "1".into() });
        assert_eq!(PortRef::<payload_type::Scalar>::port_index(r), 2);
    }
}
