"""The engine side of the neuroloop protocol in Python: :class:`Engine` and :func:`serve`.

:func:`serve` runs one engine as a process of a run, exactly like ``serve`` in
``crates/transport/src/engine.rs``: it opens a zenoh peer session connected to the coordinator,
declares the subscriber on ``neuroloop/<run>/engine/<name>/in``, the publisher on ``.../out`` (congestion
control BLOCK, express), a liveliness token ``neuroloop/<run>/engine/<name>``, waits until the
coordinator's subscriber matches, says Hello, builds the engine from Init, and answers every Step with a
StepDone until Shutdown. See ``docs/protocol.md``.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
import traceback
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from . import wire
from .wire import (
    Analog,
    DataEntry,
    EventBatch,
    Events,
    Payload,
    Port,
    Scalar,
    SpikeBatch,
    Spikes,
)

PortRef = Union[int, str]


class NeuroloopError(RuntimeError):
    """The engine could not run to a clean Shutdown; the text says why."""


#: The exit status of an engine that stopped because it lost the coordinator (as in Rust).
EXIT_COORDINATOR_GONE = 75


class CoordinatorGone(NeuroloopError):
    """The coordinator of the run went away (its liveliness token disappeared)."""


#: The exit status of an engine whose configuration is wrong (as ``neuroloop`` for a bad input file).
EXIT_BAD_CONFIG = 2


class ConfigError(ValueError):
    """Bad input to an engine (its ``config``, a file it names): raise it from the factory or
    ``ports()`` with a message that names the key (``engines.brain.config.network_file: ...``). It is
    sent to the coordinator as it is, without a traceback, and :func:`main` exits with status 2."""


class BadConfig(NeuroloopError):
    """The engine refused its configuration (a :class:`ConfigError`); the text is the message."""


@dataclass
class InitContext:
    """Everything an engine is created from (the ``Init`` message plus the engine's name)."""

    name: str
    """The engine's name in the experiment."""
    config: Dict[str, Any]
    """The engine's ``config`` table from the experiment file (an empty dict if there is none)."""
    seed: int
    """The engine's seed (derived from the run seed and the engine name unless set)."""
    base_step_ms: float
    """Length of the base step in ms."""
    period: int
    """The engine's sync step in base steps."""
    episode: int = 0
    """The episode of the run: 0 after ``Init``, k after the k-th ``Reset`` (which builds the engine
    anew with the episode's seed)."""

    @property
    def step_ms(self) -> float:
        """The engine's sync step in ms."""
        return self.base_step_ms * float(self.period)


class Engine:
    """What an engine author subclasses.

    Contract (the same as the Rust ``Engine`` trait): :meth:`step` advances the model from ``t_ms`` to
    ``t_ms + dt_ms``; its inputs are what the producers made up to the end of their last completed step
    (one step of delay per link); every spike or event it emits is stamped inside
    ``[t_ms, t_ms + dt_ms)``. Analog and scalar outputs are held (they keep the last value written);
    spike and event outputs are emptied before every step.
    """

    def ports(self) -> List[Port]:
        """The engine's ports, inputs and outputs; a port's index in this list is its index everywhere."""
        raise NotImplementedError

    def initial_outputs(self, outputs: "Outputs") -> None:
        """Fills the outputs at t = 0 (default: zeros and empty batches)."""

    def step(self, t_ms: float, dt_ms: float, inputs: "Inputs", outputs: "Outputs") -> None:
        """Advances from ``t_ms`` to ``t_ms + dt_ms``: read ``inputs``, write ``outputs``."""
        raise NotImplementedError

    def reset(self) -> None:
        """Goes back to the state at t = 0 (same seed, same parameters), for programs that hold the
        engine themselves. The engine runner does not call it: on ``Reset`` it builds the engine anew
        with the factory and the episode's seed (``InitContext.episode``). The default refuses."""
        raise NeuroloopError("this engine cannot be reset")

    def shutdown(self) -> None:
        """Releases resources before the process exits."""


class _Slots:
    def __init__(self, ports: Sequence[Port]):
        self._ports = list(ports)
        self._index = {p.name: i for i, p in enumerate(self._ports)}
        self._slots: List[Payload] = [wire.empty_payload(p.kind) for p in self._ports]

    def index(self, port: PortRef) -> int:
        """The index of a port given by name or index."""
        if isinstance(port, str):
            try:
                return self._index[port]
            except KeyError:
                raise KeyError(
                    f"no port named {port!r} (ports: {', '.join(self._index)})"
                ) from None
        if not 0 <= port < len(self._ports):
            raise IndexError(f"port index {port} does not exist ({len(self._ports)} ports)")
        return port

    def __getitem__(self, port: PortRef) -> Payload:
        return self._slots[self.index(port)]

    def __len__(self) -> int:
        return len(self._slots)

    def _clear_batches(self, indices) -> None:
        for i in indices:
            s = self._slots[i]
            if isinstance(s, (SpikeBatch, EventBatch)):
                s.clear()


class Inputs(_Slots):
    """The inputs of one step, by port name or index: a 1-D float64 array (analog), a float (scalar), a
    :class:`SpikeBatch` or an :class:`EventBatch`. Held values (analog, scalar) stay until new data
    arrives; batches hold only what arrived for this step. Treat them as read-only."""

    def __init__(self, ports: Sequence[Port]):
        super().__init__(ports)
        self._stamps: List[Optional[int]] = [None] * len(self._ports)

    def stamp(self, port: PortRef) -> Optional[int]:
        """When the value on ``port`` was produced, in base steps (None before any data arrived)."""
        return self._stamps[self.index(port)]

    def _begin_step(self) -> None:
        self._clear_batches(range(len(self._slots)))

    def _set(self, port: int, payload: Payload, stamp: int) -> None:
        if not 0 <= port < len(self._ports):
            raise NeuroloopError(f"Step input: port index {port} does not exist")
        spec = self._ports[port]
        if not spec.is_input:
            raise NeuroloopError(f"Step input: port index {port} is not an input")
        why = wire.check_payload(payload, spec.kind)
        if why is not None:
            raise NeuroloopError(f"input {spec.name}: {why}")
        self._slots[port] = payload
        self._stamps[port] = stamp


class Outputs(_Slots):
    """The outputs of one step, by port name or index.

    ``outputs["force"][0] = 1.5`` writes an analog element in place; ``outputs["force"] = [1.5]`` or
    ``outputs["reward"] = 0.25`` replaces the value; ``outputs["spikes"].push(3, t_ms)`` adds a spike, or
    assign a :class:`SpikeBatch` / ``(neuron, time_ms)`` arrays. Analog and scalar values are held between
    steps; batches are emptied before every step."""

    def __init__(self, ports: Sequence[Port]):
        super().__init__(ports)
        self._outputs = [i for i, p in enumerate(self._ports) if not p.is_input]

    def __setitem__(self, port: PortRef, value: Any) -> None:
        i = self.index(port)
        spec = self._ports[i]
        if spec.is_input:
            raise KeyError(f"port {spec.name!r} is an input")
        kind = spec.kind
        if isinstance(kind, Analog):
            v = np.array(value, dtype=np.float64).reshape(-1)
            if v.shape != (len(kind.channels),):
                raise ValueError(
                    f"output {spec.name}: analog vector has {v.size} values, "
                    f"the port declares {len(kind.channels)}"
                )
            self._slots[i] = v
        elif isinstance(kind, Scalar):
            self._slots[i] = float(value)
        elif isinstance(kind, Spikes):
            self._slots[i] = value if isinstance(value, SpikeBatch) else SpikeBatch(*value)
        elif isinstance(kind, Events):
            self._slots[i] = value if isinstance(value, EventBatch) else EventBatch(*value)

    def output_ports(self) -> List[int]:
        """Indices of the output ports."""
        return list(self._outputs)

    def _begin_step(self) -> None:
        self._clear_batches(self._outputs)

    def _entries(self, stamp: int) -> List[DataEntry]:
        out = []
        for i in self._outputs:
            payload = self._slots[i]
            why = wire.check_payload(payload, self._ports[i].kind)
            if why is not None:
                raise ValueError(f"output {self._ports[i].name}: {why}")
            out.append(DataEntry(i, stamp, payload))
        return out


@dataclass
class EngineArgs:
    """Where an engine process finds its run."""

    run_id: str
    name: str
    connect: List[str]
    join_timeout_s: float = 60.0

    @classmethod
    def from_env(cls, run_id=None, name=None, connect=None, join_timeout_s=60.0) -> "EngineArgs":
        """Arguments given here, else ``NEUROLOOP_RUN_ID``, ``NEUROLOOP_ENGINE`` and
        ``NEUROLOOP_CONNECT`` (comma-separated endpoints), which ``neuroloop run`` sets."""

        def get(value, var):
            if value is not None:
                return value
            v = os.environ.get(var)
            if v is None:
                raise NeuroloopError(f"environment variable {var} is not set")
            return v

        run_id = get(run_id, "NEUROLOOP_RUN_ID")
        name = get(name, "NEUROLOOP_ENGINE")
        connect = get(connect, "NEUROLOOP_CONNECT")
        if isinstance(connect, str):
            connect = [c for c in connect.split(",") if c]
        args = cls(run_id, name, list(connect), join_timeout_s)
        args.check()
        return args

    def check(self) -> None:
        ok = lambda s, extra: bool(s) and all(c.isascii() and (c.isalnum() or c in extra) for c in s)
        if not ok(self.run_id, "_-"):
            raise NeuroloopError(f"run id {self.run_id!r} must match [A-Za-z0-9_-]+")
        if not ok(self.name, "_"):
            raise NeuroloopError(f"engine name {self.name!r} must match [A-Za-z0-9_]+")


@dataclass(frozen=True)
class TlsFiles:
    """The TLS credentials of a process of a run (PEM files): the run's certificate authority (CA), and
    this process's certificate (signed by the CA) and private key. As ``TlsFiles`` in Rust."""

    ca: str
    cert: str
    key: str

    @classmethod
    def from_env(cls) -> Optional["TlsFiles"]:
        """``NEUROLOOP_TLS_CA``, ``NEUROLOOP_TLS_CERT`` and ``NEUROLOOP_TLS_KEY`` (all three, or none:
        then ``None``), which ``neuroloop run`` sets for its engines when the run uses TLS."""
        names = ("NEUROLOOP_TLS_CA", "NEUROLOOP_TLS_CERT", "NEUROLOOP_TLS_KEY")
        values = [os.environ.get(n) or None for n in names]
        if all(v is None for v in values):
            return None
        missing = [n for n, v in zip(names, values) if v is None]
        if missing:
            raise BadConfig(
                f"TLS needs {', '.join(names[:2])} and {names[2]} together: {' and '.join(missing)} not set"
            )
        return cls(*values)

    def check(self) -> None:
        """Checks the files before zenoh uses them (its own errors do not name the file): each is
        readable PEM of the right kind, the key belongs to the certificate, and the CA accepts the
        certificate. Raises :class:`BadConfig` naming the file."""
        import ssl

        def bad(path: str, what: str) -> BadConfig:
            return BadConfig(f"TLS file {path}: {what}")

        for path, marker in ((self.ca, "CERTIFICATE"), (self.cert, "CERTIFICATE"), (self.key, "PRIVATE KEY")):
            try:
                with open(path, "rb") as f:
                    text = f.read()
            except OSError as e:
                raise bad(path, f"cannot be read: {e.strerror}") from None
            if b"-----BEGIN " not in text or marker.encode() not in text:
                raise bad(path, f"holds no PEM {marker.lower()}")
        # A TLS handshake in memory, this process as the client: the server side checks our
        # certificate against the CA as the coordinator will (it serves with the same certificate).
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
        try:
            client.load_cert_chain(self.cert, self.key)
        except ssl.SSLError as e:
            raise bad(self.key, f"is not the private key of the certificate {self.cert} ({e.reason})") from None
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.verify_mode = ssl.CERT_REQUIRED
        server.load_cert_chain(self.cert, self.key)
        try:
            server.load_verify_locations(self.ca)
        except ssl.SSLError as e:
            raise bad(self.ca, f"is not a usable CA certificate ({e.reason})") from None
        to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
        c = client.wrap_bio(to_client, to_server)
        s = server.wrap_bio(to_server, to_client, server_side=True)
        done = {c: False, s: False}
        for _ in range(10):
            for side in (c, s):
                if done[side]:
                    continue
                try:
                    side.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as e:
                    if side is s:
                        why = getattr(e, "verify_message", None) or e.reason
                        raise bad(self.cert, f"is not accepted with the CA certificate {self.ca} ({why})") from None
                    raise bad(self.cert, f"cannot be used for TLS ({e.reason})") from None
            if done[s]:
                return
        raise bad(self.cert, "a TLS handshake with it did not complete")


def zenoh_config(
    connect: Sequence[str],
    listen: Sequence[str] = (),
    lowlatency: bool | None = None,
    lease_ms: Optional[int] = None,
    tls: Optional[TlsFiles] = None,
):
    """The zenoh configuration of a neuroloop peer, the same as ``peer_config`` in Rust: peer mode, no
    multicast scouting, QoS off, connecting to ``connect``; zenoh's low-latency transport when
    ``lowlatency`` (default: ``NEUROLOOP_ZENOH_LOWLATENCY=1``, which ``neuroloop run`` sets when the
    experiment asks for it; every process of a run must agree); the zenoh lease ``lease_ms`` this
    process announces (default zenoh's, 10 000 ms); with ``tls``, mutual TLS: only ``tls/`` endpoints,
    the run's CA as the only authority, this process's certificate to connect and to listen (the files
    are checked first, :meth:`TlsFiles.check`)."""
    import zenoh

    if lowlatency is None:
        lowlatency = os.environ.get("NEUROLOOP_ZENOH_LOWLATENCY", "0") in ("1", "true")

    c = zenoh.Config()
    c.insert_json5("mode", '"peer"')
    c.insert_json5("scouting/multicast/enabled", "false")
    c.insert_json5("listen/endpoints", json.dumps(list(listen)))
    c.insert_json5("connect/endpoints", json.dumps(list(connect)))
    c.insert_json5("transport/unicast/lowlatency", "true" if lowlatency else "false")
    c.insert_json5("transport/unicast/qos/enabled", "false")
    if lease_ms is not None:
        c.insert_json5("transport/link/tx/lease", str(int(lease_ms)))
    if tls is not None:
        for e in list(listen) + list(connect):
            if not e.startswith("tls/"):
                raise BadConfig(f"endpoint {e!r}: with TLS every endpoint must be tls/HOST:PORT")
        tls.check()
        c.insert_json5("transport/link/protocols", '["tls"]')
        c.insert_json5("transport/link/tls/root_ca_certificate", json.dumps(tls.ca))
        for side in ("listen", "connect"):
            c.insert_json5(f"transport/link/tls/{side}_certificate", json.dumps(tls.cert))
            c.insert_json5(f"transport/link/tls/{side}_private_key", json.dumps(tls.key))
        c.insert_json5("transport/link/tls/enable_mtls", "true")
    return c


def lease_from_env() -> Optional[int]:
    """``NEUROLOOP_ZENOH_LEASE_MS`` (the zenoh lease an engine announces, which ``neuroloop run`` sets
    to half the step time-out), or ``None``."""
    v = os.environ.get("NEUROLOOP_ZENOH_LEASE_MS")
    if not v:
        return None
    try:
        ms = int(v)
    except ValueError:
        ms = 0
    if ms <= 0:
        raise BadConfig(f"NEUROLOOP_ZENOH_LEASE_MS={v!r}: expected a whole number of milliseconds > 0")
    return ms


def _last_line(e: BaseException) -> str:
    """The last line of the traceback of ``e``: ``"ValueError: boom"``."""
    return "".join(traceback.format_exception_only(type(e), e)).strip().splitlines()[-1]


_GONE = object()  # Put in the message queue when the coordinator's liveliness token disappears.

EngineFactory = Callable[[InitContext], Engine]


def serve(
    engine_factory: EngineFactory,
    *,
    run_id: Optional[str] = None,
    name: Optional[str] = None,
    connect: Union[str, Sequence[str], None] = None,
    join_timeout_s: float = 60.0,
    lowlatency: Optional[bool] = None,
) -> None:
    """Runs one engine until the coordinator shuts it down.

    ``engine_factory(ctx: InitContext) -> Engine`` builds the engine from the ``Init`` message (an
    :class:`Engine` subclass itself works). ``run_id``, ``name`` and ``connect`` default to
    ``NEUROLOOP_RUN_ID``, ``NEUROLOOP_ENGINE`` and ``NEUROLOOP_CONNECT``; ``lowlatency`` to
    ``NEUROLOOP_ZENOH_LOWLATENCY``; the lease and the TLS files come from ``NEUROLOOP_ZENOH_LEASE_MS``
    and ``NEUROLOOP_TLS_CA``, ``NEUROLOOP_TLS_CERT``, ``NEUROLOOP_TLS_KEY`` (see :func:`zenoh_config`;
    a bad TLS file raises :class:`BadConfig`, exit status 2 with :func:`main`).

    Returns after a Shutdown (answered by Bye). Raises :class:`NeuroloopError` if the coordinator goes
    away, sends something unexpected, or the engine's code raises: in the last case the traceback is
    printed to stderr (the coordinator quotes its last lines) and an Error message carrying its last line
    and where it happened (``"ValueError: ... (in step() at t = 12.0 ms)"``) is sent to the coordinator
    before the session is closed; the original exception is the ``__cause__``. :func:`main` turns the
    error into exit status 1.
    """
    import zenoh

    args = EngineArgs.from_env(run_id, name, connect, join_timeout_s)
    config = zenoh_config(
        args.connect, lowlatency=lowlatency, lease_ms=lease_from_env(), tls=TlsFiles.from_env()
    )
    session = zenoh.open(config)
    try:
        _Server(session, args).run(engine_factory)
    finally:
        # Closing flushes what was published (the last StepDone, Bye or Error) before the process ends.
        session.close()


class _Server:
    def __init__(self, session, args: EngineArgs):
        import zenoh

        self.args = args
        self.inbox: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        run, name = args.run_id, args.name
        put = self.inbox.put
        # 1. Subscriber on our `in` key: every message from the coordinator, in order.
        self.sub = session.declare_subscriber(
            f"neuroloop/{run}/engine/{name}/in", lambda s: put(s.payload.to_bytes())
        )
        # 2. Publisher on our `out` key: BLOCK (never drop a lockstep message), express (no batching).
        self.pub = session.declare_publisher(
            f"neuroloop/{run}/engine/{name}/out",
            congestion_control=zenoh.CongestionControl.BLOCK,
            express=True,
        )

        # 3. Watch the coordinator's liveliness token: its disappearance ends the engine.
        def on_coordinator(s):
            if s.kind == zenoh.SampleKind.DELETE:
                put(_GONE)

        self.coord_watch = session.liveliness().declare_subscriber(
            f"neuroloop/{run}/coordinator", on_coordinator
        )
        # 4. Our own liveliness token: the coordinator sees us alive (and sees us go).
        self.token = session.liveliness().declare_token(f"neuroloop/{run}/engine/{name}")

    def send(self, msg) -> None:
        self.pub.put(wire.encode(msg))

    def recv(self, timeout_s: Optional[float]):
        try:
            item = self.inbox.get(timeout=timeout_s)
        except queue.Empty:
            raise NeuroloopError(
                f"timed out after {int(timeout_s * 1000)} ms waiting for a message from the coordinator"
            ) from None
        if item is _GONE:
            raise CoordinatorGone(f"the coordinator of run {self.args.run_id} is gone")
        try:
            return wire.decode(item)
        except wire.WireError as e:
            raise NeuroloopError(f"malformed message from the coordinator: {e}") from None

    def fail(self, text: str, cause: Optional[BaseException] = None) -> NeuroloopError:
        """Tells the coordinator what went wrong; returns the error to raise."""
        try:
            self.send(wire.Error(text))
        except Exception:  # noqa: BLE001 - the original error matters more
            pass
        err = NeuroloopError(text)
        err.__cause__ = cause
        return err

    def wait_for_coordinator(self) -> None:
        # 5. Wait until the coordinator's subscriber on our `out` key matches, so Hello is not lost.
        matched: "queue.SimpleQueue[bool]" = queue.SimpleQueue()
        listener = self.pub.declare_matching_listener(lambda m: matched.put(m.matching))
        try:
            deadline = time.monotonic() + self.args.join_timeout_s
            ok = self.pub.matching_status
            while not ok:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise queue.Empty
                ok = matched.get(timeout=left)
        except queue.Empty:
            raise NeuroloopError(
                f"timed out after {int(self.args.join_timeout_s * 1000)} ms waiting for the "
                f"coordinator of run {self.args.run_id} at {self.args.connect}"
            ) from None
        finally:
            listener.undeclare()

    def run(self, engine_factory: EngineFactory) -> None:
        args = self.args
        self.wait_for_coordinator()
        self.send(wire.Hello(args.name, os.getpid()))

        msg = self.recv(args.join_timeout_s)
        if not isinstance(msg, wire.Init):
            raise self.fail(f"protocol error: expected Init, got {wire.kind_name(msg)}")
        try:
            config = json.loads(msg.config_json)
        except ValueError as e:
            raise self.fail(f"protocol error: Init carries invalid config JSON: {e}") from None
        ctx = InitContext(
            name=args.name,
            config=config if config is not None else {},
            seed=msg.seed,
            base_step_ms=msg.base_step_ms,
            period=msg.period,
        )
        base_step_ms = msg.base_step_ms

        def user(what: str, f, *a):
            """Calls engine code; an exception becomes an Error message and a NeuroloopError."""
            try:
                return f(*a)
            except ConfigError as e:
                # Bad input, not a bug: the message alone (it names the key), no traceback.
                try:
                    self.send(wire.Error(str(e)))
                except Exception:  # noqa: BLE001 - the original error matters more
                    pass
                raise BadConfig(str(e)) from None
            except Exception as e:  # noqa: BLE001 - every engine failure is reported
                traceback.print_exc(file=sys.stderr)
                raise self.fail(f"{_last_line(e)} (in {what})", e) from e

        engine = user("the engine factory", engine_factory, ctx)
        ports = list(user("ports()", engine.ports))
        for p in ports:
            if not isinstance(p, Port):
                raise self.fail(f"ports() returned {p!r}, not a neuroloop.Port")

        def ready():
            inputs, outputs = Inputs(ports), Outputs(ports)
            user("initial_outputs()", engine.initial_outputs, outputs)
            entries = user("initial_outputs()", outputs._entries, 0)
            self.send(wire.Ready(ports, entries))
            return inputs, outputs

        inputs, outputs = ready()

        def one_step(step: int, n_steps: int, entries) -> int:
            """One step from ``step`` with these new inputs; returns its end (in base steps)."""
            inputs._begin_step()
            for e in entries:
                try:
                    inputs._set(e.port, e.payload, e.stamp)
                except NeuroloopError as why:
                    raise self.fail(f"protocol error: {why}") from None
            outputs._begin_step()
            t_ms = float(step) * base_step_ms
            dt_ms = float(n_steps) * base_step_ms
            user(f"step() at t = {t_ms} ms", engine.step, t_ms, dt_ms, inputs, outputs)
            return step + n_steps

        # The engine waits as long as it takes between steps: the coordinator owns the time-outs.
        while True:
            msg = self.recv(None)
            if isinstance(msg, wire.Step):
                started = time.perf_counter_ns()
                end = one_step(msg.step, msg.n_steps, msg.inputs)
                entries = user(f"step() at t = {msg.step * base_step_ms} ms", outputs._entries, end)
                compute_ns = time.perf_counter_ns() - started
                self.send(wire.StepDone(msg.step, compute_ns, entries))
            elif isinstance(msg, wire.Window):
                # A lookahead window: the steps one after the other, each step's outputs encoded
                # before the next step may overwrite them.
                started = time.perf_counter_ns()
                at, steps = msg.step, []
                for step_inputs in msg.substeps:
                    end = one_step(at, msg.n_steps, step_inputs)
                    entries = user(f"step() at t = {at * base_step_ms} ms", outputs._entries, end)
                    steps.append(wire.encode_entries(entries))
                    at = end
                compute_ns = time.perf_counter_ns() - started
                self.pub.put(wire.encode_window_done(msg.step, compute_ns, steps))
            elif isinstance(msg, wire.Reset):
                # A new episode: the engine is built anew by the factory with the episode's seed, so
                # that it starts exactly as a fresh engine of a run with that seed would.
                user("shutdown()", engine.shutdown)
                ctx = dataclasses.replace(ctx, seed=msg.seed, episode=msg.episode)
                engine = user("the engine factory", engine_factory, ctx)
                if list(user("ports()", engine.ports)) != ports:
                    raise self.fail("the engine built for the new episode has other ports")
                inputs, outputs = ready()
            elif isinstance(msg, wire.Shutdown):
                user("shutdown()", engine.shutdown)
                self.send(wire.Bye())
                return
            elif isinstance(msg, wire.Error):
                raise NeuroloopError(f"protocol error: the coordinator reported: {msg.message}")
            else:
                raise self.fail(f"protocol error: unexpected {wire.kind_name(msg)} from the coordinator")


def main(engine_factory: EngineFactory, **kwargs) -> None:
    """``serve`` for a script's ``if __name__ == "__main__":`` block: exits with status 0 after a
    Shutdown, 2 with the message on stderr after a :class:`ConfigError`, 1 with a one-line message on
    stderr otherwise (engine tracebacks are printed as well)."""
    try:
        serve(engine_factory, **kwargs)
    except NeuroloopError as e:
        print(f"engine {kwargs.get('name') or os.environ.get('NEUROLOOP_ENGINE', '?')}: {e}",
              file=sys.stderr)
        # The coordinator tells this status apart from a crash (EXIT_COORDINATOR_GONE in Rust).
        if isinstance(e, CoordinatorGone):
            sys.exit(EXIT_COORDINATOR_GONE)
        sys.exit(EXIT_BAD_CONFIG if isinstance(e, BadConfig) else 1)
    except KeyboardInterrupt:
        sys.exit(130)
