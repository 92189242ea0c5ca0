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

/// Checks that a port or engine name is non-empty and made of `[A-Za-z0-9_]` (it becomes part of zenoh
/// key expressions and Parquet file names).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
