//! Prototype (issue 11, part 2): a spiking brain learns the joystick pull of Mathis et al. (2017) from
//! the task's water reward (dopamine-modulated STDP, Izhikevich 2007). Design and measured figures:
//! `experiments/joystick_reward_learning.md`.
//!
//! The real engines (`BrainEngine`, `BodyEngine`) are stepped together at 1 ms through the `Engine`
//! trait with one step of delay per link, as the coordinator does; the glue between them is written by
//! hand and does what the planned link transfers will do:
//! - body `task` (state) -> `gaussian` tuning curves over states 2..4 -> `poisson` -> brain `cue`;
//! - brain motor pools -> `group_rate` (exponential filter) -> `linear` (gain, offset, clip) -> body
//!   `excitations`;
//! - body `reward` -> brain `reward` (dopamine through the volume transmitter).
//!
//! Modes:
//! - `explore [PATTERN ...]`: the body alone, open loop; each pattern (8 excitations, NRP order, comma
//!   separated) is held 500 ms from rest, then rest for 1 s; prints the grip (pull, lateral) every 50 ms.
//! - `run [--network F] [--seed N] [--trials N] [--no-reward] [--checkpoint F] [--restore F] [-v]
//!   [--trace]`: a session; prints the learning curve (success per 25 trials), the actions taken, the
//!   mean cue weight per channel, the real-time factor and the cost per engine.
//!
//! Usage: `cargo run --release -p neuroloop --example reward_learning_prototype -- run --seed 1 -v`

use neuroloop_body::engine::{port as bport, BodyEngine};
use neuroloop_body::task::Outcome;
use neuroloop_brain::engine::BrainEngine;
use neuroloop_core::engine::{Engine, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::payload::{Payload, SpikeBatch};
use neuroloop_core::time::Step;

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

fn body_config(trials: u32) -> serde_json::Value {
    serde_json::json!({
        "world_file": concat!(env!("CARGO_MANIFEST_DIR"), "/../../worlds/mouse_forelimb_joystick.toml"),
        "task": {
            "baseline_trials": trials, "force_field_trials": 0, "washout_trials": 0,
        }
    })
}

/// Steps the body `ms` ms with constant excitations; returns (pull, lateral) every 50 ms.
fn hold(
    body: &mut BodyEngine,
    bi: &mut Inputs,
    bo: &mut Outputs,
    t: &mut u64,
    u: &[f64; 8],
    ms: u64,
) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    for k in 0..ms {
        let c = StepContext {
            step: Step(*t),
            n_steps: 1,
            base_step_ms: 1.0,
        };
        bi.set(
            bport::EXCITATIONS,
            Payload::Analog(u.to_vec()),
            Some(Step(*t)),
        )
        .unwrap();
        body.step(&c, bi, bo).unwrap();
        *t += 1;
        if (k + 1) % 50 == 0 {
            let p = bo.analog(bport::JOYSTICK_POSITION_MM);
            out.push((p[0], p[1], bo.analog(bport::TASK)[0]));
        }
    }
    out
}

