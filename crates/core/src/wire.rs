//! The wire protocol, version 1: every message exchanged between the coordinator and an engine.
//!
//! The layout is little-endian and documented byte for byte in `docs/protocol.md`, so that a process in
//! any language (Python with `struct`/numpy is enough) can join a run as an engine. Decoding never panics:
//! a malformed message gives a [`WireError`] that says what is wrong and at which byte.
//!
//! Every message starts with a 12-byte header: `"NL"`, the protocol version, the message kind and the
//! step (in base steps) the message belongs to.

use crate::payload::{EventBatch, Payload, SpikeBatch};
use crate::port::{Channel, Direction, PortKind, PortSpec, PortType};
use crate::time::Step;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// The two magic bytes that open every message.
pub const MAGIC: [u8; 2] = *b"NL";
/// Length of the header in bytes.
pub const HEADER_LEN: usize = 12;

/// One port's data inside a `Ready`, `Step` or `StepDone` message.
#[derive(Clone, Debug, PartialEq)]
pub struct DataEntry {
    /// Index of the port in the receiving (for `Step`) or sending (otherwise) engine's port list.
    pub port: u16,
    /// The step at whose end the data was produced (for held values: when the producer made it).
    pub stamp: Step,
    /// The data.
    pub payload: Payload,
}

/// A protocol message. See `docs/protocol.md` for the sequence: `Hello` -> `Init` -> `Ready`, then
/// `Step` -> `StepDone` (or `Window` -> `WindowDone`) repeatedly, `Reset` -> `Ready`, and `Shutdown` ->
/// `Bye`. `Error` may be sent by either side at any time.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Engine -> coordinator, once subscribed: who it is.
    Hello {
        /// The engine's name in the experiment.
        engine: String,
        /// The engine's operating-system process id (0 if unknown).
        pid: u32,
    },
    /// Coordinator -> engine: configuration.
    Init {
        /// Length of the base step in ms.
        base_step_ms: f64,
        /// The engine's sync step, in base steps.
        period: u32,
        /// The engine's seed.
        seed: u64,
        /// The engine's `config` table from the experiment file, as JSON.
        config_json: String,
    },
    /// Engine -> coordinator, after `Init` or `Reset`: its ports and its outputs at t = 0.
    Ready {
        /// Declared ports, inputs and outputs, in index order.
        ports: Vec<PortSpec>,
        /// Outputs at t = 0 (output ports not listed are empty or zero).
        outputs: Vec<DataEntry>,
    },
    /// Coordinator -> engine: advance from `step` to `step + n_steps`, with these inputs.
    Step {
        /// Start of the step.
        step: Step,
        /// Length of the step in base steps (the engine's period).
        n_steps: u32,
        /// Inputs for the step (input ports not listed get no new data).
        inputs: Vec<DataEntry>,
    },
    /// Engine -> coordinator: the step that started at `step` is done.
    StepDone {
        /// Start of the completed step.
        step: Step,
        /// Wall-clock nanoseconds the engine spent computing the step.
        compute_ns: u64,
        /// Outputs produced during the step.
        outputs: Vec<DataEntry>,
    },
    /// Coordinator -> engine: take `substeps.len()` steps of `n_steps` base steps from `step` on, the
    /// k-th with the inputs `substeps[k]` (a lookahead window: every input of the window is known at
    /// its start because every link into the engine is at least a window late).
    Window {
        /// Start of the window (of its first step).
        step: Step,
        /// Length of each step in base steps (the engine's period).
        n_steps: u32,
        /// Inputs of each step, in order (input ports not listed in a step get no new data).
        substeps: Vec<Vec<DataEntry>>,
    },
    /// Engine -> coordinator: the window that started at `step` is done.
    WindowDone {
        /// Start of the completed window.
        step: Step,
        /// Wall-clock nanoseconds the engine spent computing the whole window.
        compute_ns: u64,
        /// Outputs produced by each step of the window, in order.
        outputs: Vec<Vec<DataEntry>>,
    },
    /// Coordinator -> engine: go back to t = 0 as a fresh engine built from the same configuration
    /// with this seed would be, for episode `episode` of the run (answered by `Ready`).
    Reset {
        /// The engine's seed for the episode.
        seed: u64,
        /// The episode index (the run's first episode, after `Init`, is 0).
        episode: u32,
    },
    /// Coordinator -> engine: stop (answered by `Bye`).
    Shutdown,
    /// Engine -> coordinator: stopped.
    Bye,
    /// Either side: something went wrong; the text says what.
    Error {
        /// Description of the problem.
        message: String,
    },
}

