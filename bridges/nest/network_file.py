"""The neuroloop network file (TOML or JSON) read and checked in Python, for the NEST bridge.

The format is the Rust brain's (``crates/brain/src/network/spec.rs``, ``NetworkSpec``): the same keys,
defaults and checks as far as the bridge needs them, and errors that name the key path the way the
Rust reader does (``populations[2].model: ...``). :func:`load` reads a file, :func:`parse` a value
already read; both return a plain dict with every default filled in and raise :class:`SpecError`.

What is checked here: unknown and missing keys, types, the six connection rules and their parameters,
the three synapse models, distributions (``uniform``, ``normal``/``normal_clipped`` with optional
``min``/``max``), groups (exactly as ``PopulationSpec::resolve_groups``), every population/group
reference, volume transmitter names, port names. What NEST checks when the network is built (neuron
model names and parameters) is reported by the builder in ``nest_engine.py`` with the same key paths.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

RULES = ("all_to_all", "one_to_one", "fixed_indegree", "fixed_outdegree", "fixed_total_number",
         "pairwise_bernoulli")
# The parameter each rule needs (NEST's conn_spec names); spec.rs `Connect`.
RULE_PARAM = {"fixed_indegree": "indegree", "fixed_outdegree": "outdegree", "fixed_total_number": "N",
              "pairwise_bernoulli": "p"}
SYNAPSE_MODELS = ("static_synapse", "stdp_synapse", "stdp_dopamine_synapse")
PORT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class SpecError(ValueError):
    """A network file that cannot be used: ``path`` is the key path ('' for the whole file)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(v) -> str:
    if isinstance(v, bool):
        return f"boolean `{str(v).lower()}`"
    if isinstance(v, (int, float)):
        return f"number {v}"
    if isinstance(v, str):
        return f'string "{v}"'
    if isinstance(v, list):
        return "a sequence"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def _table(v, path: str, fields: Dict[str, Any]) -> dict:
    """Checks that ``v`` is a table with only the keys of ``fields`` (``fields[k]`` is ``REQUIRED`` or a
    default); returns a copy with the defaults filled in."""
    if not isinstance(v, dict):
        raise SpecError(path, f"invalid type: {_type_name(v)}, expected a table")
    for k in v:
        if k not in fields:
            raise SpecError(_join(path, k),
                            f"unknown field `{k}`, expected one of {', '.join(f'`{f}`' for f in fields)}")
    out = {}
    for k, default in fields.items():
        if k in v:
            out[k] = v[k]
        elif default is REQUIRED:
            raise SpecError(path, f"missing field `{k}`")
        else:
            out[k] = default() if callable(default) else default
    return out


REQUIRED = object()


def _str(v, path) -> str:
    if not isinstance(v, str):
        raise SpecError(path, f"invalid type: {_type_name(v)}, expected a string")
    return v


def _num(v, path, *, positive=False, allow_none=False) -> Optional[float]:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(path, f"invalid type: {_type_name(v)}, expected a number")
    v = float(v)
    if not math.isfinite(v):
        raise SpecError(path, f"{v} is not a finite number")
    if positive and not v > 0.0:
        raise SpecError(path, f"{v}: must be > 0")
    return v


def _uint(v, path) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise SpecError(path, f"invalid value: {_type_name(v)}, expected a whole number >= 0")
    return v


def _bool(v, path) -> bool:
    if not isinstance(v, bool):
        raise SpecError(path, f"invalid type: {_type_name(v)}, expected a boolean")
    return v


def _list(v, path) -> list:
    if not isinstance(v, list):
        raise SpecError(path, f"invalid type: {_type_name(v)}, expected a sequence")
    return v


