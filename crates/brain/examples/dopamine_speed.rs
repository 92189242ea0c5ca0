//! The cost of dopamine-modulated STDP: each network runs twice in one invocation, with its plastic
//! projections as `stdp_dopamine_synapse` (NEST's semantics: updates at presynaptic spikes and at the
//! volume transmitter's deliveries, each synapse catching up with the deliveries it missed when next
//! used) and as `static_synapse` with the same initial weights; a reward (a dopamine pulse) at the
//! start of every second, so that the dopamine trace is never 0 (no weight update is skipped for
//! want of dopamine). Prints wall and CPU ms per simulated second (on a loaded machine the CPU time
//! depends less on the other work), the ratios dopamine / static, and each run's rates and mean
//! plastic weight (so that "the same activity" can be checked).
//!
//! Two networks:
//! - **all E->E plastic** (the worst case): Brunel (2000) model A at `--scale` (0.32: 3,200 E +
//!   800 I, in-degrees 1,000 and 250, 3.2 million plastic synapses of 5 million), delays 1.5 ms,
//!   h = 0.1 ms, NEST's default `deliver_interval = 1` (a delivery every minimum delay; the volume
//!   transmitter's delay is the network's, else its default of one step would make the minimum
//!   delay 0.1 ms). `A_plus` = 1e-5 and `A_minus` = 1.5e-5 keep the weights within ~0.1 % of
//!   0.1 mV, so that the activity is that of the static network (the work per event does not depend
//!   on the amplitudes). A third run, with plasticity off, measures what the plastic synapses' storage
//!   costs without the rule;
//! - **joystick brain (+ cortex)** (the user's shape): `experiments/networks/joystick_reward_brain.toml`
//!   (the flagship's brain, 8,678 neurons, its shipped learning rule on the 34,560 S -> action
//!   synapses, h = 1 ms, `deliver_interval = 10`), its go relays driven at 40 Hz and its proprioceptive
//!   relays by Poisson trains (`--proprio-hz`, default 1 Hz: the code's mean rate in the loop, 7 Hz at
//!   the peak of ~3.8 of its 36 curves) instead of the links, plus optionally a balanced cortex of
//!   `--cortex N` neurons (default 0). The README's figure for this network was measured with the
//!   earlier 920-neuron brain plus a 7,000-neuron cortex.
//!
//! With `--every-ms T > 0`, the first network also runs for T ms carried through every delivery as
//! NEST does (forced by a baseline `b = 1e-300`, which changes the weights by nothing measurable).
//! `--repeat N` runs each variant N times, alternating, and keeps the fastest (the machine is shared).
//! Measured figures: README.md, "Dopamine-modulated STDP against static synapses".
//!
//! `cargo run --release -p neuroloop-brain --example dopamine_speed -- --scale 0.32 --sim-ms 1000`

use std::time::Instant;

use neuroloop_brain::network::brunel::{spec, BrunelConfig};
use neuroloop_brain::network::spec::{Connect, SynapseModel, SynapseSpec};
use neuroloop_brain::network::spec::{PopulationSpec, VolumeTransmitterSpec};
use neuroloop_brain::network::{BuildOptions, Network, NetworkSpec};

/// What one run measured.
struct Run {
    wall_s: f64,
    /// CPU seconds of the process (all threads) over the same time.
    cpu_s: f64,
    /// Mean rate (Hz) of each reported population.
    rates: Vec<f64>,
    /// Mean weight of the plastic projections (static run: the same projections).
    mean_w: f64,
    /// Synapses in all, and in the plastic projections.
    n_synapses: (u64, usize),
}

