"""The neuroloop wire protocol, version 1: encoding and decoding of every message.

This mirrors ``crates/core/src/wire.rs`` (the authoritative implementation) byte for byte; the layout is
documented in ``docs/protocol.md``. Everything is little-endian. Arrays are read with
``numpy.frombuffer`` and written with ``ndarray.tobytes``.

Decoding never lets a malformed message through: it raises :class:`WireError`, saying what is wrong and
at which byte, in the same cases as the Rust decoder (short header, bad magic, other version, unknown
kind, truncation, impossible values, trailing bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

#: The protocol version this module speaks.
PROTOCOL_VERSION = 1
#: The two bytes that open every message.
MAGIC = b"NL"
#: Length of the header in bytes: magic (2), version (1), kind (1), step (u64).
HEADER_LEN = 12

# Message kind codes.
HELLO, INIT, READY, STEP, STEP_DONE, RESET, SHUTDOWN, BYE, ERROR, WINDOW, WINDOW_DONE = range(1, 12)

# Port type tags.
SPIKES, ANALOG, EVENTS, SCALAR = 1, 2, 3, 4
TYPE_NAMES = {SPIKES: "spikes", ANALOG: "analog", EVENTS: "events", SCALAR: "scalar"}

# Port directions.
INPUT, OUTPUT = 0, 1

_F64 = np.dtype("<f8")
_U32 = np.dtype("<u4")
_U16 = np.dtype("<u2")
_U8 = np.dtype("u1")


class WireError(ValueError):
    """A received message is malformed; the text says what is wrong and at which byte."""


# --------------------------------------------------------------------------------------------------
# Port kinds and ports
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spikes:
    """Spikes of a population of ``size`` neurons (indices ``0..size``)."""

    size: int
    tag = SPIKES

    def describe(self) -> str:
        return f"spikes({self.size})"


@dataclass(frozen=True)
class Analog:
    """A fixed-length vector of float64, one ``(name, unit)`` channel per element."""

    channels: Tuple[Tuple[str, str], ...]
    tag = ANALOG

    def __init__(self, channels: Sequence[Tuple[str, str]]):
        object.__setattr__(self, "channels", tuple((str(n), str(u)) for n, u in channels))

    def describe(self) -> str:
        return f"analog[{len(self.channels)}]"


@dataclass(frozen=True)
class Events:
    """Address events (x, y, t, polarity) from a ``width`` x ``height`` sensor."""

    width: int
    height: int
    tag = EVENTS

    def describe(self) -> str:
        return f"events({self.width}x{self.height})"


@dataclass(frozen=True)
class Scalar:
    """One float64 value with a unit (``"1"`` for dimensionless)."""

    unit: str = "1"
    tag = SCALAR

    def describe(self) -> str:
        return f"scalar({self.unit})"


PortKind = Union[Spikes, Analog, Events, Scalar]


@dataclass(frozen=True)
class Port:
    """A declared port: name (``[A-Za-z0-9_]+``), direction (:data:`INPUT` or :data:`OUTPUT`), kind."""

    name: str
    direction: int
    kind: PortKind

    @classmethod
    def input(cls, name: str, kind: PortKind) -> "Port":
        return cls(name, INPUT, kind)

    @classmethod
    def output(cls, name: str, kind: PortKind) -> "Port":
        return cls(name, OUTPUT, kind)

    @property
    def is_input(self) -> bool:
        return self.direction == INPUT


# --------------------------------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------------------------------


class SpikeBatch:
    """Spikes of one population: ``neuron[i]`` fired at ``time_ms[i]`` (simulated ms since t = 0)."""

    __slots__ = ("neuron", "time_ms")

    def __init__(self, neuron=None, time_ms=None):
        self.neuron = np.asarray([] if neuron is None else neuron, dtype=_U32)
        self.time_ms = np.asarray([] if time_ms is None else time_ms, dtype=_F64)

    def __len__(self) -> int:
        return len(self.neuron)

    def push(self, neuron: int, time_ms: float) -> None:
        """Adds one spike (for a few spikes; build the arrays directly for many)."""
        self.neuron = np.append(self.neuron, np.asarray([neuron], dtype=_U32))
        self.time_ms = np.append(self.time_ms, np.asarray([time_ms], dtype=_F64))

    def clear(self) -> None:
        self.neuron = np.empty(0, dtype=_U32)
        self.time_ms = np.empty(0, dtype=_F64)

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, SpikeBatch)
            and np.array_equal(self.neuron, other.neuron)
            and np.array_equal(self.time_ms, other.time_ms)
        )

    def __repr__(self) -> str:
        return f"SpikeBatch(neuron={self.neuron.tolist()}, time_ms={self.time_ms.tolist()})"


class EventBatch:
    """Address events: pixel (``x[i]``, ``y[i]``) changed at ``time_ms[i]``, ON if ``polarity[i]``."""

    __slots__ = ("x", "y", "time_ms", "polarity")

    def __init__(self, x=None, y=None, time_ms=None, polarity=None):
        self.x = np.asarray([] if x is None else x, dtype=_U16)
        self.y = np.asarray([] if y is None else y, dtype=_U16)
        self.time_ms = np.asarray([] if time_ms is None else time_ms, dtype=_F64)
        self.polarity = np.asarray([] if polarity is None else polarity, dtype=bool)

    def __len__(self) -> int:
        return len(self.x)

    def push(self, x: int, y: int, time_ms: float, polarity: bool) -> None:
        self.x = np.append(self.x, np.asarray([x], dtype=_U16))
        self.y = np.append(self.y, np.asarray([y], dtype=_U16))
        self.time_ms = np.append(self.time_ms, np.asarray([time_ms], dtype=_F64))
        self.polarity = np.append(self.polarity, np.asarray([polarity], dtype=bool))

    def clear(self) -> None:
        self.__init__()

    def __eq__(self, other) -> bool:
        return isinstance(other, EventBatch) and all(
            np.array_equal(getattr(self, a), getattr(other, a)) for a in self.__slots__
        )

    def __repr__(self) -> str:
        return (
            f"EventBatch(x={self.x.tolist()}, y={self.y.tolist()}, "
            f"time_ms={self.time_ms.tolist()}, polarity={self.polarity.tolist()})"
        )


#: A payload: SpikeBatch (spikes), 1-D float64 ndarray (analog), EventBatch (events), float (scalar).
Payload = Union[SpikeBatch, np.ndarray, EventBatch, float]


def empty_payload(kind: PortKind) -> Payload:
    """The empty (or zero) payload of a port kind: no spikes, no events, zeros, 0.0."""
    if isinstance(kind, Spikes):
        return SpikeBatch()
    if isinstance(kind, Analog):
        return np.zeros(len(kind.channels), dtype=_F64)
    if isinstance(kind, Events):
        return EventBatch()
    return 0.0


def payload_tag(payload: Payload) -> int:
    """The wire type tag of a payload."""
    if isinstance(payload, SpikeBatch):
        return SPIKES
    if isinstance(payload, EventBatch):
        return EVENTS
    if isinstance(payload, np.ndarray):
        return ANALOG
    if isinstance(payload, (float, int, np.floating, np.integer)):
        return SCALAR
    raise TypeError(f"not a neuroloop payload: {type(payload).__name__}")


def check_payload(payload: Payload, kind: PortKind) -> Optional[str]:
    """What is wrong with ``payload`` for a port of ``kind`` (None if it fits); same rules as Rust."""
    tag = payload_tag(payload)
    if tag != kind.tag:
        return f"payload is {TYPE_NAMES[tag]}, the port is {TYPE_NAMES[kind.tag]}"
    if isinstance(kind, Spikes):
        b = payload
        if len(b.neuron) != len(b.time_ms):
            return "spike batch has unequal neuron and time arrays"
        bad = b.neuron[b.neuron >= kind.size]
        if len(bad):
            return f"neuron index {int(bad[0])} is outside the population of {kind.size}"
        if not np.all(np.isfinite(b.time_ms)):
            return "spike time is not finite"
    elif isinstance(kind, Analog):
        if payload.shape != (len(kind.channels),):
            return (
                f"analog vector has {payload.size} values, the port declares {len(kind.channels)}"
            )
    elif isinstance(kind, Events):
        b = payload
        n = len(b.x)
        if len(b.y) != n or len(b.time_ms) != n or len(b.polarity) != n:
            return "event batch has arrays of unequal length"
        out = np.nonzero((b.x >= kind.width) | (b.y >= kind.height))[0]
        if len(out):
            i = int(out[0])
            return (
                f"event at ({int(b.x[i])}, {int(b.y[i])}) is outside the "
                f"{kind.width}x{kind.height} sensor"
            )
        if not np.all(np.isfinite(b.time_ms)):
            return "event time is not finite"
    return None


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


@dataclass
class DataEntry:
    """One port's data in a Ready, Step or StepDone message."""

    port: int
    """Port index in the receiving (Step) or sending (Ready, StepDone) engine's port list."""
    stamp: int
    """Step (in base steps) at whose end the data was produced."""
    payload: Payload

    def __eq__(self, other) -> bool:
        if not isinstance(other, DataEntry) or (self.port, self.stamp) != (other.port, other.stamp):
            return False
        a, b = self.payload, other.payload
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return (
                isinstance(a, np.ndarray)
                and isinstance(b, np.ndarray)
                and np.array_equal(a, b)
            )
        return a == b


