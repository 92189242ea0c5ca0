#!/usr/bin/env python3
"""Where a lockstep round's time goes: reads the files a run leaves with NEUROLOOP_PROBE=DIR set
(crates/transport/src/probe.rs) and prints, per engine and for the engine that finished each round
last, the segments of the path coordinator -> engine -> coordinator (medians and means in us), the
message sizes, and per round, for every thread of every process, its context switches (wake-ups), its
time on a CPU and its time waiting for one.

    NEUROLOOP_PROBE=/tmp/probe neuroloop run experiments/forelimb_senses.toml -q --output /tmp/probe/run
    scripts/round_probe.py /tmp/probe

The first 10 rounds (start-up) are left out of the segments; the per-thread figures cover the whole
process and are divided by the number of rounds.
"""
import collections
import glob
import os
import statistics
import sys


def load(path):
    points, threads, engines = [], [], {}
    with open(path) as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols[0] == "#thread":
                threads.append((cols[1], int(cols[3] or 0), int(cols[4] or 0),
                                int(cols[5] or 0), int(cols[6] or 0)))
            elif cols[0] == "#engine":
                engines[int(cols[1])] = cols[2]
            else:
                what, step, engine, size, _tid, t = cols
                points.append((what, int(step), int(engine) if engine else None, int(size), int(t)))
    return points, threads, engines


