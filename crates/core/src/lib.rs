//! The network-free heart of neuroloop: simulated time, ports and payloads, the wire protocol, the
//! [`Engine`](engine::Engine) trait, experiment files, transfer functions and the lockstep rules.
//!
//! Nothing here opens a socket: every model and every rule can be exercised in a unit test. The zenoh
//! plumbing lives in `neuroloop-transport`, recording in `neuroloop-record`, and the `neuroloop` binary
//! glues them together.
//!
//! Main types:
//! - [`Step`](time::Step): simulated time as an integer count of base steps; milliseconds only at the edges.
//! - [`PortSpec`](port::PortSpec) and [`Payload`](payload::Payload): what flows between engines
//!   (spike batches, analog vectors, address events, scalars).
//! - [`wire::Message`]: the versioned little-endian wire format of `docs/protocol.md`.
//! - [`engine::Engine`]: what an engine author implements (tens of lines for a minimal engine).
//! - [`experiment::Experiment`]: a validated experiment file.
//! - [`lockstep::Lockstep`]: who steps when, and what each engine sees at each step.
//!
//! ```
//! use neuroloop_core::payload::Payload;
//! use neuroloop_core::wire::{decode, encode, Message, DataEntry};
//! use neuroloop_core::time::Step;
//!
//! let msg = Message::StepDone {
//!     step: Step(3),
//!     compute_ns: 1200,
//!     outputs: vec![DataEntry { port: 0, stamp: Step(4), payload: Payload::Scalar(1.5) }],
//! };
//! let bytes = encode(&msg);
//! assert_eq!(decode(&bytes).unwrap(), msg);
//! ```
#![deny(missing_docs)]

pub mod engine;
pub mod experiment;
pub mod lockstep;
pub mod payload;
pub mod port;
pub mod seed;
pub mod time;
pub mod transfer;
pub mod wire;