@dataclass
class Hello:
    """Engine -> coordinator, once subscribed: who it is."""

    engine: str
    pid: int
    code = HELLO


@dataclass
class Init:
    """Coordinator -> engine: configuration."""

    base_step_ms: float
    period: int
    seed: int
    config_json: str
    code = INIT


@dataclass
class Ready:
    """Engine -> coordinator, after Init or Reset: its ports and its outputs at t = 0."""

    ports: List[Port]
    outputs: List[DataEntry]
    code = READY


@dataclass
class Step:
    """Coordinator -> engine: advance from ``step`` to ``step + n_steps`` with these inputs."""

    step: int
    n_steps: int
    inputs: List[DataEntry]
    code = STEP


@dataclass
class StepDone:
    """Engine -> coordinator: the step that started at ``step`` is done."""

    step: int
    compute_ns: int
    outputs: List[DataEntry]
    code = STEP_DONE


@dataclass
class Window:
    """Coordinator -> engine: ``len(substeps)`` steps of ``n_steps`` base steps from ``step`` on, the
    k-th with the inputs ``substeps[k]`` (a lookahead window)."""

    step: int
    n_steps: int
    substeps: List[List[DataEntry]]
    code = WINDOW


@dataclass
class WindowDone:
    """Engine -> coordinator: the window that started at ``step`` is done; the outputs of each step."""

    step: int
    compute_ns: int
    outputs: List[List[DataEntry]]
    code = WINDOW_DONE


