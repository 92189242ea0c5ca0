//! The Brunel (2000) sparse balanced network (asynchronous-irregular regime, model A with delta
//! synapses), as in NEST's `brunel_delta_nest.py` example; parameters from `shared/reference/brain.md`.
//!
//! Brunel N (2000) Dynamics of sparsely connected networks of excitatory and inhibitory spiking
//! neurons. J Comput Neurosci 8:183-208.

use std::time::Instant;

use serde_json::json;

use super::spec::{Connect, Dist, SynapseSpec};
use super::{BuildOptions, Network, NetworkError, NetworkSpec, Spike};

/// Settings of a Brunel run.
#[derive(Clone, Debug)]
pub struct BrunelConfig {
    /// Neuron-count scale (1: 10,000 E + 2,500 I); in-degrees stay at 1,000 E and 250 I.
    pub scale: f64,
    /// Threads.
    pub threads: usize,
    /// Simulated time in ms.
    pub sim_ms: f64,
    /// Seed.
    pub seed: u64,
    /// Relative inhibition g (default 5).
    pub g: f64,
    /// External rate relative to threshold rate, eta (default 2).
    pub eta: f64,
}

impl Default for BrunelConfig {
    fn default() -> Self {
        BrunelConfig {
            scale: 1.0,
            threads: 2,
            sim_ms: 1000.0,
            seed: 1,
            g: 5.0,
            eta: 2.0,
        }
    }
}

/// What a Brunel run measured.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct BrunelResult {
    /// `"neuroloop"`.
    pub simulator: String,
    /// Scale.
    pub scale: f64,
    /// Threads.
    pub threads: usize,
    /// Neurons.
    pub n_neurons: u64,
    /// Recurrent synapses.
    pub n_synapses: u64,
    /// Wall seconds to build.
    pub build_s: f64,
    /// Wall seconds to simulate.
    pub sim_s: f64,
    /// CPU seconds (all threads) to simulate: on a loaded machine less dependent on the other work
    /// than `sim_s`.
    pub sim_cpu_s: f64,
    /// Mean excitatory rate in Hz.
    pub rate_e_hz: f64,
    /// Mean inhibitory rate in Hz.
    pub rate_i_hz: f64,
    /// Mean coefficient of variation of the excitatory inter-spike intervals (neurons with >= 3 spikes).
    pub cv_isi_e: f64,
    /// Peak resident memory of the process in MB.
    pub peak_rss_mb: f64,
    /// The build's memory estimate ([`Network::estimate`]) in MB (MiB, as `peak_rss_mb`).
    pub estimate_mb: f64,
}

/// The network description for a configuration.
pub fn spec(c: &BrunelConfig) -> NetworkSpec {
    let (j, d, c_e, c_i) = (0.1, 1.5, 1000u64, 250u64);
    let (tau_m, v_th) = (20.0, 20.0);
    let params = json!({
        "C_m": 1.0, "tau_m": tau_m, "t_ref": 2.0, "E_L": 0.0, "V_reset": 10.0, "V_th": v_th,
    });
    let n_e = (10_000.0 * c.scale).round() as usize;
    let n_i = (2_500.0 * c.scale).round() as usize;
    // nu_th = V_th / (J C_E tau_m) per ms; external rate eta nu_th C_E, in Hz.
    let nu_th_per_ms = v_th / (j * c_e as f64 * tau_m);
    let rate_hz = c.eta * nu_th_per_ms * c_e as f64 * 1000.0;
    let mut spec = NetworkSpec::default();
    spec.population("E", "iaf_psc_delta", n_e, params.clone())
        .v_m(Dist::Const(0.0))
        .population("I", "iaf_psc_delta", n_i, params)
        .v_m(Dist::Const(0.0));
    for (source, k, w) in [("E", c_e, j), ("I", c_i, -c.g * j)] {
        for target in ["E", "I"] {
            spec.connect(
                source,
                target,
                Connect::fixed_indegree(k),
                SynapseSpec::fixed(w, d),
            );
        }
    }
    spec.poisson("E", rate_hz, j, d)
        .poisson("I", rate_hz, j, d)
        .record_spikes("E")
        .record_spikes("I");
    spec
}

