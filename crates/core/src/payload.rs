//! Payloads: the data that flows through ports, one variant per [`PortType`](crate::port::PortType).

use crate::port::{PortKind, PortType};

/// A batch of spikes from one population: `neuron[i]` fired at `time_ms[i]` (simulated ms since t = 0).
/// Spikes are in time order; equal times keep the producer's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpikeBatch {
    /// Index of the neuron in its population.
    pub neuron: Vec<u32>,
    /// Spike time in ms.
    pub time_ms: Vec<f64>,
}

impl SpikeBatch {
    /// Number of spikes.
    pub fn len(&self) -> usize {
        self.neuron.len()
    }

    /// Whether the batch holds no spike.
    pub fn is_empty(&self) -> bool {
        self.neuron.is_empty()
    }

    /// Adds one spike.
    pub fn push(&mut self, neuron: u32, time_ms: f64) {
        self.neuron.push(neuron);
        self.time_ms.push(time_ms);
    }

    /// Removes every spike, keeping the allocation.
    pub fn clear(&mut self) {
        self.neuron.clear();
        self.time_ms.clear();
    }

    /// Appends another batch (which must be later in time).
    pub fn extend_from(&mut self, other: &SpikeBatch) {
        self.neuron.extend_from_slice(&other.neuron);
        self.time_ms.extend_from_slice(&other.time_ms);
    }
}

/// A batch of address events from a `width` x `height` sensor: pixel (`x[i]`, `y[i]`) changed at
/// `time_ms[i]`, brighter (`polarity[i] == true`, ON) or darker (OFF).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventBatch {
    /// Column of the event.
    pub x: Vec<u16>,
    /// Row of the event.
    pub y: Vec<u16>,
    /// Time of the event in simulated ms.
    pub time_ms: Vec<f64>,
    /// ON (true) or OFF (false).
    pub polarity: Vec<bool>,
}

impl EventBatch {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Adds one event.
    pub fn push(&mut self, x: u16, y: u16, time_ms: f64, polarity: bool) {
        self.x.push(x);
        self.y.push(y);
        self.time_ms.push(time_ms);
        self.polarity.push(polarity);
    }

    /// Removes every event, keeping the allocation.
    pub fn clear(&mut self) {
        self.x.clear();
        self.y.clear();
        self.time_ms.clear();
        self.polarity.clear();
    }

    /// Appends another batch (which must be later in time).
    pub fn extend_from(&mut self, other: &EventBatch) {
        self.x.extend_from_slice(&other.x);
        self.y.extend_from_slice(&other.y);
        self.time_ms.extend_from_slice(&other.time_ms);
        self.polarity.extend_from_slice(&other.polarity);
    }
}

/// The data of one port for one step.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// A spike batch.
    Spikes(SpikeBatch),
    /// An analog vector.
    Analog(Vec<f64>),
    /// An address-event batch.
    Events(EventBatch),
    /// One value.
    Scalar(f64),
}

impl Payload {
    /// The empty (or zero) payload for a port kind: no spikes, no events, zeros, 0.0.
    pub fn empty_for(kind: &PortKind) -> Self {
        match kind {
            PortKind::Spikes { .. } => Payload::Spikes(SpikeBatch::default()),
            PortKind::Analog { channels } => Payload::Analog(vec![0.0; channels.len()]),
            PortKind::Events { .. } => Payload::Events(EventBatch::default()),
            PortKind::Scalar { .. } => Payload::Scalar(0.0),
        }
    }

    /// The port type of this payload.
    pub fn port_type(&self) -> PortType {
        match self {
            Payload::Spikes(_) => PortType::Spikes,
            Payload::Analog(_) => PortType::Analog,
            Payload::Events(_) => PortType::Events,
            Payload::Scalar(_) => PortType::Scalar,
        }
    }

    /// Checks that the payload fits the declared kind: same type, analog length, neuron indices below the
    /// population size, event coordinates inside the sensor, finite times. Returns what is wrong.
    pub fn check_against(&self, kind: &PortKind) -> Result<(), String> {
        match (self, kind) {
            (Payload::Spikes(b), PortKind::Spikes { size }) => {
                if b.neuron.len() != b.time_ms.len() {
                    return Err("spike batch has unequal neuron and time arrays".into());
                }
                if let Some(n) = b.neuron.iter().find(|&&n| n >= *size) {
                    return Err(format!(
                        "neuron index {n} is outside the population of {size}"
                    ));
                }
                if b.time_ms.iter().any(|t| !t.is_finite()) {
                    return Err("spike time is not finite".into());
                }
                Ok(())
            }
            (Payload::Analog(v), PortKind::Analog { channels }) => {
                if v.len() != channels.len() {
                    Err(format!(
                        "analog vector has {} values, the port declares {}",
                        v.len(),
                        channels.len()
                    ))
                } else {
                    Ok(())
                }
            }
            (Payload::Events(b), PortKind::Events { width, height }) => {
                let n = b.x.len();
                if b.y.len() != n || b.time_ms.len() != n || b.polarity.len() != n {
                    return Err("event batch has arrays of unequal length".into());
                }
                if let Some(i) = (0..n).find(|&i| b.x[i] >= *width || b.y[i] >= *height) {
                    return Err(format!(
                        "event at ({}, {}) is outside the {width}x{height} sensor",
                        b.x[i], b.y[i]
                    ));
                }
                if b.time_ms.iter().any(|t| !t.is_finite()) {
                    return Err("event time is not finite".into());
                }
                Ok(())
            }
            (Payload::Scalar(_), PortKind::Scalar { .. }) => Ok(()),
            (p, k) => Err(format!(
                "payload is {}, the port is {}",
                p.port_type(),
                k.port_type()
            )),
        }
    }
}