@dataclass
class Reset:
    """Coordinator -> engine: go back to t = 0 as a fresh engine built from the same configuration with
    this seed would be, for episode ``episode`` of the run (answered by Ready)."""

    seed: int
    episode: int
    code = RESET


@dataclass
class Shutdown:
    """Coordinator -> engine: stop (answered by Bye)."""

    code = SHUTDOWN


@dataclass
class Bye:
    """Engine -> coordinator: stopped."""

    code = BYE


@dataclass
class Error:
    """Either side: something went wrong; the text says what."""

    message: str
    code = ERROR


Message = Union[Hello, Init, Ready, Step, StepDone, Window, WindowDone, Reset, Shutdown, Bye, Error]

KIND_NAMES = {
    HELLO: "Hello",
    INIT: "Init",
    READY: "Ready",
    STEP: "Step",
    STEP_DONE: "StepDone",
    RESET: "Reset",
    SHUTDOWN: "Shutdown",
    BYE: "Bye",
    ERROR: "Error",
    WINDOW: "Window",
    WINDOW_DONE: "WindowDone",
}


def kind_name(msg: Message) -> str:
    return KIND_NAMES[msg.code]


# --------------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------------

_u16 = struct.Struct("<H").pack
_u32 = struct.Struct("<I").pack
_u64 = struct.Struct("<Q").pack
_f64 = struct.Struct("<d").pack
_header = struct.Struct("<2sBBQ").pack
_entry_head = struct.Struct("<HBQ").pack