/// Builds and simulates the network; returns timings and spike statistics (defined as in
/// `bridges/nest/brunel.py`, so NEST's run is measured the same way).
pub fn run(c: &BrunelConfig) -> Result<BrunelResult, NetworkError> {
    let t0 = Instant::now();
    let opts = BuildOptions {
        seed: c.seed,
        threads: c.threads,
        ..BuildOptions::default()
    };
    let s = spec(c);
    let estimate_mb = Network::estimate(&s, c.threads)?.bytes as f64 / (1024.0 * 1024.0);
    let mut net = Network::build(&s, &opts)?;
    let build_s = t0.elapsed().as_secs_f64();
    let steps = (c.sim_ms / net.h_ms).round() as u64;
    let (t1, cpu1) = (Instant::now(), cpu_s());
    net.simulate(steps);
    let sim_s = t1.elapsed().as_secs_f64();
    let sim_cpu_s = cpu_s() - cpu1;
    let (e, i) = (net.population_ranges[0], net.population_ranges[1]);
    let in_window: Vec<Spike> = net
        .spikes
        .iter()
        .copied()
        .filter(|s| ((s.step + 1) as f64 * net.h_ms) < c.sim_ms)
        .collect();
    Ok(BrunelResult {
        simulator: "neuroloop".into(),
        scale: c.scale,
        threads: c.threads,
        n_neurons: net.n_neurons as u64,
        n_synapses: net.n_synapses,
        build_s,
        sim_s,
        sim_cpu_s,
        rate_e_hz: rate(&in_window, e, c.sim_ms),
        rate_i_hz: rate(&in_window, i, c.sim_ms),
        cv_isi_e: mean_cv(&in_window, e, net.h_ms),
        peak_rss_mb: peak_rss_mb(),
        estimate_mb,
    })
}

/// Mean rate in Hz of the neurons `[a, b)`.
pub fn rate(spikes: &[Spike], (a, b): (u32, u32), sim_ms: f64) -> f64 {
    let count = spikes
        .iter()
        .filter(|s| s.neuron >= a && s.neuron < b)
        .count();
    count as f64 / (f64::from(b - a) * sim_ms * 1e-3)
}

/// Mean over neurons `[a, b)` with at least 3 spikes of std(ISI)/mean(ISI) (population std).
pub fn mean_cv(spikes: &[Spike], (a, b): (u32, u32), h_ms: f64) -> f64 {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); (b - a) as usize];
    for s in spikes.iter().filter(|s| s.neuron >= a && s.neuron < b) {
        times[(s.neuron - a) as usize].push((s.step + 1) as f64 * h_ms);
    }
    let cvs: Vec<f64> = times
        .iter()
        .filter(|t| t.len() >= 3)
        .map(|t| {
            let isi: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = isi.iter().sum::<f64>() / isi.len() as f64;
            let var = isi.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / isi.len() as f64;
            var.sqrt() / mean
        })
        .collect();
    if cvs.is_empty() {
        f64::NAN
    } else {
        cvs.iter().sum::<f64>() / cvs.len() as f64
    }
}

/// CPU seconds of this process so far, all threads (Linux: utime + stime of /proc/self/stat, in
/// 1/100 s; NaN elsewhere). On a loaded machine the wall time depends on the other work, the CPU
/// time much less.
pub fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (in parentheses, which may hold spaces).
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN)
}

/// Peak resident memory of this process in MiB (Linux: VmHWM of /proc/self/status; NaN elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_this_network() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/networks/brunel.toml");
        let mut file = NetworkSpec::load(std::path::Path::new(path)).unwrap();
        assert_eq!(file.outputs.len(), 2);
        file.outputs.clear();
        let built = spec(&BrunelConfig {
            scale: 0.2,
            ..Default::default()
        });
        assert_eq!(file, built);
    }
}
