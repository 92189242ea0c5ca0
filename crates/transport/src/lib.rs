//! Zenoh plumbing for neuroloop: key expressions, session configuration, the engine-side runner
//! ([`serve`], the engine SDK) and the coordinator's [`Hub`].
//!
//! Every run has its own key namespace `neuroloop/<run_id>/...`, so two runs on one machine never see
//! each other's messages. The coordinator listens on one endpoint (by default `tcp/127.0.0.1:<port>`)
//! and every engine connects to it: a star, so no router is needed and no peer has to forward. All
//! lockstep messages are published with congestion control `Block` (zenoh's default, `Drop`, would lose
//! them under load) and `express` (no batching delay). Start-up waits on zenoh matching status and
//! liveliness tokens, never on sleeps.
//!
//! | key | publisher | what |
//! |---|---|---|
//! | `neuroloop/<run>/coordinator` | coordinator | liveliness token: the run is alive |
//! | `neuroloop/<run>/engine/<name>` | engine | liveliness token: the engine is alive |
//! | `neuroloop/<run>/engine/<name>/in` | coordinator | messages to the engine |
//! | `neuroloop/<run>/engine/<name>/out` | engine | messages from the engine |
//!
//! The messages themselves are `neuroloop_core::wire` (see `docs/protocol.md`).
//!
//! A minimal engine binary:
//! ```no_run
//! use neuroloop_core::engine::*;
//! use neuroloop_core::port::{PortKind, PortSpec};
//!
//! struct Echo;
//! impl Engine for Echo {
//!     fn ports(&self) -> Vec<PortSpec> {
//!         vec![PortSpec::input("x", PortKind::analog(&[("x", "1")])),
//!              PortSpec::output("y", PortKind::analog(&[("y", "1")]))]
//!     }
//!     fn step(&mut self, _: &StepContext, i: &Inputs, o: &mut Outputs) -> Result<(), EngineError> {
//!         o.analog_mut(1)[0] = i.analog(0)[0];
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let args = neuroloop_transport::EngineArgs::from_env()?;
//!     neuroloop_transport::serve(&args, |_ctx| Ok(Box::new(Echo)))?;
//!     Ok(())
//! }
//! ```
#![deny(missing_docs)]

mod config;
mod engine;
mod hub;
pub mod keys;

pub use config::{
    endpoint_host, free_tcp_endpoint, peer_config, zenoh_config, LinkOptions, RunAccess, TlsFiles,
    ENV_LEASE_MS, ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY,
};
pub use engine::{lowlatency_from_env, serve, EngineArgs};
pub use hub::{spin_time, Hub, HubEvent};

/// What can go wrong in the transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Zenoh refused an operation.
    #[error("zenoh: {what}: {detail}")]
    Zenoh {
        /// The operation.
        what: String,
        /// Zenoh's error text.
        detail: String,
    },
    /// A required setting is missing or wrong.
    #[error("{0}")]
    Setting(String),
    /// The other side did not answer in time.
    #[error("timed out after {ms} ms waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        ms: u64,
    },
    /// A message could not be decoded.
    #[error("malformed message from {from}: {error}")]
    Malformed {
        /// Who sent it.
        from: String,
        /// What is wrong.
        error: neuroloop_core::wire::WireError,
    },
    /// The protocol was not followed.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The engine failed.
    #[error("engine: {0}")]
    Engine(#[from] neuroloop_core::engine::EngineError),
    /// The coordinator went away.
    #[error("the coordinator of run {0} is gone")]
    CoordinatorGone(String),
}

/// The exit status of an engine process that stopped because it lost the coordinator (its
/// liveliness token went away, e.g. the coordinator was stopped or starved for longer than zenoh's
/// lease): the coordinator, should it come back, reports it as such and not as a crash. Both SDKs use it.
pub const EXIT_COORDINATOR_GONE: u8 = 75;

pub(crate) fn zerr(what: impl Into<String>) -> impl FnOnce(zenoh::Error) -> TransportError {
    let what = what.into();
    move |e| TransportError::Zenoh {
        what,
        detail: e.to_string(),
    }
}