/// Simulates `sim_ms` in 100 ms chunks with a dopamine pulse at the start of every second.
/// With `learn` false, plasticity is off: plastic synapses transmit their stored weights.
fn run(spec: &NetworkSpec, threads: usize, sim_ms: f64, case: &Case, learn: bool) -> Run {
    let opts = BuildOptions {
        seed: 1,
        threads,
        ..BuildOptions::default()
    };
    let mut net = Network::build(spec, &opts).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    net.set_plasticity(learn);
    let vt = net.volume_transmitter("vt");
    let chunk = (100.0 / net.h_ms).round() as u64;
    let chunks = (sim_ms / 100.0).round() as u64;
    let (t, cpu0) = (Instant::now(), neuroloop_brain::network::brunel::cpu_s());
    for c in 0..chunks {
        if let (Some(vt), 0) = (vt, c % 10) {
            net.add_dopamine(vt, net.steps_done(), 1.0);
        }
        net.simulate(chunk);
    }
    let wall_s = t.elapsed().as_secs_f64();
    let cpu_s = neuroloop_brain::network::brunel::cpu_s() - cpu0;
    let rates = case
        .rate_of
        .iter()
        .map(|name| {
            let p = net.population(name).expect("a population of the case");
            let (a, b) = net.population_ranges[p];
            let n = net
                .spikes
                .iter()
                .filter(|s| s.neuron >= a && s.neuron < b)
                .count();
            n as f64 / f64::from(b - a) / (chunks as f64 * 0.1)
        })
        .collect();
    let (mut sum, mut count) = (0.0, 0usize);
    for &i in &case.plastic {
        let w = net.weights(i);
        sum += w.iter().map(|x| x.2).sum::<f64>();
        count += w.len();
    }
    Run {
        wall_s,
        cpu_s,
        rates,
        mean_w: sum / count.max(1) as f64,
        n_synapses: (net.n_synapses, count),
    }
}

/// One benchmark network: its plastic and static versions.
struct Case {
    name: String,
    plastic_spec: NetworkSpec,
    static_spec: NetworkSpec,
    /// Indices of the plastic projections.
    plastic: Vec<usize>,
    /// Populations whose rates are printed.
    rate_of: Vec<String>,
}

/// The spec with every `stdp_dopamine_synapse` projection made static (same initial weights) and
/// the volume transmitters removed.
fn made_static(s: &NetworkSpec) -> NetworkSpec {
    let mut s = s.clone();
    for p in &mut s.projections {
        if p.synapse.synapse_model == SynapseModel::StdpDopamineSynapse {
            p.synapse.synapse_model = SynapseModel::StaticSynapse;
            p.synapse.params = serde_json::json!({});
            p.synapse.volume_transmitter = None;
        }
    }
    s.volume_transmitters.clear();
    s
}

fn plastic_indices(s: &NetworkSpec) -> Vec<usize> {
    (0..s.projections.len())
        .filter(|&i| s.projections[i].synapse.synapse_model == SynapseModel::StdpDopamineSynapse)
        .collect()
}

fn vt(name: &str, deliver_interval: u32) -> VolumeTransmitterSpec {
    VolumeTransmitterSpec {
        name: name.into(),
        population: None,
        reward_port: Some("reward".into()),
        deliver_interval,
        delay: None,
    }
}

/// Brunel model A with every E -> E synapse `stdp_dopamine_synapse` (baseline `b`).
fn brunel_case(c: &BrunelConfig, b: f64) -> Case {
    let fixed = spec(c);
    let mut s = fixed.clone();
    let ee = &mut s.projections[0];
    assert_eq!((ee.source.as_str(), ee.target.as_str()), ("E", "E"));
    ee.synapse.synapse_model = SynapseModel::StdpDopamineSynapse;
    ee.synapse.params = serde_json::json!({
        "A_plus": 1e-5, "A_minus": 1.5e-5, "Wmin": 0.0, "Wmax": 0.2, "b": b,
    });
    ee.synapse.volume_transmitter = Some("vt".into());
    s.volume_transmitters.push(VolumeTransmitterSpec {
        delay: Some(1.5),
        ..vt("vt", 1)
    });
    Case {
        name: format!("all E->E plastic: Brunel scale {}", c.scale),
        plastic: plastic_indices(&s),
        static_spec: fixed,
        plastic_spec: s,
        rate_of: vec!["E".into()],
    }
}