def dist(v, path) -> dict:
    """A constant or drawn number (spec.rs ``Dist``): ``{"kind": "const", "value"}``,
    ``{"kind": "uniform", "min", "max"}`` or ``{"kind": "normal", "mean", "std", "min", "max"}``
    (bounds +-inf when not given)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return {"kind": "const", "value": _num(v, path)}
    if not isinstance(v, dict):
        raise SpecError(path, f"{_type_name(v)}: expected a number or a table with `distribution`")
    kind = v.get("distribution")
    if kind is None:
        raise SpecError(path, 'a table here needs `distribution` ("uniform" or "normal")')
    if kind == "uniform":
        allowed = ("distribution", "min", "max")
    elif kind in ("normal", "normal_clipped"):
        allowed = ("distribution", "mean", "std", "min", "max")
    else:
        raise SpecError(path, f'unknown distribution "{kind}" (known: uniform, normal, normal_clipped)')
    for k in v:
        if k not in allowed:
            raise SpecError(path, f'unknown key `{k}` for distribution "{kind}" '
                                  f"(expected one of {', '.join(allowed[1:])})")

    def num(key, default=REQUIRED):
        if key not in v:
            if default is REQUIRED:
                raise SpecError(path, f'distribution "{kind}" needs `{key}`')
            return default
        x = v[key]
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise SpecError(path, f"{key} = {x!r}: expected a number")
        return float(x)

    if kind == "uniform":
        lo, hi = num("min"), num("max")
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise SpecError(path, f"uniform needs finite min < max (min = {lo}, max = {hi})")
        return {"kind": "uniform", "min": lo, "max": hi}
    mean, std = num("mean"), num("std")
    lo, hi = num("min", -math.inf), num("max", math.inf)
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0.0):
        raise SpecError(path, f"normal needs a finite mean and std >= 0 (mean = {mean}, std = {std})")
    if not lo < hi:
        raise SpecError(path, f"normal needs min < max (min = {lo}, max = {hi})")
    # Redrawing must be able to succeed: at least 1e-6 of the mass inside (as spec.rs).
    if std == 0.0:
        inside = 1.0 if lo <= mean <= hi else 0.0
    else:
        cdf = lambda x: 0.5 * math.erfc(-(x - mean) / (std * math.sqrt(2.0)))  # noqa: E731
        inside = cdf(hi) - cdf(lo)
    if inside < 1e-6:
        raise SpecError(path, f"normal(mean = {mean}, std = {std}) almost never falls inside [{lo}, {hi}]")
    return {"kind": "normal", "mean": mean, "std": std, "min": lo, "max": hi}


def resolve_groups(pop: dict, path: str) -> List[Tuple[str, List[int]]]:
    """The groups' local neuron indices, checked as ``PopulationSpec::resolve_groups``."""
    out: List[Tuple[str, List[int]]] = []
    owner: Dict[int, int] = {}
    next_block = 0
    for j, g0 in enumerate(_list(pop["groups"], _join(path, "groups"))):
        gpath = f"{path}.groups[{j}]"
        g = _table(g0, gpath, {"name": REQUIRED, "size": None, "range": None, "neurons": None})
        name = _str(g["name"], gpath + ".name")
        if not name or "." in name:
            raise SpecError(gpath + ".name", f'"{name}": a group name must be non-empty and without `.`')
        if any(n == name for n, _ in out):
            raise SpecError(gpath + ".name", f'"{name}" is used twice')
        given = [k for k in ("size", "range", "neurons") if g[k] is not None]
        if len(given) != 1:
            raise SpecError(gpath, "give exactly one of `size`, `range` or `neurons`")
        key = given[0]
        if key == "size":
            size = _uint(g["size"], gpath + ".size")
            ids = list(range(next_block, next_block + size))
            next_block += size
        elif key == "range":
            r = _list(g["range"], gpath + ".range")
            if len(r) != 2:
                raise SpecError(gpath + ".range", "expected [a, b]")
            a, b = _uint(r[0], gpath + ".range"), _uint(r[1], gpath + ".range")
            if a >= b:
                raise SpecError(gpath + ".range", f"[{a}, {b}] is empty (needs a < b)")
            ids = list(range(a, b))
        else:
            ids = [_uint(i, gpath + ".neurons") for i in _list(g["neurons"], gpath + ".neurons")]
        if not ids:
            raise SpecError(gpath, f'group "{name}" has no neuron')
        for i in ids:
            if i >= pop["n"]:
                raise SpecError(f"{gpath}.{key}",
                                f'neuron {i} is outside population "{pop["name"]}" of {pop["n"]} neurons')
            if i in owner:
                other = owner[i]
                msg = (f"neuron {i} is listed twice" if other == j else
                       f'neuron {i} is also in group "{out[other][0]}" (groups must not overlap)')
                raise SpecError(f"{gpath}.{key}", msg)
            owner[i] = j
        out.append((name, ids))
    return out