def _put_str(out: list, s: str) -> None:
    b = s.encode("utf-8")
    out.append(_u32(len(b)))
    out.append(b)


def _put_port(out: list, p: Port) -> None:
    _put_str(out, p.name)
    out.append(bytes((p.direction, p.kind.tag)))
    k = p.kind
    if isinstance(k, Spikes):
        out.append(_u32(k.size))
    elif isinstance(k, Analog):
        out.append(_u32(len(k.channels)))
        for name, unit in k.channels:
            _put_str(out, name)
            _put_str(out, unit)
    elif isinstance(k, Events):
        out.append(_u16(k.width) + _u16(k.height))
    elif isinstance(k, Scalar):
        _put_str(out, k.unit)
    else:
        raise TypeError(f"port {p.name}: not a port kind: {k!r}")


def put_entry(out: list, port: int, stamp: int, payload: Payload) -> None:
    """Appends the bytes of one data entry (port, type tag, stamp, payload) to the list ``out``."""
    tag = payload_tag(payload)
    out.append(_entry_head(port, tag, stamp))
    if tag == SPIKES:
        if len(payload.neuron) != len(payload.time_ms):
            raise ValueError("spike batch has unequal neuron and time arrays")
        out.append(_u32(len(payload.neuron)))
        out.append(np.ascontiguousarray(payload.neuron, dtype=_U32).tobytes())
        out.append(np.ascontiguousarray(payload.time_ms, dtype=_F64).tobytes())
    elif tag == ANALOG:
        v = np.ascontiguousarray(payload, dtype=_F64).reshape(-1)
        out.append(_u32(len(v)))
        out.append(v.tobytes())
    elif tag == EVENTS:
        n = len(payload.x)
        if not (len(payload.y) == len(payload.time_ms) == len(payload.polarity) == n):
            raise ValueError("event batch has arrays of unequal length")
        out.append(_u32(n))
        out.append(np.ascontiguousarray(payload.x, dtype=_U16).tobytes())
        out.append(np.ascontiguousarray(payload.y, dtype=_U16).tobytes())
        out.append(np.ascontiguousarray(payload.time_ms, dtype=_F64).tobytes())
        out.append(np.ascontiguousarray(payload.polarity, dtype=bool).astype(_U8).tobytes())
    else:
        out.append(_f64(float(payload)))


def _put_entries(out: list, entries: Sequence[DataEntry]) -> None:
    out.append(_u16(len(entries)))
    for e in entries:
        put_entry(out, e.port, e.stamp, e.payload)


def encode_entries(entries: Sequence[DataEntry]) -> bytes:
    """The bytes of an entry list (count, then entries): one step's part of a WindowDone."""
    out: list = []
    _put_entries(out, entries)
    return b"".join(out)


def encode_window_done(step: int, compute_ns: int, steps: Sequence[bytes]) -> bytes:
    """A WindowDone from the already encoded entry lists of its steps (see :func:`encode_entries`),
    so that an engine can encode each step's outputs before the next step overwrites them."""
    head = _header(MAGIC, PROTOCOL_VERSION, WINDOW_DONE, step) + _u64(compute_ns) + _u32(len(steps))
    return head + b"".join(steps)


