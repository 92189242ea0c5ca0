//! Prototype runner for the reward-learning experiment (issue 11, part 2): runs an experiment file
//! **in one process, on one thread**, for fast parameter search. Design and measured figures:
//! `experiments/joystick_reward_learning.md`.
//!
//! `run` loads the experiment file as `neuroloop run` does (the same `--set` overrides, the same
//! resolved engine configurations and seeds), builds every built-in engine in this process and steps
//! them with the coordinator's own rules (`neuroloop_core::lockstep::Lockstep`: the same links,
//! transfer chains, latencies and random streams). So a session here gives the same trials as the
//! same session under `neuroloop run`, without the processes and their coupling; it prints what the
//! experiment's checks and design note need:
//! - per trial (`-v`): outcome, the action channel that won (the population `A<k>` of the brain's
//!   `rates` with the most spikes while the trial ran), peak pull and end point, reaction time;
//! - the learning curve (success per 25 trials), first 30, trials 200-250, the actions taken;
//! - the mean weight of every plastic projection at the end;
//! - the real-time factor and the cost of each engine and of the links (ms per simulated s).
//!
//! `explore [PATTERN ...]`: the body alone, open loop; each pattern (8 excitations, NRP order, comma
//! separated) is held 500 ms from rest, then rest for 1 s; prints the grip (pull, lateral) every 50 ms.
//!
//! Usage:
//! `cargo run --release -p neuroloop --example reward_learning_prototype -- run
//!  experiments/joystick_reward_learning.toml --set run.seed=2 [--set K=V ...] [-v] [--trace MS]`

use std::time::Instant;