def find(spec: dict, reference: str) -> Tuple[int, Optional[int]]:
    """``"POP"`` or ``"POP.GROUP"`` -> (population index, group index or None), as ``NetworkSpec::find``;
    raises ValueError with the text of the Rust error."""
    names = [p["name"] for p in spec["populations"]]
    if reference in names:
        return names.index(reference), None
    if "." not in reference:
        raise ValueError(f'no population "{reference}" (populations: {", ".join(names)})')
    pop, group = reference.split(".", 1)
    if pop not in names:
        raise ValueError(f'no population "{pop}" in "{reference}" (populations: {", ".join(names)})')
    p = names.index(pop)
    groups = [g for g, _ in spec["populations"][p]["resolved_groups"]]
    if group not in groups:
        raise ValueError(f'population "{pop}" has no group "{group}" '
                         f'(groups: {", ".join(groups) if groups else "none"})')
    return p, groups.index(group)


def members(spec: dict, reference: str) -> List[int]:
    """The global neuron indices (0-based, populations in file order) of a population or group, in the
    group's order (channel i of a port = the i-th)."""
    p, g = find(spec, reference)
    first = sum(q["n"] for q in spec["populations"][:p])
    if g is None:
        return list(range(first, first + spec["populations"][p]["n"]))
    return [first + i for i in spec["populations"][p]["resolved_groups"][g][1]]