/// Defines [`Kind`] from one list of (name, wire code).
macro_rules! message_kinds {
    ($($name:ident = $code:literal),* $(,)?) => {
        /// The kind of a message: its wire code (byte 3 of the header, `docs/protocol.md`) and its
        /// name. The one list of the kinds.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Kind {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name = $code,
            )*
        }

        impl Kind {
            /// The kind with wire code `code`, if there is one.
            pub fn from_code(code: u8) -> Option<Kind> {
                match code {
                    $($code => Some(Kind::$name),)*
                    _ => None,
                }
            }

            /// The name of the kind, for error reports.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$name => stringify!($name),)*
                }
            }
        }
    };
}

message_kinds! {
    Hello = 1,
    Init = 2,
    Ready = 3,
    Step = 4,
    StepDone = 5,
    Reset = 6,
    Shutdown = 7,
    Bye = 8,
    Error = 9,
    Window = 10,
    WindowDone = 11,
}

impl Kind {
    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The kind of the message in `bytes` from its header alone (None if `bytes` is shorter than a header
/// or the code is unknown); the rest is not checked.
pub fn peek_kind(bytes: &[u8]) -> Option<Kind> {
    if bytes.len() < HEADER_LEN {
        return None;
    }
    Kind::from_code(bytes[3])
}

impl Message {
    /// The kind of the message.
    pub fn kind(&self) -> Kind {
        match self {
            Message::Hello { .. } => Kind::Hello,
            Message::Init { .. } => Kind::Init,
            Message::Ready { .. } => Kind::Ready,
            Message::Step { .. } => Kind::Step,
            Message::StepDone { .. } => Kind::StepDone,
            Message::Reset { .. } => Kind::Reset,
            Message::Shutdown => Kind::Shutdown,
            Message::Bye => Kind::Bye,
            Message::Error { .. } => Kind::Error,
            Message::Window { .. } => Kind::Window,
            Message::WindowDone { .. } => Kind::WindowDone,
        }
    }

    /// The wire code of the message kind.
    pub fn kind_code(&self) -> u8 {
        self.kind().code()
    }

    /// The name of the message kind, for error reports.
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }
}

/// What is wrong with a received message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer bytes than a header.
    #[error("message of {len} bytes is shorter than the {HEADER_LEN}-byte header")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The first two bytes are not "NL".
    #[error("message does not start with the magic bytes \"NL\" (got {got:02x?})")]
    BadMagic {
        /// The first two bytes.
        got: [u8; 2],
    },
    /// Another protocol version.
    #[error(
        "protocol version {got} is not supported (this build speaks version {PROTOCOL_VERSION})"
    )]
    Version {
        /// The version in the header.
        got: u8,
    },
    /// Unknown message kind.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// The message ends inside a field.
    #[error("message ends at byte {at} while reading {what} ({needed} more bytes needed)")]
    Truncated {
        /// Offset where reading failed.
        at: usize,
        /// The field being read.
        what: &'static str,
        /// Bytes missing.
        needed: usize,
    },
    /// A field holds an impossible value.
    #[error("invalid {what} at byte {at}: {detail}")]
    Invalid {
        /// Offset of the field.
        at: usize,
        /// The field.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Bytes left over after the last field.
    #[error("{0} unexpected bytes after the end of the message")]
    Trailing(usize),
}

/// Encodes a message into a new buffer.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    encode_into(msg, &mut buf);
    buf
}