use neuroloop::catalog::{self, Builtins};
use neuroloop_body::engine::BodyEngine;
use neuroloop_brain::engine::BrainEngine;
use neuroloop_core::engine::{Engine, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::experiment::{self, EngineKind, Experiment};
use neuroloop_core::lockstep::{LinkDef, Lockstep};
use neuroloop_core::payload::Payload;
use neuroloop_core::port::{Direction, PortKind, PortSpec};
use neuroloop_core::time::Step;
use neuroloop_core::transfer::TransferChain;
use neuroloop_core::wire::DataEntry;

type Error = Box<dyn std::error::Error>;

/// An engine of the run; the brain is kept as its own type to read its weights at the end.
enum Slot {
    Brain(Box<BrainEngine>),
    Other(Box<dyn Engine>),
}

impl Slot {
    fn engine(&mut self) -> &mut dyn Engine {
        match self {
            Slot::Brain(b) => b.as_mut(),
            Slot::Other(e) => e.as_mut(),
        }
    }
}

fn port_index(ports: &[PortSpec], name: &str, want: Direction) -> Option<usize> {
    ports
        .iter()
        .position(|p| p.name == name && p.direction == want)
        .or_else(|| ports.iter().position(|p| p.name == name))
}

/// The engines of a run, their ports (in the engines' order) and the lockstep of its links.
type Built = (Vec<Slot>, Vec<Vec<PortSpec>>, Lockstep);

/// The engines and links of `exp`, as the coordinator builds them (`neuroloop_run`'s handshake).
fn build(exp: &Experiment) -> Result<Built, Error> {
    let mut slots = Vec::new();
    let mut ports = Vec::new();
    for spec in &exp.engines {
        let EngineKind::Builtin(kind) = &spec.kind else {
            return Err(
                format!("engine {}: only built-in engines run in-process", spec.name).into(),
            );
        };
        let ctx = InitContext {
            name: spec.name.clone(),
            config: spec.config.clone(),
            seed: spec.seed,
            base_step_ms: exp.base_step_ms,
            period: spec.period,
            episode: 0,
        };
        let slot = if kind == "brain" {
            Slot::Brain(Box::new(BrainEngine::new_in(&ctx, None)?))
        } else {
            let builtin = catalog::builtin(kind)
                .ok_or_else(|| format!("engine {}: unknown kind {kind}", spec.name))?;
            Slot::Other(builtin.construct(&ctx)?)
        };
        let mut slot = slot;
        ports.push(slot.engine().ports());
        slots.push(slot);
    }
    let engine_index = |name: &str| exp.engines.iter().position(|e| e.name == name);
    let mut defs = Vec::new();
    for (i, link) in exp.links.iter().enumerate() {
        let find = |engine: &str, port: &str, want| {
            let e = engine_index(engine)?;
            Some((e, port_index(&ports[e], port, want)?))
        };
        let (Some((fe, fp)), Some((te, tp))) = (
            find(&link.from.engine, &link.from.port, Direction::Output),
            find(&link.to.engine, &link.to.port, Direction::Input),
        ) else {
            return Err(
                format!("links[{i}]: {} -> {} does not resolve", link.from, link.to).into(),
            );
        };
        let from_kind = ports[fe][fp].kind.clone();
        let transfer = match &link.transfer {
            Some(chain) => Some(
                TransferChain::new(chain, &from_kind, |k| link.transfer_seed(exp.seed, k))
                    .map_err(|e| format!("links[{i}]: {}", e.message))?,
            ),
            None => None,
        };
        defs.push(LinkDef {
            from_engine: fe,
            from_port: fp as u16,
            to_engine: te,
            to_port: tp as u16,
            from_kind,
            transfer,
            delay: link.delay,
        });
    }
    let periods = exp.engines.iter().map(|e| e.period).collect();
    let lock = Lockstep::new(
        periods,
        exp.duration,
        exp.base_step_ms,
        defs,
        exp.max_window,
    );
    Ok((slots, ports, lock))
}

/// One finished trial as seen from the body's outputs.
struct Trial {
    success: bool,
    action: Option<usize>,
    /// The winner's share of the channels' spikes while the trial ran.
    purity: f64,
    peak_pull_mm: f64,
    end_mm: [f64; 2],
    t_s: f64,
}

fn run(path: &str, sets: &[String], verbose: bool, trace_ms: u64) -> Result<(), Error> {
    let exp = experiment::load(std::path::Path::new(path), sets, &Builtins)?;
    let t_build = Instant::now();
    let (mut slots, ports, mut lock) = build(&exp)?;
    let build_s = t_build.elapsed().as_secs_f64();
    let n = slots.len();
    let named = |kind: &str| {
        exp.engines
            .iter()
            .position(|e| matches!(&e.kind, EngineKind::Builtin(k) if k == kind))
    };
    let body = named("body").ok_or("the experiment has no body engine")?;
    let brain = named("brain");
    let body_task = port_index(&ports[body], "task", Direction::Output).ok_or("no body.task")?;
    let body_joystick = port_index(&ports[body], "joystick_position_mm", Direction::Output)
        .ok_or("no body.joystick_position_mm")?;
    // The brain's action channels: the populations A0, A1, ... of its `rates` output.
    let mut rate_sum: Vec<f64> = Vec::new();
    // The rates of the trace, filtered (exponential, 10 ms).
    let mut rate_trace: Vec<f64> = Vec::new();
    let (rates_port, channels) = match brain {
        Some(b) => {
            let p = port_index(&ports[b], "rates", Direction::Output).ok_or("no brain.rates")?;
            let PortKind::Analog { channels } = &ports[b][p].kind else {
                return Err("brain.rates is not analog".into());
            };
            let chans: Vec<usize> = (0..)
                .map_while(|k| channels.iter().position(|c| c.name == format!("A{k}")))
                .collect();
            (p, chans)
        }
        None => (0, Vec::new()),
    };
    let mut ins: Vec<Inputs> = ports.iter().map(|p| Inputs::for_ports(p)).collect();
    let mut outs: Vec<Outputs> = ports.iter().map(|p| Outputs::for_ports(p)).collect();
    for e in 0..n {
        slots[e].engine().initial_outputs(&mut outs[e]);
        lock.push_outputs(e, Step(0), &outs[e].entries(Step(0)));
    }
    let mut cost_s = vec![0.0; n];
    let mut link_s = 0.0;
    let mut ends: Vec<Option<Step>> = vec![None; n];
    let mut entries: Vec<DataEntry> = Vec::new();
    let mut trials: Vec<Trial> = Vec::new();
    let mut chan_spikes = vec![0.0; channels.len()];
    let (mut peak, mut last_trial) = (f64::NEG_INFINITY, 0.0);
    let wall = Instant::now();
    let duration = lock.duration().0;
    let mut t = 0u64;
    while t < duration {
        let tl = Instant::now();
        for e in 0..n {
            if ends[e] == Some(Step(t)) {
                lock.push_outputs(e, Step(t), &outs[e].entries(Step(t)));
                ends[e] = None;
            }
        }
        link_s += tl.elapsed().as_secs_f64();
        for e in 0..n {
            if !lock.is_due(e, Step(t)) {
                continue;
            }
            let tl = Instant::now();
            entries.clear();
            lock.take_inputs(e, Step(t), &mut entries);
            ins[e].begin_step();
            for d in entries.drain(..) {
                ins[e].set(usize::from(d.port), d.payload, Some(d.stamp))?;
            }
            outs[e].begin_step();
            link_s += tl.elapsed().as_secs_f64();
            let p = lock.period(e);
            let ctx = StepContext {
                step: Step(t),
                n_steps: p,
                base_step_ms: exp.base_step_ms,
            };
            let te = Instant::now();
            slots[e].engine().step(&ctx, &ins[e], &mut outs[e])?;
            cost_s[e] += te.elapsed().as_secs_f64();
            ends[e] = Some(Step(t + u64::from(p)));
        }
        t += 1;
        // What the session did (read from the outputs, as a recording would show it).
        let task = outs[body].analog(body_task);
        let (state, trial, outcome) = (task[0], task[1], task[2]);
        let js = outs[body].analog(body_joystick);
        if state == 3.0 || state == 4.0 {
            peak = peak.max(js[0]);
            if let Some(b) = brain {
                let r = outs[b].analog(rates_port);
                for (c, &k) in chan_spikes.iter_mut().zip(&channels) {
                    *c += r[k];
                }
            }
        }
        if let Some(b) = brain {
            let r = outs[b].analog(rates_port);
            rate_sum.resize(r.len(), 0.0);
            rate_sum.iter_mut().zip(r).for_each(|(s, x)| *s += x);
            rate_trace.resize(r.len(), 0.0);
            rate_trace
                .iter_mut()
                .zip(r)
                .for_each(|(s, x)| *s += (x - *s) * 0.1);
        }
        if trace_ms > 0 && t.is_multiple_of(trace_ms) {
            let ch: Vec<String> = channels
                .iter()
                .map(|&k| format!("{:.0}", rate_trace[k]))
                .collect();
            println!(
                "t {t} state {state} js ({:.2},{:.2}) A [{}]",
                js[0],
                js[1],
                ch.join(" ")
            );
        }
        if trial > last_trial {
            last_trial = trial;
            let action =
                (!channels.is_empty() && chan_spikes.iter().any(|&x| x > 0.0)).then(|| {
                    (0..chan_spikes.len())
                        .max_by(|&a, &b| chan_spikes[a].total_cmp(&chan_spikes[b]))
                        .unwrap()
                });
            let total: f64 = chan_spikes.iter().sum();
            let tr = Trial {
                success: outcome == 1.0,
                purity: action.map_or(0.0, |a| chan_spikes[a] / total),
                action,
                peak_pull_mm: peak,
                end_mm: [js[0], js[1]],
                t_s: t as f64 * exp.base_step_ms * 1e-3,
            };
            if verbose {
                println!(
                    "trial {:3} {} action {} ({:.0} %) peak {:.2} mm end ({:.2},{:.2}) t={:.1}s",
                    trials.len() + 1,
                    if tr.success { "success" } else { "timeout" },
                    tr.action.map_or("-".into(), |a| format!("A{a}")),
                    100.0 * tr.purity,
                    tr.peak_pull_mm,
                    tr.end_mm[0],
                    tr.end_mm[1],
                    tr.t_s
                );
            }
            trials.push(tr);
            chan_spikes.iter_mut().for_each(|x| *x = 0.0);
            peak = f64::NEG_INFINITY;
        }
        if state == 5.0 {
            break;
        }
    }
    let wall_s = wall.elapsed().as_secs_f64();
    let sim_s = t as f64 * exp.base_step_ms * 1e-3;
    let ok: Vec<bool> = trials.iter().map(|r| r.success).collect();
    let frac = |a: usize, b: usize| {
        let s = &ok[a.min(ok.len())..b.min(ok.len())];
        s.iter().filter(|x| **x).count() as f64 / s.len().max(1) as f64
    };
    println!(
        "{} seed {}: {} trials in {:.1} simulated s, {:.1} s wall (x{:.2} real time, one thread); built in {:.2} s",
        exp.name,
        exp.seed,
        trials.len(),
        sim_s,
        wall_s,
        sim_s / wall_s,
        build_s
    );
    let costs: Vec<String> = (0..n)
        .map(|e| format!("{} {:.0}", exp.engines[e].name, cost_s[e] / sim_s * 1e3))
        .collect();
    println!(
        "  ms per simulated s: {}, links {:.0}",
        costs.join(", "),
        link_s / sim_s * 1e3
    );
    let blocks: Vec<String> = (0..ok.len().div_ceil(25))
        .map(|b| format!("{:.0}", 100.0 * frac(25 * b, 25 * b + 25)))
        .collect();
    println!("  success % per 25 trials: {}", blocks.join(" "));
    println!(
        "  first 30: {:.0} %, trials 200-250: {:.0} %, all: {:.0} %",
        100.0 * frac(0, 30),
        100.0 * frac(199, 250),
        100.0 * frac(0, ok.len())
    );
    if !channels.is_empty() {
        let mut hist = vec![0; channels.len()];
        for a in trials.iter().filter_map(|t| t.action) {
            hist[a] += 1;
        }
        let purity =
            0.0 + trials.iter().map(|t| t.purity).sum::<f64>() / trials.len().max(1) as f64;
        println!(
            "  actions taken (trials per channel): {hist:?}; the winner's share of the channels' spikes: {:.0} %",
            100.0 * purity
        );
    }
    if let Some(b) = brain {
        let PortKind::Analog { channels: names } = &ports[b][rates_port].kind else {
            unreachable!("checked above")
        };
        let mean: Vec<String> = names
            .iter()
            .zip(&rate_sum)
            .map(|(c, s)| format!("{} {:.1}", c.name, s / t as f64))
            .collect();
        println!("  mean rate per population, Hz: {}", mean.join(", "));
        if let Slot::Brain(engine) = &slots[b] {
            print_plastic_weights(engine, &exp.engines[b].config)?;
        }
    }
    for s in &mut slots {
        s.engine().shutdown();
    }
    Ok(())
}

/// The mean weight of every plastic projection, grouped by source and by the target's population.
fn print_plastic_weights(engine: &BrainEngine, config: &serde_json::Value) -> Result<(), Error> {
    let Some(file) = config.get("network_file").and_then(|f| f.as_str()) else {
        return Ok(());
    };
    let spec = neuroloop_brain::network::NetworkSpec::load(std::path::Path::new(file))
        .map_err(|e| e.to_string())?;
    let net = engine.network();
    let mut line = Vec::new();
    for (k, p) in spec.projections.iter().enumerate() {
        if p.synapse.synapse_model == neuroloop_brain::network::spec::SynapseModel::StaticSynapse {
            continue;
        }
        let w = net.weights(k);
        let mean = w.iter().map(|x| x.2).sum::<f64>() / w.len().max(1) as f64;
        line.push(format!("{}->{} {mean:.1}", p.source, p.target));
    }
    if !line.is_empty() {
        println!("  mean plastic weight: {}", line.join(", "));
    }
    Ok(())
}

fn ctx(name: &str, config: serde_json::Value, seed: u64) -> InitContext {
    InitContext {
        name: name.into(),
        config,
        seed,
        base_step_ms: 1.0,
        period: 1,
        episode: 0,
    }
}

/// Steps the body `ms` ms with constant excitations; returns (pull, lateral) every 50 ms.
fn hold(
    body: &mut BodyEngine,
    bi: &mut Inputs,
    bo: &mut Outputs,
    t: &mut u64,
    u: &[f64; 8],
    ms: u64,
) -> Vec<(f64, f64)> {
    let port = body.port_ids();
    let mut out = Vec::new();
    for k in 0..ms {
        let c = StepContext {
            step: Step(*t),
            n_steps: 1,
            base_step_ms: 1.0,
        };
        bi.set(
            port.excitations.index(),
            Payload::Analog(u.to_vec()),
            Some(Step(*t)),
        )
        .unwrap();
        body.step(&c, bi, bo).unwrap();
        *t += 1;
        if (k + 1) % 50 == 0 {
            let p = bo.analog(port.joystick_position_mm);
            out.push((p[0], p[1]));
        }
    }
    out
}

fn explore(patterns: &[(String, [f64; 8])]) {
    let config = serde_json::json!({
        "world_file": concat!(env!("CARGO_MANIFEST_DIR"), "/../../worlds/mouse_forelimb_joystick.toml"),
        "task": { "baseline_trials": 10, "force_field_trials": 0, "washout_trials": 0 }
    });
    for (name, u) in patterns {
        let mut body = BodyEngine::new(&ctx("body", config.clone(), 0)).unwrap();
        let ports = body.ports();
        let (mut bi, mut bo) = (Inputs::for_ports(&ports), Outputs::for_ports(&ports));
        body.initial_outputs(&mut bo);
        let mut t = 0;
        let rest = [0.0; 8];
        // Settle at rest, then the pattern for 500 ms, then rest for 1000 ms.
        hold(&mut body, &mut bi, &mut bo, &mut t, &rest, 300);
        let on = hold(&mut body, &mut bi, &mut bo, &mut t, u, 500);
        let off = hold(&mut body, &mut bi, &mut bo, &mut t, &rest, 1000);
        let f = |v: &[(f64, f64)]| {
            v.iter()
                .map(|(p, l)| format!("({p:.2},{l:.2})"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "{name:>28} on: {}\n{:>28} off@250/500/1000: {} {} {}",
            f(&on),
            "",
            f(&off[4..5]),
            f(&off[9..10]),
            f(&off[19..20])
        );
    }
}

fn parse_pattern(s: &str) -> Result<[f64; 8], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("pattern {s:?}: {e}"))?;
    <[f64; 8]>::try_from(v.as_slice())
        .map_err(|_| format!("pattern {s:?}: needs 8 excitations, got {}", v.len()))
}

const USAGE: &str = "usage: reward_learning_prototype run EXPERIMENT.toml [--set K=V ...] [-v] [--trace MS]\n       reward_learning_prototype explore [PATTERN ...]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result: Result<(), Error> = match args.first().map(String::as_str) {
        Some("explore") => {
            let pats: Result<Vec<(String, [f64; 8])>, String> = if args.len() > 1 {
                args[1..]
                    .iter()
                    .map(|s| parse_pattern(s).map(|u| (s.clone(), u)))
                    .collect()
            } else {
                Ok((0..8)
                    .map(|m| {
                        let mut u = [0.0; 8];
                        u[m] = 0.3;
                        (format!("m{m}=0.3"), u)
                    })
                    .collect())
            };
            pats.map(|p| explore(&p)).map_err(Into::into)
        }
        Some("run") if args.len() > 1 => {
            let mut sets = Vec::new();
            let (mut verbose, mut trace) = (false, 0);
            let mut it = args[2..].iter();
            let mut bad = None;
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--set" => match it.next() {
                        Some(s) => sets.push(s.clone()),
                        None => bad = Some("--set needs K=V".to_string()),
                    },
                    "--trace" => match it.next().and_then(|s| s.parse().ok()) {
                        Some(ms) => trace = ms,
                        None => bad = Some("--trace needs a number of ms".to_string()),
                    },
                    "-v" => verbose = true,
                    other => bad = Some(format!("unknown argument {other:?}")),
                }
            }
            match bad {
                Some(b) => Err(b.into()),
                None => run(&args[1], &sets, verbose, trace),
            }
        }
        _ => Err(USAGE.into()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