def parse(value: Any) -> dict:
    """Checks a network description read from TOML/JSON; returns it with defaults filled in and each
    population's ``resolved_groups``. Raises :class:`SpecError`."""
    top = _table(value, "", {
        "resolution_ms": 0.1, "populations": list, "projections": list, "poisson_generators": list,
        "dc_generators": list, "spike_generators": list, "spike_recorders": list, "multimeters": list,
        "inputs": list, "outputs": list, "volume_transmitters": list,
    })
    spec: Dict[str, Any] = {"resolution_ms": _num(top["resolution_ms"], "resolution_ms", positive=True)}
    h = spec["resolution_ms"]

    pops = []
    for i, p0 in enumerate(_list(top["populations"], "populations")):
        path = f"populations[{i}]"
        p = _table(p0, path, {"name": REQUIRED, "model": REQUIRED, "n": REQUIRED, "params": dict,
                              "V_m": None, "tau_minus": None, "groups": list})
        p["name"] = _str(p["name"], path + ".name")
        p["model"] = _str(p["model"], path + ".model")
        p["n"] = _uint(p["n"], path + ".n")
        if not isinstance(p["params"], dict):
            raise SpecError(path + ".params", f"invalid type: {_type_name(p['params'])}, expected a table")
        if p["V_m"] is not None:
            p["V_m"] = dist(p["V_m"], path + ".V_m")
        p["tau_minus"] = _num(p["tau_minus"], path + ".tau_minus", positive=True, allow_none=True)
        if any(q["name"] == p["name"] for q in pops):
            raise SpecError(path + ".name", f'population "{p["name"]}" is defined twice')
        p["resolved_groups"] = resolve_groups(p, path)
        pops.append(p)
    spec["populations"] = pops

    def ref(v, path) -> str:
        r = _str(v, path)
        try:
            find(spec, r)
        except ValueError as e:
            raise SpecError(path, str(e)) from None
        return r

    vts = []
    for i, v0 in enumerate(_list(top["volume_transmitters"], "volume_transmitters")):
        path = f"volume_transmitters[{i}]"
        v = _table(v0, path, {"name": REQUIRED, "population": None, "reward_port": None,
                              "deliver_interval": 1, "delay": None})
        v["name"] = _str(v["name"], path + ".name")
        if any(w["name"] == v["name"] for w in vts):
            raise SpecError(path + ".name", f'volume transmitter "{v["name"]}" is defined twice')
        if v["population"] is not None:
            v["population"] = ref(v["population"], path + ".population")
        if v["reward_port"] is not None:
            v["reward_port"] = _str(v["reward_port"], path + ".reward_port")
        v["deliver_interval"] = _uint(v["deliver_interval"], path + ".deliver_interval")
        if v["deliver_interval"] < 1:
            raise SpecError(path + ".deliver_interval", "must be at least 1")
        v["delay"] = _num(v["delay"], path + ".delay", positive=True, allow_none=True)
        vts.append(v)
    spec["volume_transmitters"] = vts

    projs = []
    for i, q0 in enumerate(_list(top["projections"], "projections")):
        path = f"projections[{i}]"
        q = _table(q0, path, {"source": REQUIRED, "target": REQUIRED, "connect": REQUIRED, "synapse": dict})
        q["source"] = ref(q["source"], path + ".source")
        q["target"] = ref(q["target"], path + ".target")
        cpath = path + ".connect"
        c = _table(q["connect"], cpath, {"rule": REQUIRED, "indegree": None, "outdegree": None, "N": None,
                                         "p": None, "allow_autapses": True, "allow_multapses": True})
        rule = c["rule"]
        if rule not in RULES:
            raise SpecError(cpath + ".rule", f"unknown variant `{rule}`, expected one of "
                                             f"{', '.join(f'`{r}`' for r in RULES)}")
        for k in ("indegree", "outdegree", "N"):
            if c[k] is not None:
                c[k] = _uint(c[k], f"{cpath}.{k}")
        if c["p"] is not None:
            c["p"] = _num(c["p"], cpath + ".p")
            if not 0.0 <= c["p"] <= 1.0:
                raise SpecError(cpath + ".p", f"{c['p']}: a probability must be in [0, 1]")
        need = RULE_PARAM.get(rule)
        if need is not None and c[need] is None:
            raise SpecError(cpath, f"rule `{rule}` needs `{need}`")
        for k in ("indegree", "outdegree", "N", "p"):
            if k != need and c[k] is not None:
                raise SpecError(f"{cpath}.{k}", f"rule `{rule}` does not take `{k}`")
        c["allow_autapses"] = _bool(c["allow_autapses"], cpath + ".allow_autapses")
        c["allow_multapses"] = _bool(c["allow_multapses"], cpath + ".allow_multapses")
        q["connect"] = c
        spath = path + ".synapse"
        s = _table(q["synapse"], spath, {"synapse_model": "static_synapse", "weight": 1.0, "delay": None,
                                         "params": dict, "volume_transmitter": None})
        if s["synapse_model"] not in SYNAPSE_MODELS:
            raise SpecError(spath + ".synapse_model", f"unknown variant `{s['synapse_model']}`, expected one "
                                                      f"of {', '.join(f'`{m}`' for m in SYNAPSE_MODELS)}")
        s["weight"] = dist(s["weight"], spath + ".weight")
        if s["delay"] is not None:
            s["delay"] = dist(s["delay"], spath + ".delay")
            lo, hi = _bounds(s["delay"])
            if hi < 0.5 * h:
                raise SpecError(spath + ".delay", f"delay below half the resolution ({h} ms)")
        if not isinstance(s["params"], dict):
            raise SpecError(spath + ".params", f"invalid type: {_type_name(s['params'])}, expected a table")
        if s["synapse_model"] == "static_synapse" and s["params"]:
            raise SpecError(spath + ".params", "static_synapse takes no params")
        if s["synapse_model"] == "stdp_dopamine_synapse":
            if s["volume_transmitter"] is None:
                raise SpecError(spath + ".volume_transmitter",
                                "stdp_dopamine_synapse needs a volume_transmitter")
        if s["volume_transmitter"] is not None:
            name = _str(s["volume_transmitter"], spath + ".volume_transmitter")
            if s["synapse_model"] != "stdp_dopamine_synapse":
                raise SpecError(spath + ".volume_transmitter", "only stdp_dopamine_synapse takes one")
            if not any(v["name"] == name for v in vts):
                raise SpecError(spath + ".volume_transmitter", f'no volume transmitter "{name}" (defined: '
                                f'{", ".join(v["name"] for v in vts) or "none"})')
        q["synapse"] = s
        projs.append(q)
    spec["projections"] = projs

    def devices(key, fields, check):
        out = []
        for i, d0 in enumerate(_list(top[key], key)):
            path = f"{key}[{i}]"
            d = _table(d0, path, fields)
            check(d, path)
            out.append(d)
        spec[key] = out

    def gen_check(d, path):
        d["target"] = ref(d["target"], path + ".target")
        d["weight"] = _num(d["weight"], path + ".weight")
        d["delay"] = _num(d["delay"], path + ".delay", positive=True, allow_none=True)

    def poisson_check(d, path):
        gen_check(d, path)
        d["rate"] = _num(d["rate"], path + ".rate")
        if d["rate"] < 0:
            raise SpecError(path + ".rate", f"{d['rate']}: a rate must be >= 0")

    def dc_check(d, path):
        d["target"] = ref(d["target"], path + ".target")
        d["amplitude"] = _num(d["amplitude"], path + ".amplitude")
        d["start"] = _num(d["start"], path + ".start")
        d["stop"] = _num(d["stop"], path + ".stop", allow_none=True)

    def sg_check(d, path):
        gen_check(d, path)
        times = [_num(t, f"{path}.spike_times[{j}]") for j, t in enumerate(_list(d["spike_times"],
                                                                                  path + ".spike_times"))]
        for j, t in enumerate(times):
            if t <= 0 or abs(t / h - round(t / h)) > 1e-9 * max(1.0, t / h) or (j and t < times[j - 1]):
                raise SpecError(f"{path}.spike_times[{j}]",
                                f"{t}: spike times must be > 0, on the {h} ms grid and non-decreasing")
        d["spike_times"] = times

    def rec_check(d, path):
        d["population"] = ref(d["population"], path + ".population")

    def mm_check(d, path):
        d["population"] = ref(d["population"], path + ".population")
        d["record_from"] = [_str(x, f"{path}.record_from[{j}]")
                            for j, x in enumerate(_list(d["record_from"], path + ".record_from"))]
        d["interval"] = _num(d["interval"], path + ".interval", positive=True)

    devices("poisson_generators", {"target": REQUIRED, "rate": REQUIRED, "weight": REQUIRED, "delay": None},
            poisson_check)
    devices("dc_generators", {"target": REQUIRED, "amplitude": REQUIRED, "start": 0.0, "stop": None}, dc_check)
    devices("spike_generators", {"target": REQUIRED, "spike_times": REQUIRED, "weight": REQUIRED,
                                 "delay": None}, sg_check)
    devices("spike_recorders", {"population": REQUIRED}, rec_check)
    devices("multimeters", {"population": REQUIRED, "record_from": REQUIRED, "interval": 1.0, "n": None},
            mm_check)
    devices("inputs", {"name": REQUIRED, "target": REQUIRED, "weight": REQUIRED, "delay": None}, gen_check)
    devices("outputs", {"name": REQUIRED, "population": REQUIRED}, rec_check)

    # Port names: letters, digits, _; unique; `rates` is the engine's own (engine.rs).
    seen = {"rates"}
    names = ([(f"inputs[{i}].name", d["name"]) for i, d in enumerate(spec["inputs"])]
             + [(f"outputs[{i}].name", d["name"]) for i, d in enumerate(spec["outputs"])]
             + [(f"volume_transmitters[{i}].reward_port", v["reward_port"]) for i, v in enumerate(vts)
                if v["reward_port"] is not None])
    for path, name in names:
        name = _str(name, path)
        if not PORT_NAME.match(name) or name in seen:
            raise SpecError(path, f'port name "{name}" is not allowed or used twice (`rates` is taken)')
        seen.add(name)
    return spec


def _bounds(d: dict) -> Tuple[float, float]:
    if d["kind"] == "const":
        return d["value"], d["value"]
    return d["min"], d["max"]


def load(path: Path) -> dict:
    """Reads and checks a network file (``.json`` as JSON, anything else as TOML). Errors name the key
    path and end with the file's path, as ``NetworkSpec::load``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError("", f"cannot read {path}: {e.strerror or e}") from None
    try:
        value = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise SpecError("", f"not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {e} ({path})") from None
    try:
        return parse(value)
    except SpecError as e:
        raise SpecError(e.path, f"{e.message} ({path})") from None