/// Encodes a message into `buf`, replacing its contents (reusing its allocation).
pub fn encode_into(msg: &Message, buf: &mut Vec<u8>) {
    let step = match msg {
        Message::Step { step, .. }
        | Message::StepDone { step, .. }
        | Message::Window { step, .. }
        | Message::WindowDone { step, .. } => *step,
        _ => Step(0),
    };
    put_header(buf, msg.kind(), step);
    match msg {
        Message::Hello { engine, pid } => {
            put_str(buf, engine);
            buf.extend_from_slice(&pid.to_le_bytes());
        }
        Message::Init {
            base_step_ms,
            period,
            seed,
            config_json,
        } => {
            buf.extend_from_slice(&base_step_ms.to_le_bytes());
            buf.extend_from_slice(&period.to_le_bytes());
            buf.extend_from_slice(&seed.to_le_bytes());
            put_str(buf, config_json);
        }
        Message::Ready { ports, outputs } => {
            buf.extend_from_slice(&(ports.len() as u16).to_le_bytes());
            for p in ports {
                put_port(buf, p);
            }
            put_entries(buf, outputs);
        }
        Message::Step {
            n_steps, inputs, ..
        } => {
            buf.extend_from_slice(&n_steps.to_le_bytes());
            put_entries(buf, inputs);
        }
        Message::StepDone {
            compute_ns,
            outputs,
            ..
        } => {
            buf.extend_from_slice(&compute_ns.to_le_bytes());
            put_entries(buf, outputs);
        }
        Message::Window {
            n_steps, substeps, ..
        } => {
            buf.extend_from_slice(&n_steps.to_le_bytes());
            put_entry_lists(buf, substeps);
        }
        Message::WindowDone {
            compute_ns,
            outputs,
            ..
        } => {
            buf.extend_from_slice(&compute_ns.to_le_bytes());
            put_entry_lists(buf, outputs);
        }
        Message::Reset { seed, episode } => {
            buf.extend_from_slice(&seed.to_le_bytes());
            buf.extend_from_slice(&episode.to_le_bytes());
        }
        Message::Shutdown | Message::Bye => {}
        Message::Error { message } => put_str(buf, message),
    }
}

/// Decodes one message. Never panics; every problem is a [`WireError`].
pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::TooShort { len: bytes.len() });
    }
    if bytes[0..2] != MAGIC {
        return Err(WireError::BadMagic {
            got: [bytes[0], bytes[1]],
        });
    }
    if bytes[2] != PROTOCOL_VERSION {
        return Err(WireError::Version { got: bytes[2] });
    }
    let kind = Kind::from_code(bytes[3]).ok_or(WireError::UnknownKind(bytes[3]))?;
    let mut r = Reader { bytes, at: 4 };
    let step = Step(r.u64("step")?);
    let msg = match kind {
        Kind::Hello => Message::Hello {
            engine: r.string("engine name")?,
            pid: r.u32("pid")?,
        },
        Kind::Init => Message::Init {
            base_step_ms: r.f64("base_step_ms")?,
            period: r.u32("period")?,
            seed: r.u64("seed")?,
            config_json: r.string("config_json")?,
        },
        Kind::Ready => {
            let n = r.u16("port count")?;
            // Reserve no more than the bytes left can hold (a port takes at least 8 bytes).
            let mut ports = Vec::with_capacity(usize::from(n).min(r.left() / 8));
            for _ in 0..n {
                ports.push(r.port()?);
            }
            Message::Ready {
                ports,
                outputs: r.entries()?,
            }
        }
        Kind::Step => Message::Step {
            step,
            n_steps: r.u32("n_steps")?,
            inputs: r.entries()?,
        },
        Kind::StepDone => Message::StepDone {
            step,
            compute_ns: r.u64("compute_ns")?,
            outputs: r.entries()?,
        },
        Kind::Reset => Message::Reset {
            seed: r.u64("seed")?,
            episode: r.u32("episode")?,
        },
        Kind::Shutdown => Message::Shutdown,
        Kind::Bye => Message::Bye,
        Kind::Error => Message::Error {
            message: r.string("error message")?,
        },
        Kind::Window => {
            let n_steps = r.u32("n_steps")?;
            Message::Window {
                step,
                n_steps,
                substeps: r.entry_lists("step count")?,
            }
        }
        Kind::WindowDone => {
            let compute_ns = r.u64("compute_ns")?;
            Message::WindowDone {
                step,
                compute_ns,
                outputs: r.entry_lists("step count")?,
            }
        }
    };
    if r.at != bytes.len() {
        return Err(WireError::Trailing(bytes.len() - r.at));
    }
    Ok(msg)
}

/// Replaces the contents of `buf` with a message header: magic, version, kind, step.
fn put_header(buf: &mut Vec<u8>, kind: Kind, step: Step) {
    buf.clear();
    buf.extend_from_slice(&MAGIC);
    buf.push(PROTOCOL_VERSION);
    buf.push(kind.code());
    buf.extend_from_slice(&step.0.to_le_bytes());
}