def main(folder):
    files = glob.glob(os.path.join(folder, "*.tsv"))
    coord = [f for f in files if os.path.basename(f).startswith("coordinator-")]
    if len(coord) != 1:
        sys.exit(f"{folder}: expected one coordinator-*.tsv, found {len(coord)}")
    cpoints, cthreads, names = load(coord[0])
    index = {n: i for i, n in names.items()}
    # Coordinator points by (what, step[, engine]); the last one wins (a round wakes up to several times).
    c = {}
    sizes = collections.defaultdict(list)
    for what, step, engine, size, t in cpoints:
        c[(what, step, engine)] = t
        if what in ("c.put", "c.recv"):
            sizes[(engine, what)].append(size)
    rounds = sorted(step for (what, step, e) in c if what == "c.round")
    e_points = {}
    proc_threads = {"coordinator": cthreads}
    for f in files:
        if f in coord:
            continue
        name = os.path.basename(f).rsplit("-", 1)[0]
        if name not in index:
            continue
        pts, threads, _ = load(f)
        proc_threads[name] = threads
        d = {}
        for what, step, _e, _size, t in pts:
            d[(what, step)] = t
        e_points[index[name]] = d
    # Skip the first rounds (start-up) and any round some point is missing for.
    segs = collections.defaultdict(list)
    crit = collections.defaultdict(list)
    last_count = collections.Counter()
    n_rounds = 0
    for step in rounds[10:]:
        need = [("c.round", step, None), ("c.handled", step, None), ("c.end", step, None),
                ("c.recorded", step, None)]
        if any(k not in c for k in need):
            continue
        sent = [e for e in names if ("c.sent", step, e) in c]
        if not sent or any(("c.recv", step, e) not in c for e in sent):
            continue
        if any(e not in e_points or ("e.sent", step) not in e_points[e] for e in sent):
            continue
        n_rounds += 1
        wall = c[("c.handled", step, None)] - c[("c.round", step, None)]
        segs["round wall (c.round -> c.handled)"].append(wall)
        segs["coordinator: send phase (c.round -> last c.sent)"].append(
            max(c[("c.sent", step, e)] for e in sent) - c[("c.round", step, None)])
        segs["coordinator: recording (last c.sent -> c.recorded)"].append(
            c[("c.recorded", step, None)] - max(c[("c.sent", step, e)] for e in sent))
        segs["coordinator: links, taps (c.handled -> c.end)"].append(
            c[("c.end", step, None)] - c[("c.handled", step, None)])
        last = max(sent, key=lambda e: c[("c.recv", step, e)])
        last_count[names[last]] += 1
        for e in sent:
            ep = e_points[e]
            path = [
                ("c.round -> c.put", c[("c.round", step, None)], c[("c.put", step, e)]),
                ("c.put -> c.sent (coordinator publishes)", c[("c.put", step, e)], c[("c.sent", step, e)]),
                ("c.sent -> e.recv (to the engine's callback)", c[("c.sent", step, e)], ep[("e.recv", step)]),
                ("e.recv -> e.decoded (decode)", ep[("e.recv", step)], ep[("e.decoded", step)]),
                ("e.decoded -> e.computed (compute, encode)", ep[("e.decoded", step)], ep[("e.computed", step)]),
                ("e.computed -> e.sent (engine publishes)", ep[("e.computed", step)], ep[("e.sent", step)]),
                ("e.sent -> c.recv (to the coordinator's callback)", ep[("e.sent", step)], c[("c.recv", step, e)]),
            ]
            for label, a, b in path:
                segs[f"{names[e]:>10}: {label}"].append(b - a)
            if e == last:
                for label, a, b in path:
                    crit[label].append(b - a)
                crit["c.recv -> c.woke (coordinator thread wakes)"].append(
                    c[("c.woke", step, None)] - c[("c.recv", step, e)])
                crit["c.woke -> c.handled (decode, check replies)"].append(
                    c[("c.handled", step, None)] - c[("c.woke", step, None)])
    if not n_rounds:
        sys.exit(f"{folder}: no complete round")

    def row(label, xs):
        print(f"{label:<64} {statistics.median(xs) / 1e3:9.1f} {statistics.mean(xs) / 1e3:9.1f}")

    print(f"{n_rounds} rounds; us per round{'':<37} {'median':>9} {'mean':>9}")
    for label in sorted(k for k in segs if ":" not in k[:11]):
        row(label, segs[label])
    print("\nthe engine whose reply came last: " + ", ".join(f"{n} {k}" for n, k in last_count.most_common()))
    print("its path (these add up to the round's wall time):")
    for label, xs in crit.items():
        row("  " + label, xs)
    print("\nmessage sizes, bytes (median / max): " + "; ".join(
        f"{names[e]} {'Step' if w == 'c.put' else 'reply'} {statistics.median(xs):.0f} / {max(xs)}"
        for (e, w), xs in sorted(sizes.items())))
    print("\nper engine:")
    for label in sorted(k for k in segs if ":" in k[:11]):
        row(label, segs[label])
    print(f"\nper round over the whole process ({len(rounds)} rounds), by thread: context switches"
          " (voluntary + involuntary), us on a CPU, us waiting for a CPU:")
    totals = [0, 0, 0]
    for proc, threads in sorted(proc_threads.items()):
        by = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
        for comm, vol, invol, on_cpu, waited in threads:
            b = by[comm.rstrip("0123456789-")]
            for i, x in enumerate((1, vol, invol, on_cpu, waited)):
                b[i] += x
        n = len(rounds)
        switches = sum(b[1] + b[2] for b in by.values())
        cpu = sum(b[3] for b in by.values())
        waited = sum(b[4] for b in by.values())
        totals = [totals[0] + switches, totals[1] + cpu, totals[2] + waited]
        parts = ", ".join(f"{k} x{b[0]}: {b[1] / n:.2f}+{b[2] / n:.2f}, {b[3] / n / 1e3:.0f}, {b[4] / n / 1e3:.0f}"
                          for k, b in sorted(by.items(), key=lambda kv: -kv[1][3]) if b[1] + b[2] + b[3])
        print(f"  {proc:<12} {switches / n:6.2f} {cpu / n / 1e3:6.0f} {waited / n / 1e3:6.0f}  ({parts})")
    n = len(rounds)
    print(f"  {'all':<12} {totals[0] / n:6.2f} {totals[1] / n / 1e3:6.0f} {totals[2] / n / 1e3:6.0f}")

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