fn explore(patterns: &[(String, [f64; 8])]) {
    for (name, u) in patterns {
        let mut body = BodyEngine::new(&ctx("body", body_config(10), 0)).unwrap();
        let ports = body.ports();
        let (mut bi, mut bo) = (Inputs::for_ports(&ports), Outputs::for_ports(&ports));
        body.initial_outputs(&mut bo);
        let mut t = 0;
        let rest = [0.0; 8];
        // Settle at rest, then the pattern for 500 ms, then rest for 1000 ms.
        hold(&mut body, &mut bi, &mut bo, &mut t, &rest, 300);
        let on = hold(&mut body, &mut bi, &mut bo, &mut t, u, 500);
        let off = hold(&mut body, &mut bi, &mut bo, &mut t, &rest, 1000);
        let f = |v: &[(f64, f64, f64)]| {
            v.iter()
                .map(|(p, l, _)| format!("({p:.2},{l:.2})"))
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

/// The glue of one session: what the planned link transfers will do.
struct Glue {
    /// Gaussian tuning of the task state: centres (state units), sigma, peak and floor rates (Hz).
    centres: Vec<f64>,
    sigma: f64,
    max_hz: f64,
    min_hz: f64,
    /// Readout: exponential filter (ms) of each motor pool's rate, then gain (1/Hz) and offset (Hz).
    tau_ms: f64,
    gain_per_hz: f64,
    offset_hz: f64,
    rates_hz: Vec<f64>,
}

impl Glue {
    /// `gaussian` + `poisson`: spikes of the cue relays for one 1 ms step starting at `t_ms`.
    fn cue_spikes(&self, state: f64, t_ms: f64, rng: &mut u64) -> SpikeBatch {
        let mut b = SpikeBatch::default();
        for (k, c) in self.centres.iter().enumerate() {
            let z = (state - c) / self.sigma;
            let rate = self.min_hz + (self.max_hz - self.min_hz) * (-0.5 * z * z).exp();
            if uniform(rng) < rate * 1e-3 {
                b.push(k as u32, t_ms);
            }
        }
        b
    }

    /// `group_rate` (exponential filter) + `linear` (gain, offset, clip to [0, 1]): the excitations
    /// from the pools' instantaneous rates over the last 1 ms step.
    fn excitations(&mut self, pool_rates_hz: &[f64]) -> Vec<f64> {
        let a = (-1.0 / self.tau_ms).exp();
        self.rates_hz
            .iter_mut()
            .zip(pool_rates_hz)
            .map(|(r, &x)| {
                // The filtered rate of spike trains: each spike adds 1/(N tau) (rate x dt = spikes/N).
                *r = *r * a + x * (1.0 - a);
                (self.gain_per_hz * (*r - self.offset_hz)).clamp(0.0, 1.0)
            })
            .collect()
    }
}

/// xorshift64*, uniform in [0, 1).
fn uniform(s: &mut u64) -> f64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

struct RunOpts {
    network: String,
    seed: u64,
    trials: u32,
    reward: bool,
    checkpoint: Option<String>,
    restore: Option<String>,
    max_s: f64,
    verbose: bool,
    trace: bool,
}

fn run(o: &RunOpts) -> Result<(), Box<dyn std::error::Error>> {
    let mut brain_cfg = serde_json::json!({ "network_file": o.network, "threads": 1 });
    if let Some(c) = &o.checkpoint {
        brain_cfg["checkpoint_file"] = serde_json::json!(c);
    }
    if let Some(r) = &o.restore {
        brain_cfg["restore_file"] = serde_json::json!(r);
    }
    let t_build = std::time::Instant::now();
    let mut brain = BrainEngine::new(&ctx("brain", brain_cfg, o.seed))?;
    let build_s = t_build.elapsed().as_secs_f64();
    let mut body = BodyEngine::new(&ctx("body", body_config(o.trials), o.seed))?;
    let (bp, np) = (body.ports(), brain.ports());
    let port_of = |ports: &[neuroloop_core::port::PortSpec], name: &str| {
        ports.iter().position(|p| p.name == name).unwrap()
    };
    let (cue_port, reward_port, rates_port, motor_port) = (
        port_of(&np, "cue"),
        port_of(&np, "reward"),
        port_of(&np, "rates"),
        port_of(&np, "motor"),
    );
    let net = brain.network();
    let pop = |n: &str| net.population(n).unwrap();
    let n_cue = net.population_ranges[pop("Cue")];
    let n_cue = (n_cue.1 - n_cue.0) as usize;
    let channels: Vec<usize> = (0..)
        .map_while(|i| net.population(&format!("A{i}")))
        .collect();
    let inh = pop("I0");
    // The motor output port carries the population M1: one group of equal size per muscle.
    let m1 = net.population_ranges[pop("M1")];
    let pool_size = (m1.1 - m1.0) as usize / MUSCLES.len();
    let spec = neuroloop_brain::network::NetworkSpec::load(std::path::Path::new(&o.network))
        .map_err(|e| e.to_string())?;
    let cue_proj: Vec<usize> = (0..channels.len())
        .map(|k| {
            spec.projections
                .iter()
                .position(|p| p.source == "Cue" && p.target == format!("A{k}"))
                .unwrap()
        })
        .collect();
    let n_neurons = net.population_ranges.last().unwrap().1;
    let mut glue = Glue {
        centres: (0..n_cue)
            .map(|k| 2.0 + 2.0 * k as f64 / (n_cue - 1) as f64)
            .collect(),
        sigma: env_f("CUE_SIGMA", 0.3),
        max_hz: env_f("CUE_MAX_HZ", 50.0),
        min_hz: 0.0,
        tau_ms: env_f("READ_TAU_MS", 20.0),
        gain_per_hz: env_f("READ_GAIN", 0.01),
        offset_hz: env_f("READ_OFFSET", 5.0),
        rates_hz: vec![0.0; 8],
    };
    let (mut bi, mut bo) = (Inputs::for_ports(&bp), Outputs::for_ports(&bp));
    let (mut ni, mut no) = (Inputs::for_ports(&np), Outputs::for_ports(&np));
    body.initial_outputs(&mut bo);
    brain.initial_outputs(&mut no);
    let mut rng = o.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let (mut t_brain, mut t_body, mut t_glue) = (0.0, 0.0, 0.0);
    let wall = std::time::Instant::now();
    let mut t = 0u64;
    // Per trial: channel spikes while Moving/Holding (which action was taken).
    let mut chan_count = vec![0.0; channels.len()];
    let mut trial_actions: Vec<usize> = Vec::new();
    let mut n_trials_seen = 0;
    let mut chan_f = vec![0.0; channels.len()];
    let mut inh_f = 0.0;
    while bo.analog(bport::TASK)[0] != 5.0 && (t as f64) < o.max_s * 1e3 {
        let tg = std::time::Instant::now();
        let c = StepContext {
            step: Step(t),
            n_steps: 1,
            base_step_ms: 1.0,
        };
        let rates = no.analog(rates_port);
        let mut pool_rates = vec![0.0; MUSCLES.len()];
        if let neuroloop_core::payload::Payload::Spikes(b) = no.get(motor_port) {
            for &n in &b.neuron {
                // Hz: spikes per neuron per 1 ms step.
                pool_rates[n as usize / pool_size] += 1e3 / pool_size as f64;
            }
        }
        let u = glue.excitations(&pool_rates);
        let state = bo.analog(bport::TASK)[0];
        if state == 3.0 || state == 4.0 {
            for (k, &p) in channels.iter().enumerate() {
                chan_count[k] += rates[p];
            }
        }
        for (f, &p) in chan_f.iter_mut().zip(&channels) {
            *f = *f * 0.95 + 0.05 * rates[p];
        }
        inh_f = inh_f * 0.95 + 0.05 * rates[inh];
        if o.trace && t.is_multiple_of(50) {
            let js = bo.analog(bport::JOYSTICK_POSITION_MM);
            let ch: Vec<String> = chan_f.iter().map(|r| format!("{r:.0}")).collect();
            let ex: Vec<String> = u.iter().map(|x| format!("{x:.2}")).collect();
            println!(
                "t {t} state {state} js ({:.2},{:.2}) ch [{}] inh {:.0} u [{}]",
                js[0],
                js[1],
                ch.join(" "),
                inh_f,
                ex.join(" ")
            );
        }
        bi.begin_step();
        bi.set(bport::EXCITATIONS, Payload::Analog(u), Some(Step(t)))?;
        ni.begin_step();
        // Run time (a restored brain counts from its checkpoint too).
        let t_b = t as f64;
        ni.set(
            cue_port,
            Payload::Spikes(glue.cue_spikes(state, t_b, &mut rng)),
            Some(Step(t)),
        )?;
        if o.reward {
            ni.set(
                reward_port,
                Payload::Scalar(match bo.get(bport::REWARD) {
                    Payload::Scalar(x) => *x,
                    _ => 0.0,
                }),
                Some(Step(t)),
            )?;
        }
        no.begin_step();
        t_glue += tg.elapsed().as_secs_f64();
        let tb = std::time::Instant::now();
        brain.step(&c, &ni, &mut no)?;
        t_brain += tb.elapsed().as_secs_f64();
        let tb = std::time::Instant::now();
        body.step(&c, &bi, &mut bo)?;
        t_body += tb.elapsed().as_secs_f64();
        t += 1;
        let n_tr = body.trials().len();
        if n_tr > n_trials_seen {
            n_trials_seen = n_tr;
            let best = (0..chan_count.len())
                .max_by(|&a, &b| chan_count[a].total_cmp(&chan_count[b]))
                .unwrap();
            trial_actions.push(best);
            if o.verbose {
                let r = body.trials().last().unwrap();
                let last = r.trajectory.last().copied().unwrap_or([0.0; 3]);
                println!(
                    "trial {:3} {:?} action A{best} peak {:.2} mm end ({:.2},{:.2}) rt {:.0} ms  t={:.1}s",
                    r.index,
                    r.outcome,
                    r.peak_pull_mm,
                    last[1],
                    last[2],
                    r.reaction_time_ms,
                    t as f64 * 1e-3
                );
            }
            chan_count.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    let wall_s = wall.elapsed().as_secs_f64();
    let sim_s = t as f64 * 1e-3;
    let trials = body.trials();
    let ok: Vec<bool> = trials
        .iter()
        .map(|r| r.outcome == Outcome::Success)
        .collect();
    let frac = |a: usize, b: usize| {
        let s = &ok[a.min(ok.len())..b.min(ok.len())];
        s.iter().filter(|x| **x).count() as f64 / s.len().max(1) as f64
    };
    println!(
        "seed {} reward {} restore {}: {} trials in {:.1} simulated s, {:.1} s wall (x{:.2} real time); {} neurons, built in {:.2} s",
        o.seed,
        o.reward,
        o.restore.is_some(),
        trials.len(),
        sim_s,
        wall_s,
        sim_s / wall_s,
        n_neurons,
        build_s
    );
    println!(
        "  ms per simulated s: brain {:.0}, body {:.0}, glue {:.0}",
        t_brain / sim_s * 1e3,
        t_body / sim_s * 1e3,
        t_glue / sim_s * 1e3
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
    let mut hist = vec![0; channels.len()];
    for &a in &trial_actions {
        hist[a] += 1;
    }
    println!("  actions taken (trials per channel): {hist:?}");
    let net = brain.network();
    let means: Vec<String> = cue_proj
        .iter()
        .map(|&k| {
            let w = net.weights(k);
            format!("{:.1}", w.iter().map(|x| x.2).sum::<f64>() / w.len() as f64)
        })
        .collect();
    println!("  mean cue weight per channel: {}", means.join(" "));
    brain.shutdown();
    body.shutdown();
    Ok(())
}

fn env_f(k: &str, d: f64) -> f64 {
    std::env::var(k)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(d)
}

const MUSCLES: [&str; 8] = [
    "Foot1", "Foot2", "Radius1", "Radius2", "Humerus1", "Humerus2", "Humerus3", "Humerus4",
];

fn parse_pattern(s: &str) -> [f64; 8] {
    let v: Vec<f64> = s.split(',').map(|x| x.parse().unwrap()).collect();
    let mut u = [0.0; 8];
    u.copy_from_slice(&v);
    u
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("explore") => {
            let pats: Vec<(String, [f64; 8])> = if args.len() > 1 {
                args[1..]
                    .iter()
                    .map(|s| (s.clone(), parse_pattern(s)))
                    .collect()
            } else {
                let mut v = Vec::new();
                for m in 0..8 {
                    let mut u = [0.0; 8];
                    u[m] = 0.3;
                    v.push((format!("m{m}=0.3"), u));
                }
                v
            };
            explore(&pats);
        }
        Some("run") => {
            let get = |k: &str| {
                args.iter()
                    .position(|a| a == k)
                    .and_then(|i| args.get(i + 1).cloned())
            };
            let o = RunOpts {
                network: get("--network").unwrap_or_else(|| {
                    concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/../../experiments/networks/joystick_reward_brain.toml"
                    )
                    .into()
                }),
                seed: get("--seed").map_or(1, |s| s.parse().unwrap()),
                trials: get("--trials").map_or(250, |s| s.parse().unwrap()),
                reward: !args.iter().any(|a| a == "--no-reward"),
                checkpoint: get("--checkpoint"),
                restore: get("--restore"),
                max_s: get("--max-s").map_or(3600.0, |s| s.parse().unwrap()),
                verbose: args.iter().any(|a| a == "-v"),
                trace: args.iter().any(|a| a == "--trace"),
            };
            if let Err(e) = run(&o) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
        _ => eprintln!("usage: reward_learning_prototype explore [pattern ...] | run [--seed N] [--trials N] [--no-reward] [--checkpoint F] [--restore F] [-v]"),
    }
}
