"""Drive a neuroloop run from Python: the client of ``neuroloop control`` (``docs/protocol.md``, section 11).

::

    import neuroloop as nl

    with nl.Run("experiments/demo_spring.toml", set=["run.seed=3"]) as run:
        run.advance(to_ms=500)
        x = run.read("plant.position")["plant.position"]      # {"type": "analog", "values": [...]}
        run.reset()                                           # episode 1: t = 0, new seeds
        run.advance(steps=100)
        report = run.stop()

``Run`` starts a ``neuroloop control`` server (the ``neuroloop`` binary: ``binary=``, else
``$NEUROLOOP_BIN``, else ``neuroloop`` on the PATH), connects a zenoh session to it and sends it JSON
requests; ``Control`` talks to a server that is already running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from .engine import NeuroloopError, serve, zenoh_config


class Control:
    """A connection to a ``neuroloop control`` server: ``request`` sends one JSON request and returns
    the reply's JSON object, raising ``NeuroloopError`` when the reply says ``"ok": false``."""

    def __init__(self, key: str, connect: str):
        import zenoh

        self.key = key
        self.session = zenoh.open(zenoh_config([connect]))

    def request(self, timeout_s: float = 600.0, **req: Any) -> Dict[str, Any]:
        replies = self.session.get(self.key, payload=json.dumps(req).encode(), timeout=timeout_s)
        for reply in replies:
            if reply.ok is None:
                raise NeuroloopError(f"{req.get('op')}: the server answered with an error: {reply.err}")
            answer = json.loads(reply.ok.payload.to_bytes())
            if not answer.get("ok"):
                raise NeuroloopError(f"{req.get('op')}: {answer.get('error')}")
            return answer
        raise NeuroloopError(f"{req.get('op')}: no reply from {self.key} within {timeout_s} s")

    def close(self) -> None:
        self.session.close()


def _die_with_parent() -> None:
    """In the server's process before exec (Linux): SIGKILL when the process that started it dies, so
    that a crashed or killed Python program leaves no server (and no run) behind."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort (not Linux)
        pass


class Run:
    """One run of an experiment file, driven step by step (see the module docs)."""

    def __init__(
        self,
        file: str,
        set: Iterable[str] = (),
        output: Optional[str] = None,
        run_id: Optional[str] = None,
        realtime: bool = False,
        binary: Optional[str] = None,
        engines: Optional[Dict[str, Callable[..., Any]]] = None,
    ):
        """``engines``: engines of the experiment marked ``external = true`` that this process serves
        itself, each in a thread (``{"agent": factory}``, the factory as for :func:`serve`): when the
        coordinator waits for one of them, ``Run`` starts ``serve(factory, ...)`` with the run id and
        endpoint it announces (``{"external_engine": ...}`` on the server's stdout). An engine thread's
        error is kept in ``engine_errors`` (and the run fails as for any engine)."""
        binary = binary or os.environ.get("NEUROLOOP_BIN", "neuroloop")
        self._served = dict(engines or {})
        self._threads: List[threading.Thread] = []
        self.engine_errors: Dict[str, BaseException] = {}
        server_id = "py-" + uuid.uuid4().hex[:12]
        self._server = subprocess.Popen(
            [binary, "control", "--id", server_id],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent,
        )
        line = self._server.stdout.readline() if self._server.stdout else ""
        if not line:
            self._server.wait(timeout=10)
            raise NeuroloopError(f"{binary} control did not start (exit status {self._server.returncode})")
        hello = json.loads(line)
        # The rest of the server's stdout: the coordinator's `{"external_engine": NAME, "env": {...}}`
        # lines. Read it always (a full pipe would block the server); serve the engines we were given.
        self._reader = threading.Thread(target=self._read_stdout, name="neuroloop-run-stdout", daemon=True)
        self._reader.start()
        self._control = Control(hello["control"], hello["connect"])
        req: Dict[str, Any] = {"op": "start", "file": os.path.abspath(file), "set": list(set), "realtime": realtime}
        if output is not None:
            req["output"] = os.path.abspath(output)
        if run_id is not None:
            req["run_id"] = run_id
        try:
            started = self._control.request(**req)
        except Exception:
            self.close()
            raise
        self.run_id: str = started["run_id"]
        self.run_dir: Optional[str] = started["run_dir"]
        self.base_step_ms: float = started["base_step_ms"]
        self.duration_ms: float = started["duration_ms"]
        self.outputs: Dict[str, Dict[str, Any]] = {o["port"]: o["kind"] for o in started["outputs"]}
        self.t_ms = 0.0
        self.episode = 0
        self.finished = False
        self._stopped = False

    def _read_stdout(self) -> None:
        out = self._server.stdout
        if out is None:
            return
        for line in out:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict) or "external_engine" not in msg:
                continue
            name, env = msg["external_engine"], msg.get("env", {})
            factory = self._served.get(name)
            if factory is None:
                continue

            def run_engine(name=name, env=env, factory=factory):
                try:
                    serve(factory, run_id=env["NEUROLOOP_RUN_ID"], name=name,
                          connect=env["NEUROLOOP_CONNECT"],
                          lowlatency=env.get("NEUROLOOP_ZENOH_LOWLATENCY", "0") in ("1", "true"))
                except BaseException as e:  # noqa: BLE001 - kept for the caller, the run fails anyway
                    self.engine_errors[name] = e
                    print(f"neuroloop.Run: engine {name} (served in this process): {e}", file=sys.stderr)

            t = threading.Thread(target=run_engine, name=f"neuroloop-engine-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def advance(self, steps: Optional[int] = None, to_ms: Optional[float] = None) -> int:
        """Advances by ``steps`` base steps or to ``to_ms`` (simulated ms of this episode), stopping at
        the end of the run; returns the steps taken."""
        if (steps is None) == (to_ms is None):
            raise ValueError("give steps or to_ms")
        req = {"steps": int(steps)} if steps is not None else {"to_ms": float(to_ms)}
        r = self._control.request(op="advance", **req)
        self.t_ms, self.finished = r["t_ms"], r["finished"]
        return r["steps"]

    def read(self, *ports: str) -> Dict[str, Dict[str, Any]]:
        """The latest values of output ports ``"engine.port"``, by name."""
        return self._control.request(op="read", ports=list(ports))["values"]

    def reset(self) -> int:
        """Starts the next episode (t = 0, every engine built anew with the episode's seeds); returns
        its index."""
        r = self._control.request(op="reset")
        self.episode, self.t_ms, self.finished = r["episode"], r["t_ms"], False
        return self.episode

    def stop(self) -> Dict[str, Any]:
        """Stops the run (recordings and manifest written) and the server; returns the run report."""
        try:
            report = self._control.request(op="stop")["report"]
            self._stopped = True
            return report
        finally:
            self.close()

    def close(self) -> None:
        """Stops the server (and with it a run not yet stopped) and closes the connection."""
        control = getattr(self, "_control", None)
        if control is not None:
            try:
                control.request(op="quit", timeout_s=30.0)
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass
            control.close()
            self._control = None
        if self._server.poll() is None:
            try:
                self._server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
        # Engines served here end with the run (Shutdown) or when the coordinator's token goes.
        for t in getattr(self, "_threads", []):
            t.join(timeout=15)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__: Sequence[str] = ["Control", "Run"]
