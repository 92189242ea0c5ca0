"""Drives experiments/tests/closed_loop.toml from Python through `neuroloop control`: advance in pieces,
read ports, reset to a new episode, stop. Prints one JSON object with what it saw (tests/run_library.rs
checks it). Usage: drive_run.py EXPERIMENT OUTPUT_DIR   (the binary: $NEUROLOOP_BIN or `neuroloop`)."""

import json
import sys

import neuroloop as nl

exp, out = sys.argv[1], sys.argv[2]
seen = {}
with nl.Run(exp, output=out) as run:
    seen["outputs"] = sorted(run.outputs)
    seen["x0"] = run.read("plant.position")["plant.position"]["values"][0]
    seen["taken"] = [run.advance(steps=7), run.advance(to_ms=250.0)]
    seen["t_ms"] = run.t_ms
    seen["at_250"] = run.read("plant.position", "source.spikes")
    try:
        run.read("plant.nope")
    except nl.NeuroloopError as e:
        seen["bad_port"] = str(e)
    seen["episode"] = run.reset()
    seen["x0_again"] = run.read("plant.position")["plant.position"]["values"][0]
    run.advance(steps=10**9)
    seen["finished"] = run.finished
    seen["report"] = run.stop()
print(json.dumps(seen))