/// The joystick brain with a balanced cortex of `cortex` neurons (Brunel 2000 style, current-based:
/// in-degree 100, J = 10 pA, g = 5, background 1,200 Hz), its go relays at 40 Hz and its
/// proprioceptive relays at `proprio_hz`.
fn joystick_case(cortex: usize, proprio_hz: f64) -> Case {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/networks/joystick_reward_brain.toml"
    );
    let mut s = NetworkSpec::load(std::path::Path::new(path)).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    // The benchmark's reward goes to "vt".
    for v in &mut s.volume_transmitters {
        v.name = "vt".into();
    }
    for p in &mut s.projections {
        if p.synapse.volume_transmitter.is_some() {
            p.synapse.volume_transmitter = Some("vt".into());
        }
    }
    // Relays: V_th = 20 mV delta synapses, one input spike of 25 mV = one spike. With the go relays
    // on, one P relay spike fires an S neuron of its curve (as in the loop while the go cue is on).
    s.poisson("Go", 40.0, 25.0, 1.0)
        .poisson("P", proprio_hz, 25.0, 1.0);
    let template: PopulationSpec = s
        .populations
        .iter()
        .find(|p| p.name == "A0")
        .expect("joystick brain has A0")
        .clone();
    let (ne, ni) = (cortex * 4 / 5, cortex - cortex * 4 / 5);
    let (k, j, g, bg_hz) = (100u64, 10.0, 5.0, 1200.0);
    if cortex > 0 {
        for (name, n) in [("CtxE", ne), ("CtxI", ni)] {
            s.populations.push(PopulationSpec {
                name: name.into(),
                n,
                groups: Vec::new(),
                ..template.clone()
            });
        }
        for (src, tgt, w) in [
            ("CtxE", "CtxE", j),
            ("CtxE", "CtxI", j),
            ("CtxI", "CtxE", -g * j),
            ("CtxI", "CtxI", -g * j),
        ] {
            let kk = if src == "CtxE" { k } else { k / 4 };
            s.connect(
                src,
                tgt,
                Connect::fixed_indegree(kk),
                SynapseSpec::fixed(w, 1.0),
            );
        }
        s.poisson("CtxE", bg_hz, j, 1.0)
            .poisson("CtxI", bg_hz, j, 1.0);
    }
    let mut rate_of = vec!["S".to_string()];
    rate_of.extend(
        (0..)
            .map(|i| format!("A{i}"))
            .take_while(|a| s.populations.iter().any(|p| &p.name == a)),
    );
    if cortex > 0 {
        rate_of.push("CtxE".into());
    }
    for r in &rate_of {
        s.record_spikes(r);
    }
    Case {
        name: format!(
            "joystick brain + cortex {cortex} (P relays {proprio_hz} Hz): {} neurons",
            s.populations.iter().map(|p| p.n).sum::<usize>()
        ),
        plastic: plastic_indices(&s),
        static_spec: made_static(&s),
        plastic_spec: s,
        rate_of,
    }
}

fn per_s(wall_s: f64, sim_ms: f64) -> f64 {
    wall_s * 1e3 * 1000.0 / sim_ms
}

fn rates_text(case: &Case, r: &Run) -> String {
    // Cue, then the action channels as one mean, then the rest.
    let mut parts = Vec::new();
    let mut a = Vec::new();
    for (name, rate) in case.rate_of.iter().zip(&r.rates) {
        if name.starts_with('A') && name.len() == 2 {
            a.push(*rate);
        } else {
            parts.push(format!("{name} {rate:.2} Hz"));
        }
    }
    if !a.is_empty() {
        parts.insert(
            1,
            format!("A* {:.2} Hz", a.iter().sum::<f64>() / a.len() as f64),
        );
    }
    parts.join(", ")
}

/// Runs both versions of a case `repeat` times (alternating), keeps the fastest of each, prints
/// them and returns the static run's ms per simulated s and the ratio dopamine / static.
fn compare(case: &Case, threads: usize, sim_ms: f64, repeat: usize) -> (f64, f64) {
    let mut best: [Option<Run>; 2] = [None, None];
    for _ in 0..repeat {
        for (i, s) in [&case.static_spec, &case.plastic_spec]
            .into_iter()
            .enumerate()
        {
            let r = run(s, threads, sim_ms, case, true);
            if best[i].as_ref().is_none_or(|b| r.wall_s < b.wall_s) {
                best[i] = Some(r);
            }
        }
    }
    let [Some(st), Some(dp)] = best else {
        unreachable!("repeat >= 1")
    };
    println!(
        "{}, {} synapses ({} plastic), {threads} threads, {sim_ms} ms, best of {repeat}",
        case.name, dp.n_synapses.0, dp.n_synapses.1
    );
    let (s_ms, d_ms) = (per_s(st.wall_s, sim_ms), per_s(dp.wall_s, sim_ms));
    let (s_cpu, d_cpu) = (per_s(st.cpu_s, sim_ms), per_s(dp.cpu_s, sim_ms));
    println!(
        "  static    {s_ms:9.1} ms per simulated s (CPU {s_cpu:9.1} ms)  ({}; mean plastic-projection weight {:.6})",
        rates_text(case, &st),
        st.mean_w
    );
    println!(
        "  dopamine  {d_ms:9.1} ms per simulated s (CPU {d_cpu:9.1} ms)  ({}; mean plastic weight {:.6})  {:.2}x static (CPU {:.2}x)",
        rates_text(case, &dp),
        dp.mean_w,
        d_ms / s_ms,
        d_cpu / s_cpu
    );
    (s_ms, d_ms / s_ms)
}