def encode(msg: Message) -> bytes:
    """Encodes a message."""
    step = msg.step if isinstance(msg, (Step, StepDone, Window, WindowDone)) else 0
    out = [_header(MAGIC, PROTOCOL_VERSION, msg.code, step)]
    if isinstance(msg, Hello):
        _put_str(out, msg.engine)
        out.append(_u32(msg.pid))
    elif isinstance(msg, Init):
        out.append(_f64(msg.base_step_ms) + _u32(msg.period) + _u64(msg.seed))
        _put_str(out, msg.config_json)
    elif isinstance(msg, Ready):
        out.append(_u16(len(msg.ports)))
        for p in msg.ports:
            _put_port(out, p)
        _put_entries(out, msg.outputs)
    elif isinstance(msg, Step):
        out.append(_u32(msg.n_steps))
        _put_entries(out, msg.inputs)
    elif isinstance(msg, StepDone):
        out.append(_u64(msg.compute_ns))
        _put_entries(out, msg.outputs)
    elif isinstance(msg, Window):
        out.append(_u32(msg.n_steps) + _u32(len(msg.substeps)))
        for inputs in msg.substeps:
            _put_entries(out, inputs)
    elif isinstance(msg, WindowDone):
        out.append(_u64(msg.compute_ns) + _u32(len(msg.outputs)))
        for outputs in msg.outputs:
            _put_entries(out, outputs)
    elif isinstance(msg, Reset):
        out.append(_u64(msg.seed))
        out.append(_u32(msg.episode))
    elif isinstance(msg, Error):
        _put_str(out, msg.message)
    elif not isinstance(msg, (Shutdown, Bye)):
        raise TypeError(f"not a neuroloop message: {msg!r}")
    return b"".join(out)


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("buf", "at")

    def __init__(self, buf: bytes, at: int):
        self.buf = buf
        self.at = at

    def take(self, n: int, what: str) -> int:
        """Advances over ``n`` bytes and returns where they start."""
        left = len(self.buf) - self.at
        if left < n:
            raise WireError(
                f"message ends at byte {self.at} while reading {what} ({n - left} more bytes needed)"
            )
        at = self.at
        self.at += n
        return at

    def u8(self, what: str) -> int:
        return self.buf[self.take(1, what)]

    def u16(self, what: str) -> int:
        return struct.unpack_from("<H", self.buf, self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack_from("<I", self.buf, self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack_from("<Q", self.buf, self.take(8, what))[0]

    def f64(self, what: str) -> float:
        return struct.unpack_from("<d", self.buf, self.take(8, what))[0]

    def count(self, elem_size: int, what: str) -> int:
        """A u32 count of elements of ``elem_size`` bytes, checked against the bytes that follow."""
        at = self.at
        n = self.u32(what)
        left = len(self.buf) - self.at
        if n * elem_size > left:
            raise WireError(
                f"invalid {what} at byte {at}: {n} elements of {elem_size} bytes "
                f"but only {left} bytes follow"
            )
        return n

    def string(self, what: str) -> str:
        n = self.count(1, what)
        at = self.take(n, what)
        try:
            return bytes(self.buf[at : at + n]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise WireError(f"invalid {what} at byte {at}: not UTF-8: {e}") from None

    def array(self, dtype: np.dtype, n: int, what: str) -> np.ndarray:
        at = self.take(n * dtype.itemsize, what)
        # A copy, so that the array owns writable memory independent of the received buffer.
        return np.frombuffer(self.buf, dtype=dtype, count=n, offset=at).copy()

    def port(self) -> Port:
        name = self.string("port name")
        at = self.at
        direction = self.u8("port direction")
        if direction not in (INPUT, OUTPUT):
            raise WireError(f"invalid port direction at byte {at}: {direction} (expected 0 or 1)")
        at = self.at
        tag = self.u8("port type")
        if tag == SPIKES:
            kind: PortKind = Spikes(self.u32("population size"))
        elif tag == ANALOG:
            n = self.count(8, "channel count")
            kind = Analog(
                [(self.string("channel name"), self.string("channel unit")) for _ in range(n)]
            )
        elif tag == EVENTS:
            kind = Events(self.u16("sensor width"), self.u16("sensor height"))
        elif tag == SCALAR:
            kind = Scalar(self.string("scalar unit"))
        else:
            raise WireError(f"invalid port type at byte {at}: unknown tag {tag}")
        return Port(name, direction, kind)

    def entries(self) -> List[DataEntry]:
        return [self.entry() for _ in range(self.u16("entry count"))]

    def entry(self) -> DataEntry:
        port = self.u16("entry port")
        at = self.at
        tag = self.u8("entry type")
        stamp = self.u64("entry stamp")
        if tag == SPIKES:
            n = self.count(12, "spike count")
            neuron = self.array(_U32, n, "neuron index")
            payload: Payload = SpikeBatch(neuron, self.array(_F64, n, "spike time"))
        elif tag == ANALOG:
            n = self.count(8, "analog length")
            payload = self.array(_F64, n, "analog value")
        elif tag == EVENTS:
            n = self.count(13, "event count")
            x = self.array(_U16, n, "event x")
            y = self.array(_U16, n, "event y")
            t = self.array(_F64, n, "event time")
            pat = self.at
            p = self.array(_U8, n, "event polarity")
            bad = np.nonzero(p > 1)[0]
            if len(bad):
                i = int(bad[0])
                raise WireError(
                    f"invalid event polarity at byte {pat + i}: {int(p[i])} (expected 0 or 1)"
                )
            payload = EventBatch(x, y, t, p.astype(bool))
        elif tag == SCALAR:
            payload = self.f64("scalar value")
        else:
            raise WireError(f"invalid entry type at byte {at}: unknown tag {tag}")
        return DataEntry(port, stamp, payload)


def decode(buf: bytes) -> Message:
    """Decodes one message; raises :class:`WireError` if it is malformed."""
    if len(buf) < HEADER_LEN:
        raise WireError(f"message of {len(buf)} bytes is shorter than the {HEADER_LEN}-byte header")
    if bytes(buf[0:2]) != MAGIC:
        raise WireError(
            f'message does not start with the magic bytes "NL" (got {bytes(buf[0:2]).hex(" ")})'
        )
    if buf[2] != PROTOCOL_VERSION:
        raise WireError(
            f"protocol version {buf[2]} is not supported "
            f"(this module speaks version {PROTOCOL_VERSION})"
        )
    kind = buf[3]
    r = _Reader(buf, 4)
    step = r.u64("step")
    msg: Message
    if kind == HELLO:
        msg = Hello(r.string("engine name"), r.u32("pid"))
    elif kind == INIT:
        msg = Init(r.f64("base_step_ms"), r.u32("period"), r.u64("seed"), r.string("config_json"))
    elif kind == READY:
        n = r.u16("port count")
        ports = [r.port() for _ in range(n)]
        msg = Ready(ports, r.entries())
    elif kind == STEP:
        msg = Step(step, r.u32("n_steps"), r.entries())
    elif kind == STEP_DONE:
        msg = StepDone(step, r.u64("compute_ns"), r.entries())
    elif kind == WINDOW:
        n_steps = r.u32("n_steps")
        msg = Window(step, n_steps, [r.entries() for _ in range(r.count(2, "step count"))])
    elif kind == WINDOW_DONE:
        compute_ns = r.u64("compute_ns")
        msg = WindowDone(step, compute_ns, [r.entries() for _ in range(r.count(2, "step count"))])
    elif kind == RESET:
        msg = Reset(r.u64("seed"), r.u32("episode"))
    elif kind == SHUTDOWN:
        msg = Shutdown()
    elif kind == BYE:
        msg = Bye()
    elif kind == ERROR:
        msg = Error(r.string("error message"))
    else:
        raise WireError(f"unknown message kind {kind}")
    if r.at != len(buf):
        raise WireError(f"{len(buf) - r.at} unexpected bytes after the end of the message")
    return msg