/// Starts a `StepDone` in `buf` (replacing its contents) for an engine that writes its outputs straight
/// from its output slots, without building a [`Message`]: the header and the compute time. One
/// [`put_output_list`] completes it; the bytes are those of [`encode_into`] of the same message.
pub fn begin_step_done(buf: &mut Vec<u8>, step: Step, compute_ns: u64) {
    put_header(buf, Kind::StepDone, step);
    buf.extend_from_slice(&compute_ns.to_le_bytes());
}

/// Starts a `WindowDone` in `buf` (replacing its contents): the header, then a compute time and a step
/// count of 0. One [`put_output_list`] per step follows, then [`finish_window_done`].
pub fn begin_window_done(buf: &mut Vec<u8>, step: Step) {
    put_header(buf, Kind::WindowDone, step);
    buf.extend_from_slice(&0u64.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes());
}

/// Writes the compute time and the number of steps into a `WindowDone` begun with
/// [`begin_window_done`].
pub fn finish_window_done(buf: &mut [u8], compute_ns: u64, steps: u32) {
    let at = HEADER_LEN;
    buf[at..at + 8].copy_from_slice(&compute_ns.to_le_bytes());
    buf[at + 8..at + 12].copy_from_slice(&steps.to_le_bytes());
}

/// Appends one step's outputs to a `StepDone` or `WindowDone`: their count, then one entry per
/// (port index, payload), each stamped `end`.
pub fn put_output_list<'a>(
    buf: &mut Vec<u8>,
    end: Step,
    outputs: impl ExactSizeIterator<Item = (u16, &'a Payload)>,
) {
    buf.extend_from_slice(&(outputs.len() as u16).to_le_bytes());
    for (port, payload) in outputs {
        put_entry(buf, port, end, payload);
    }
}