fn main() {
    let mut c = BrunelConfig {
        scale: 0.32,
        sim_ms: 2000.0,
        ..BrunelConfig::default()
    };
    let (mut every_ms, mut cortex, mut proprio_hz, mut repeat) = (0.0, 0usize, 1.0, 1usize);
    let mut only: Option<String> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let bad = |what: &str| -> ! {
            eprintln!("{what}: bad value {value:?}");
            std::process::exit(2)
        };
        match args[i].as_str() {
            "--scale" => c.scale = value.parse().unwrap_or_else(|_| bad("--scale")),
            "--threads" => c.threads = value.parse().unwrap_or_else(|_| bad("--threads")),
            "--sim-ms" => c.sim_ms = value.parse().unwrap_or_else(|_| bad("--sim-ms")),
            "--every-ms" => every_ms = value.parse().unwrap_or_else(|_| bad("--every-ms")),
            "--cortex" => cortex = value.parse().unwrap_or_else(|_| bad("--cortex")),
            "--proprio-hz" => proprio_hz = value.parse().unwrap_or_else(|_| bad("--proprio-hz")),
            "--repeat" => {
                repeat = value
                    .parse()
                    .ok()
                    .filter(|&r| r >= 1)
                    .unwrap_or_else(|| bad("--repeat"))
            }
            "--only" => match value.as_str() {
                "brunel" | "joystick" => only = Some(value),
                _ => bad("--only (brunel or joystick)"),
            },
            "-h" | "--help" => {
                println!(
                    "dopamine_speed [--scale S (0.32)] [--threads N (2)] [--sim-ms MS (2000)] [--every-ms MS (0: skip)]\n               [--cortex N (0)] [--proprio-hz HZ (1)] [--repeat N (1)] [--only brunel|joystick]"
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    if !(c.sim_ms >= 100.0 && c.scale > 0.0 && c.threads >= 1) {
        eprintln!("--sim-ms must be >= 100, --scale > 0, --threads >= 1");
        std::process::exit(2)
    }
    let mut ratios = Vec::new();
    if only.as_deref() != Some("joystick") {
        let case = brunel_case(&c, 0.0);
        let (s_ms, ratio) = compare(&case, c.threads, c.sim_ms, repeat);
        ratios.push(("all E->E plastic", ratio));
        let off = run(&case.plastic_spec, c.threads, c.sim_ms, &case, false);
        let (o_ms, o_cpu) = (per_s(off.wall_s, c.sim_ms), per_s(off.cpu_s, c.sim_ms));
        println!(
            "  plasticity off (their storage without the rule) {o_ms:9.1} ms per simulated s (CPU {o_cpu:.1} ms): {:.2}x static",
            o_ms / s_ms
        );
        if every_ms > 0.0 {
            let every = brunel_case(&c, 1e-300);
            let r = run(&every.plastic_spec, c.threads, every_ms, &every, true);
            let e_ms = per_s(r.wall_s, every_ms);
            println!(
                "  every delivery (b = 1e-300, {every_ms} ms) {e_ms:9.1} ms per simulated s ({}) against static {s_ms:.1}: {:.2}x static",
                rates_text(&every, &r),
                e_ms / s_ms
            );
        }
    }
    if only.as_deref() != Some("brunel") {
        let case = joystick_case(cortex, proprio_hz);
        ratios.push((
            "joystick brain",
            compare(&case, c.threads, c.sim_ms, repeat).1,
        ));
    }
    let text: Vec<String> = ratios.iter().map(|(n, r)| format!("{n} {r:.2}x")).collect();
    println!("dopamine / static: {}", text.join(", "));
}