/// A u32 count, then that many entry lists (a `Window`'s inputs, a `WindowDone`'s outputs).
fn put_entry_lists(buf: &mut Vec<u8>, lists: &[Vec<DataEntry>]) {
    buf.extend_from_slice(&(lists.len() as u32).to_le_bytes());
    for list in lists {
        put_entries(buf, list);
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_port(buf: &mut Vec<u8>, p: &PortSpec) {
    put_str(buf, &p.name);
    buf.push(match p.direction {
        Direction::Input => 0,
        Direction::Output => 1,
    });
    buf.push(p.kind.port_type().tag());
    match &p.kind {
        PortKind::Spikes { size } => buf.extend_from_slice(&size.to_le_bytes()),
        PortKind::Analog { channels } => {
            buf.extend_from_slice(&(channels.len() as u32).to_le_bytes());
            for c in channels {
                put_str(buf, &c.name);
                put_str(buf, &c.unit);
            }
        }
        PortKind::Events { width, height } => {
            buf.extend_from_slice(&width.to_le_bytes());
            buf.extend_from_slice(&height.to_le_bytes());
        }
        PortKind::Scalar { unit } => put_str(buf, unit),
    }
}

fn put_entries(buf: &mut Vec<u8>, entries: &[DataEntry]) {
    buf.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in entries {
        put_entry(buf, e.port, e.stamp, &e.payload);
    }
}

/// Appends one data entry (port index, type tag, stamp, payload) to `buf`; used by [`encode_into`] and
/// by senders that build messages without allocating a [`Message`].
pub fn put_entry(buf: &mut Vec<u8>, port: u16, stamp: Step, payload: &Payload) {
    buf.extend_from_slice(&port.to_le_bytes());
    buf.push(payload.port_type().tag());
    buf.extend_from_slice(&stamp.0.to_le_bytes());
    match payload {
        Payload::Spikes(b) => {
            buf.extend_from_slice(&(b.neuron.len() as u32).to_le_bytes());
            for n in &b.neuron {
                buf.extend_from_slice(&n.to_le_bytes());
            }
            for t in &b.time_ms {
                buf.extend_from_slice(&t.to_le_bytes());
            }
        }
        Payload::Analog(v) => {
            buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
            for x in v {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        Payload::Events(b) => {
            buf.extend_from_slice(&(b.x.len() as u32).to_le_bytes());
            for x in &b.x {
                buf.extend_from_slice(&x.to_le_bytes());
            }
            for y in &b.y {
                buf.extend_from_slice(&y.to_le_bytes());
            }
            for t in &b.time_ms {
                buf.extend_from_slice(&t.to_le_bytes());
            }
            for p in &b.polarity {
                buf.push(u8::from(*p));
            }
        }
        Payload::Scalar(x) => buf.extend_from_slice(&x.to_le_bytes()),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let left = self.bytes.len() - self.at;
        if left < n {
            return Err(WireError::Truncated {
                at: self.at,
                what,
                needed: n - left,
            });
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn f64(&mut self, what: &'static str) -> Result<f64, WireError> {
        Ok(f64::from_bits(self.u64(what)?))
    }

    /// A count of elements of `elem_size` bytes each, checked against the bytes left so that a corrupt
    /// count cannot make us allocate gigabytes.
    /// Bytes not yet read.
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn count(&mut self, elem_size: usize, what: &'static str) -> Result<usize, WireError> {
        let at = self.at;
        let n = self.u32(what)? as usize;
        let left = self.bytes.len() - self.at;
        if n.saturating_mul(elem_size) > left {
            return Err(WireError::Invalid {
                at,
                what,
                detail: format!("{n} elements of {elem_size} bytes but only {left} bytes follow"),
            });
        }
        Ok(n)
    }

    fn string(&mut self, what: &'static str) -> Result<String, WireError> {
        let n = self.count(1, what)?;
        let at = self.at;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|e| WireError::Invalid {
            at,
            what,
            detail: format!("not UTF-8: {e}"),
        })
    }

    fn port(&mut self) -> Result<PortSpec, WireError> {
        let name = self.string("port name")?;
        let at = self.at;
        let direction = match self.u8("port direction")? {
            0 => Direction::Input,
            1 => Direction::Output,
            d => {
                return Err(WireError::Invalid {
                    at,
                    what: "port direction",
                    detail: format!("{d} (expected 0 or 1)"),
                })
            }
        };
        let at = self.at;
        let tag = self.u8("port type")?;
        let kind = match PortType::from_tag(tag) {
            Some(PortType::Spikes) => PortKind::Spikes {
                size: self.u32("population size")?,
            },
            Some(PortType::Analog) => {
                let n = self.count(8, "channel count")?;
                let mut channels = Vec::with_capacity(n);
                for _ in 0..n {
                    channels.push(Channel {
                        name: self.string("channel name")?,
                        unit: self.string("channel unit")?,
                    });
                }
                PortKind::Analog { channels }
            }
            Some(PortType::Events) => PortKind::Events {
                width: self.u16("sensor width")?,
                height: self.u16("sensor height")?,
            },
            Some(PortType::Scalar) => PortKind::Scalar {
                unit: self.string("scalar unit")?,
            },
            None => {
                return Err(WireError::Invalid {
                    at,
                    what: "port type",
                    detail: format!("unknown tag {tag}"),
                })
            }
        };
        Ok(PortSpec {
            name,
            direction,
            kind,
        })
    }

    /// A u32 count, then that many entry lists.
    fn entry_lists(&mut self, what: &'static str) -> Result<Vec<Vec<DataEntry>>, WireError> {
        let n = self.count(2, what)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.entries()?);
        }
        Ok(v)
    }

    fn entries(&mut self) -> Result<Vec<DataEntry>, WireError> {
        let n = self.u16("entry count")?;
        // Reserve no more than the bytes left can hold (an entry takes at least 15 bytes), so that a
        // message allocates in proportion to its length, not to what its counts claim.
        let mut v = Vec::with_capacity(usize::from(n).min(self.left() / 15));
        for _ in 0..n {
            v.push(self.entry()?);
        }
        Ok(v)
    }

    fn entry(&mut self) -> Result<DataEntry, WireError> {
        let port = self.u16("entry port")?;
        let at = self.at;
        let tag = self.u8("entry type")?;
        let stamp = Step(self.u64("entry stamp")?);
        let payload = match PortType::from_tag(tag) {
            Some(PortType::Spikes) => {
                let n = self.count(12, "spike count")?;
                let mut b = SpikeBatch {
                    neuron: Vec::with_capacity(n),
                    time_ms: Vec::with_capacity(n),
                };
                for _ in 0..n {
                    b.neuron.push(self.u32("neuron index")?);
                }
                for _ in 0..n {
                    b.time_ms.push(self.f64("spike time")?);
                }
                Payload::Spikes(b)
            }
            Some(PortType::Analog) => {
                let n = self.count(8, "analog length")?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.f64("analog value")?);
                }
                Payload::Analog(v)
            }
            Some(PortType::Events) => {
                let n = self.count(13, "event count")?;
                let mut b = EventBatch {
                    x: Vec::with_capacity(n),
                    y: Vec::with_capacity(n),
                    time_ms: Vec::with_capacity(n),
                    polarity: Vec::with_capacity(n),
                };
                for _ in 0..n {
                    b.x.push(self.u16("event x")?);
                }
                for _ in 0..n {
                    b.y.push(self.u16("event y")?);
                }
                for _ in 0..n {
                    b.time_ms.push(self.f64("event time")?);
                }
                for _ in 0..n {
                    let pat = self.at;
                    b.polarity.push(match self.u8("event polarity")? {
                        0 => false,
                        1 => true,
                        p => {
                            return Err(WireError::Invalid {
                                at: pat,
                                what: "event polarity",
                                detail: format!("{p} (expected 0 or 1)"),
                            })
                        }
                    });
                }
                Payload::Events(b)
            }
            Some(PortType::Scalar) => Payload::Scalar(self.f64("scalar value")?),
            None => {
                return Err(WireError::Invalid {
                    at,
                    what: "entry type",
                    detail: format!("unknown tag {tag}"),
                })
            }
        };
        Ok(DataEntry {
            port,
            stamp,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_messages() -> Vec<Message> {
        let mut spikes = SpikeBatch::default();
        spikes.push(3, 0.1);
        spikes.push(7, 0.9);
        let mut events = EventBatch::default();
        events.push(1, 2, 0.5, true);
        events.push(3, 4, 0.75, false);
        vec![
            Message::Hello {
                engine: "brain".into(),
                pid: 42,
            },
            Message::Init {
                base_step_ms: 0.5,
                period: 2,
                seed: 99,
                config_json: "{\"a\":1}".into(),
            },
            Message::Ready {
                ports: vec![
                    PortSpec::input("drive", PortKind::analog(&[("x", "m"), ("v", "m/s")])),
                    PortSpec::output("spikes", PortKind::Spikes { size: 10 }),
                    PortSpec::output(
                        "dvs",
                        PortKind::Events {
                            width: 32,
                            height: 24,
                        },
                    ),
                    PortSpec::input("reward", PortKind::Scalar { unit: "1".into() }),
                ],
                outputs: vec![DataEntry {
                    port: 1,
                    stamp: Step(0),
                    payload: Payload::Spikes(SpikeBatch::default()),
                }],
            },
            Message::Step {
                step: Step(17),
                n_steps: 3,
                inputs: vec![
                    DataEntry {
                        port: 0,
                        stamp: Step(16),
                        payload: Payload::Analog(vec![1.0, -2.5]),
                    },
                    DataEntry {
                        port: 3,
                        stamp: Step(15),
                        payload: Payload::Scalar(0.25),
                    },
                ],
            },
            Message::StepDone {
                step: Step(17),
                compute_ns: 12345,
                outputs: vec![
                    DataEntry {
                        port: 1,
                        stamp: Step(20),
                        payload: Payload::Spikes(spikes),
                    },
                    DataEntry {
                        port: 2,
                        stamp: Step(20),
                        payload: Payload::Events(events),
                    },
                ],
            },
            Message::Window {
                step: Step(20),
                n_steps: 1,
                substeps: vec![
                    vec![DataEntry {
                        port: 0,
                        stamp: Step(18),
                        payload: Payload::Analog(vec![3.0, 4.0]),
                    }],
                    vec![],
                    vec![DataEntry {
                        port: 3,
                        stamp: Step(19),
                        payload: Payload::Scalar(-1.0),
                    }],
                ],
            },
            Message::WindowDone {
                step: Step(20),
                compute_ns: 99,
                outputs: vec![
                    vec![],
                    vec![DataEntry {
                        port: 1,
                        stamp: Step(22),
                        payload: Payload::Spikes(SpikeBatch::default()),
                    }],
                ],
            },
            Message::Reset {
                seed: 0x0123_4567_89ab_cdef,
                episode: 3,
            },
            Message::Shutdown,
            Message::Bye,
            Message::Error {
                message: "boom".into(),
            },
        ]
    }

    #[test]
    fn every_kind_has_one_code_and_every_message_its_kind() {
        let kinds: Vec<Kind> = (0..=u8::MAX).filter_map(Kind::from_code).collect();
        assert_eq!(kinds.len(), 11);
        for k in &kinds {
            assert_eq!(Kind::from_code(k.code()), Some(*k));
        }
        for m in all_messages() {
            let bytes = encode(&m);
            assert_eq!(peek_kind(&bytes), Some(m.kind()), "{}", m.kind_name());
            assert_eq!(m.kind().name(), format!("{:?}", m.kind()));
        }
        assert_eq!(peek_kind(&[b'N', b'L', 1]), None);
    }

    #[test]
    fn done_messages_written_from_output_slots_are_the_encoded_messages() {
        let outputs = vec![
            DataEntry {
                port: 1,
                stamp: Step(7),
                payload: Payload::Analog(vec![0.5, -2.0]),
            },
            DataEntry {
                port: 3,
                stamp: Step(7),
                payload: Payload::Scalar(1.0),
            },
        ];
        let slots = || outputs.iter().map(|d| (d.port, &d.payload));
        let mut buf = Vec::new();
        begin_step_done(&mut buf, Step(5), 1234);
        put_output_list(&mut buf, Step(7), slots());
        let step_done = Message::StepDone {
            step: Step(5),
            compute_ns: 1234,
            outputs: outputs.clone(),
        };
        assert_eq!(buf, encode(&step_done));
        begin_window_done(&mut buf, Step(5));
        put_output_list(&mut buf, Step(7), slots());
        put_output_list(&mut buf, Step(7), slots());
        finish_window_done(&mut buf, 99, 2);
        let window_done = Message::WindowDone {
            step: Step(5),
            compute_ns: 99,
            outputs: vec![outputs.clone(), outputs.clone()],
        };
        assert_eq!(buf, encode(&window_done));
    }

    #[test]
    fn every_message_round_trips() {
        for m in all_messages() {
            assert_eq!(decode(&encode(&m)).unwrap(), m, "{}", m.kind_name());
        }
    }

    #[test]
    fn header_layout_is_as_documented() {
        let b = encode(&Message::Step {
            step: Step(0x0102),
            n_steps: 1,
            inputs: vec![],
        });
        assert_eq!(&b[0..4], &[b'N', b'L', 1, 4]);
        assert_eq!(&b[4..12], &0x0102u64.to_le_bytes());
        assert_eq!(&b[12..16], &1u32.to_le_bytes());
        assert_eq!(&b[16..18], &0u16.to_le_bytes());
        assert_eq!(b.len(), 18);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for m in all_messages() {
            let b = encode(&m);
            for cut in 0..b.len() {
                assert!(decode(&b[..cut]).is_err(), "{} cut at {cut}", m.kind_name());
            }
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        // Flip every byte of every message to every 17th value: decode must return, never panic.
        for m in all_messages() {
            let b = encode(&m);
            for i in 0..b.len() {
                for v in (0u8..=255).step_by(17) {
                    let mut c = b.clone();
                    c[i] = v;
                    let _ = decode(&c);
                }
            }
        }
    }

    #[test]
    fn specific_errors() {
        assert_eq!(decode(b"NL"), Err(WireError::TooShort { len: 2 }));
        assert!(matches!(
            decode(b"XX\x01\x04\0\0\0\0\0\0\0\0"),
            Err(WireError::BadMagic { .. })
        ));
        assert_eq!(
            decode(b"NL\x02\x04\0\0\0\0\0\0\0\0"),
            Err(WireError::Version { got: 2 })
        );
        assert_eq!(
            decode(b"NL\x01\x63\0\0\0\0\0\0\0\0"),
            Err(WireError::UnknownKind(0x63))
        );
        let mut b = encode(&Message::Bye);
        b.push(0);
        assert_eq!(decode(&b), Err(WireError::Trailing(1)));
        // A huge spike count with no data behind it is refused before allocating.
        let mut b = encode(&Message::StepDone {
            step: Step(0),
            compute_ns: 0,
            outputs: vec![],
        });
        b.truncate(b.len() - 2);
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.push(1);
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&b),
            Err(WireError::Invalid {
                what: "spike count",
                ..
            })
        ));
    }
}
