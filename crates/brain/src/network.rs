//! Networks of neuron populations connected by static synapses, simulated on a fixed grid with
//! NEST's timing, on several threads with results independent of the thread count.
//!
//! **Timing** (NEST's): time advances in steps of `h_ms`; a neuron that fires in the step from
//! `k h` to `(k + 1) h` emits its spike at `(k + 1) h`, and with a delay of `d` steps the spike arrives
//! in step `k + d` (it moves the target at the end of that step). The smallest delay `m` is the exchange
//! quantum: the network advances `m` steps without exchanging anything, then delivers every spike of
//! those steps into per-target ring buffers of `m + max delay` slots.
//!
//! **Threads**: each thread owns a contiguous range of neurons, their state, their ring buffers and the
//! synapses that end on them (stored by source, as rows of target indices). After each quantum every
//! thread reads every thread's spikes in one global order (by step, then neuron id) and delivers those
//! that reach its own neurons. Each target therefore sums its inputs in the same order whatever the
//! number of threads, and every random stream belongs to one neuron: a run gives bit-identical results
//! on 1 or 2 threads (which NEST does not promise).
//!
//! What is here so far: `iaf_psc_delta` populations, `fixed_indegree` projections with one weight and
//! one delay each, independent Poisson drive per neuron (NEST's `poisson_generator` connected to a
//! population), and spike recording. See [`brunel`] for the Brunel (2000) network built with it.

pub mod brunel;

use std::sync::{Barrier, RwLock};

use crate::iaf_psc_delta;

/// A population of neurons of one model and one parameter set.
#[derive(Clone, Debug)]
pub struct PopulationSpec {
    /// Name (e.g. `"E"`).
    pub name: String,
    /// Number of neurons.
    pub n: usize,
    /// Model parameters (`iaf_psc_delta` for now).
    pub params: iaf_psc_delta::Params,
    /// Initial membrane potential in mV (default: E_L).
    pub v_m_init: Option<f64>,
}

/// Connections from one population to another with one weight and one delay.
#[derive(Clone, Debug)]
pub struct ProjectionSpec {
    /// Source population index.
    pub source: usize,
    /// Target population index.
    pub target: usize,
    /// Each target neuron gets `indegree` synapses from sources drawn uniformly (NEST's
    /// `fixed_indegree` with autapses and multapses allowed).
    pub indegree: usize,
    /// Weight (mV for `iaf_psc_delta`).
    pub weight: f64,
    /// Delay in ms (a whole number of steps, at least one).
    pub delay_ms: f64,
}

/// Independent Poisson spike trains into every neuron of a population (NEST: one `poisson_generator`
/// connected to the population; each target gets its own train).
#[derive(Clone, Debug)]
pub struct PoissonDriveSpec {
    /// Target population index.
    pub target: usize,
    /// Rate of each train in Hz.
    pub rate_hz: f64,
    /// Weight of each spike.
    pub weight: f64,
    /// Delay in ms.
    pub delay_ms: f64,
}

/// A network description.
#[derive(Clone, Debug, Default)]
pub struct NetworkSpec {
    /// Populations; neuron ids are assigned in this order.
    pub populations: Vec<PopulationSpec>,
    /// Projections.
    pub projections: Vec<ProjectionSpec>,
    /// Poisson drives.
    pub drives: Vec<PoissonDriveSpec>,
    /// Resolution in ms (default 0.1).
    pub h_ms: f64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Number of threads.
    pub threads: usize,
}

/// A network that cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// A parameter is out of range; the text names it.
    #[error("{0}")]
    Invalid(String),
    /// A population's parameters are invalid.
    #[error("population {population}: {error}")]
    Params {
        /// Population name.
        population: String,
        /// What is wrong.
        error: crate::ParamError,
    },
}

/// One spike: the step in which it was emitted (it occurs at the step's end) and the neuron id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Spike {
    /// Step index `k`: the spike time is `(k + 1) h`.
    pub step: u64,
    /// Global neuron id.
    pub neuron: u32,
}

/// The neurons of one population that belong to one thread.
struct Segment {
    /// First global id.
    first: u32,
    /// Offset of the first neuron in the thread's local numbering.
    local: usize,
    pop: iaf_psc_delta::Population,
    derived: iaf_psc_delta::Derived,
}

/// Synapses of one projection that end on one thread's neurons, by source: row `s` (source index
/// within the source population) holds the local indices of its targets.
struct Rows {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    /// First global id of the source population.
    source_first: u32,
    source_n: u32,
    weight: f64,
    delay: u64,
}

/// A Poisson drive on one thread: a table of its count distribution and its local target range.
struct Drive {
    local_lo: usize,
    local_hi: usize,
    /// `thresholds[c]` = P(count <= c) scaled to 2^64 (the last one is u64::MAX): the count drawn from a
    /// uniform 64-bit integer `r` is the number of thresholds `<= r` (inversion, no float conversion).
    thresholds: Vec<u64>,
    weight: f64,
    delay: u64,
}

/// Everything one thread owns.
struct Part {
    lo: u32,
    hi: u32,
    segments: Vec<Segment>,
    rows: Vec<Rows>,
    drives: Vec<Drive>,
    /// Ring buffer: `ring[slot * n_local + i]`, summed spike input of local neuron `i`.
    ring: Vec<f64>,
    /// Per-neuron random streams (SplitMix64 states).
    rng: Vec<u64>,
    spiked: Vec<u32>,
}

/// A built network, ready to simulate.
pub struct Network {
    parts: Vec<Part>,
    /// Spikes of the current quantum, one list per thread.
    exchange: Vec<RwLock<Vec<Spike>>>,
    ring_len: u64,
    min_delay: u64,
    step: u64,
    /// Every spike so far, in global order.
    pub spikes: Vec<Spike>,
    /// Number of neurons.
    pub n_neurons: usize,
    /// Number of recurrent synapses.
    pub n_synapses: u64,
    /// Resolution in ms.
    pub h_ms: f64,
    /// Population boundaries: `[first, first + n)` per population.
    pub population_ranges: Vec<(u32, u32)>,
}

fn steps_of(ms: f64, h: f64, what: &str) -> Result<u64, NetworkError> {
    let s = (ms / h).round();
    if s.is_nan() || s < 1.0 || ((ms / h) - s).abs() > 1e-9 * s {
        return Err(NetworkError::Invalid(format!(
            "{what} = {ms} ms is not a whole number (>= 1) of {h} ms steps"
        )));
    }
    Ok(s as u64)
}

/// SplitMix64 step (Steele, Lea & Flood 2014): advances `state` and returns 64 uniform bits.
#[inline(always)]
fn next_u64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform in [0, 1) from the SplitMix64 stream `state`.
#[inline(always)]
fn uniform(state: &mut u64) -> f64 {
    (next_u64(state) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Inversion thresholds of Poisson(λ) on 64-bit integers (see [`Drive`]).
fn poisson_thresholds(lambda: f64) -> Vec<u64> {
    let cdf = poisson_cdf(lambda);
    let mut t: Vec<u64> = cdf[..cdf.len() - 1]
        .iter()
        .map(|&p| (p * 18_446_744_073_709_551_616.0).min(u64::MAX as f64) as u64)
        .collect();
    t.push(u64::MAX);
    t
}

/// Cumulative Poisson(λ) probabilities up to where the tail is below 1e-16.
fn poisson_cdf(lambda: f64) -> Vec<f64> {
    let mut cdf = Vec::new();
    let mut p = (-lambda).exp();
    let mut sum = p;
    let mut k = 0.0;
    cdf.push(sum);
    while 1.0 - sum > 1e-16 && cdf.len() < 10_000 {
        k += 1.0;
        p *= lambda / k;
        sum += p;
        cdf.push(sum);
    }
    cdf
}

impl Network {
    /// Builds the network: draws every connection (on all threads at once).
    pub fn build(spec: &NetworkSpec) -> Result<Network, NetworkError> {
        let h = if spec.h_ms > 0.0 { spec.h_ms } else { 0.1 };
        let threads = spec.threads.max(1);
        let mut ranges = Vec::new();
        let mut next = 0u32;
        for p in &spec.populations {
            p.params.validate().map_err(|error| NetworkError::Params {
                population: p.name.clone(),
                error,
            })?;
            let n = u32::try_from(p.n)
                .map_err(|_| NetworkError::Invalid(format!("population {} too large", p.name)))?;
            ranges.push((next, next + n));
            next = next
                .checked_add(n)
                .ok_or_else(|| NetworkError::Invalid("more than 2^32 neurons".into()))?;
        }
        let n_total = next;
        let mut delays = Vec::new();
        for (i, pr) in spec.projections.iter().enumerate() {
            if pr.source >= ranges.len() || pr.target >= ranges.len() {
                return Err(NetworkError::Invalid(format!(
                    "projection {i}: population index out of range"
                )));
            }
            if ranges[pr.source].1 == ranges[pr.source].0 && pr.indegree > 0 {
                return Err(NetworkError::Invalid(format!(
                    "projection {i}: empty source population"
                )));
            }
            delays.push(steps_of(pr.delay_ms, h, &format!("projection {i} delay"))?);
        }
        let mut drive_delays = Vec::new();
        for (i, d) in spec.drives.iter().enumerate() {
            if d.target >= ranges.len()
                || d.rate_hz.is_nan()
                || d.rate_hz < 0.0
                || d.rate_hz.is_infinite()
            {
                return Err(NetworkError::Invalid(format!(
                    "drive {i}: bad target or rate"
                )));
            }
            drive_delays.push(steps_of(d.delay_ms, h, &format!("drive {i} delay"))?);
        }
        let min_delay = delays
            .iter()
            .chain(&drive_delays)
            .copied()
            .min()
            .unwrap_or(1);
        let max_delay = delays
            .iter()
            .chain(&drive_delays)
            .copied()
            .max()
            .unwrap_or(1);
        let ring_len = min_delay + max_delay;

        // Split neurons evenly over threads.
        let bounds: Vec<(u32, u32)> = (0..threads)
            .map(|t| {
                let lo = (u64::from(n_total) * t as u64 / threads as u64) as u32;
                let hi = (u64::from(n_total) * (t as u64 + 1) / threads as u64) as u32;
                (lo, hi)
            })
            .collect();
        let parts: Vec<Result<Part, NetworkError>> = std::thread::scope(|s| {
            let handles: Vec<_> = bounds
                .iter()
                .map(|&(lo, hi)| {
                    let ranges = &ranges;
                    let delays = &delays;
                    let drive_delays = &drive_delays;
                    s.spawn(move || {
                        build_part(
                            spec,
                            h,
                            ranges,
                            delays,
                            drive_delays,
                            lo,
                            hi,
                            ring_len as usize,
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("build thread panicked"))
                .collect()
        });
        let parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
        let n_synapses = parts
            .iter()
            .flat_map(|p| &p.rows)
            .map(|r| r.targets.len() as u64)
            .sum();
        Ok(Network {
            exchange: (0..parts.len()).map(|_| RwLock::new(Vec::new())).collect(),
            parts,
            ring_len,
            min_delay,
            step: 0,
            spikes: Vec::new(),
            n_neurons: n_total as usize,
            n_synapses,
            h_ms: h,
            population_ranges: ranges,
        })
    }

    /// Simulates `steps` steps (rounded up to whole exchange quanta), recording every spike.
    pub fn simulate(&mut self, steps: u64) {
        let quanta = steps.div_ceil(self.min_delay);
        let barrier = Barrier::new(self.parts.len());
        let (m, ring_len, start) = (self.min_delay, self.ring_len, self.step);
        let exchange = &self.exchange;
        let mut recorded: Vec<Vec<Spike>> = Vec::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .parts
                .iter_mut()
                .enumerate()
                .map(|(t, part)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        let mut record = Vec::new();
                        for q in 0..quanta {
                            let first = start + q * m;
                            mine.clear();
                            for k in first..first + m {
                                part.update(k, ring_len, &mut mine);
                            }
                            *exchange[t].write().unwrap_or_else(|p| p.into_inner()) =
                                std::mem::take(&mut mine);
                            barrier.wait();
                            let lists: Vec<_> = exchange
                                .iter()
                                .map(|l| l.read().unwrap_or_else(|p| p.into_inner()))
                                .collect();
                            part.deliver(&lists, first, m, ring_len);
                            if t == 0 {
                                // Thread 0 keeps the record, in global order (step, then neuron).
                                for k in first..first + m {
                                    for l in &lists {
                                        record.extend(l.iter().filter(|sp| sp.step == k));
                                    }
                                }
                            }
                            drop(lists);
                            barrier.wait();
                            mine = std::mem::take(
                                &mut *exchange[t].write().unwrap_or_else(|p| p.into_inner()),
                            );
                        }
                        record
                    })
                })
                .collect();
            recorded = handles
                .into_iter()
                .map(|h| h.join().expect("simulation thread panicked"))
                .collect();
        });
        self.spikes
            .extend(recorded.into_iter().next().unwrap_or_default());
        self.step = start + quanta * m;
    }

    /// Simulated time so far in ms.
    pub fn time_ms(&self) -> f64 {
        self.step as f64 * self.h_ms
    }
}

#[allow(clippy::too_many_arguments)]
fn build_part(
    spec: &NetworkSpec,
    h: f64,
    ranges: &[(u32, u32)],
    delays: &[u64],
    drive_delays: &[u64],
    lo: u32,
    hi: u32,
    ring_len: usize,
) -> Result<Part, NetworkError> {
    let n_local = (hi - lo) as usize;
    let mut segments = Vec::new();
    for (p, &(a, b)) in spec.populations.iter().zip(ranges) {
        let (s_lo, s_hi) = (a.max(lo), b.min(hi));
        if s_lo >= s_hi {
            continue;
        }
        let derived =
            iaf_psc_delta::prepare(&p.params, h).map_err(|error| NetworkError::Params {
                population: p.name.clone(),
                error,
            })?;
        let mut pop = iaf_psc_delta::Population::new((s_hi - s_lo) as usize, &p.params);
        if let Some(v) = p.v_m_init {
            pop.v_m.iter_mut().for_each(|x| *x = v);
        }
        segments.push(Segment {
            first: s_lo,
            local: (s_lo - lo) as usize,
            pop,
            derived,
        });
    }
    let mut rows = Vec::new();
    for (pi, pr) in spec.projections.iter().enumerate() {
        let (src_a, src_b) = ranges[pr.source];
        let (tgt_a, tgt_b) = ranges[pr.target];
        let (t_lo, t_hi) = (tgt_a.max(lo), tgt_b.min(hi));
        let n_src = (src_b - src_a) as usize;
        let mut pairs: Vec<(u32, u32)> = Vec::new(); // (source index, local target)
        if t_lo < t_hi {
            pairs.reserve((t_hi - t_lo) as usize * pr.indegree);
            for tgt in t_lo..t_hi {
                // One stream per (projection, target): independent of the thread split.
                let mut st = crate::network::mix(spec.seed, 1 + pi as u64, u64::from(tgt));
                for _ in 0..pr.indegree {
                    let src = ((uniform(&mut st) * n_src as f64) as usize).min(n_src - 1);
                    pairs.push((src as u32, tgt - lo));
                }
            }
        }
        // Rows by source; within a row, targets in ascending order (stable sort keeps draw order).
        let mut offsets = vec![0u32; n_src + 1];
        for &(s, _) in &pairs {
            offsets[s as usize + 1] += 1;
        }
        for i in 0..n_src {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; pairs.len()];
        for &(s, t) in &pairs {
            targets[fill[s as usize] as usize] = t;
            fill[s as usize] += 1;
        }
        rows.push(Rows {
            offsets,
            targets,
            source_first: src_a,
            source_n: n_src as u32,
            weight: pr.weight,
            delay: delays[pi],
        });
    }
    let mut drives = Vec::new();
    for (di, d) in spec.drives.iter().enumerate() {
        let (a, b) = ranges[d.target];
        let (s_lo, s_hi) = (a.max(lo), b.min(hi));
        if s_lo < s_hi {
            drives.push(Drive {
                local_lo: (s_lo - lo) as usize,
                local_hi: (s_hi - lo) as usize,
                thresholds: poisson_thresholds(d.rate_hz * h * 1e-3),
                weight: d.weight,
                delay: drive_delays[di],
            });
        }
    }
    let rng = (lo..hi).map(|i| mix(spec.seed, 0, u64::from(i))).collect();
    Ok(Part {
        lo,
        hi,
        segments,
        rows,
        drives,
        ring: vec![0.0; ring_len * n_local],
        rng,
        spiked: Vec::new(),
    })
}

/// A seed for stream `(kind, index)` of the run seed.
pub(crate) fn mix(seed: u64, kind: u64, index: u64) -> u64 {
    let mut s = seed ^ kind.wrapping_mul(0xd134_2543_de82_ef95);
    let _ = uniform(&mut s);
    s ^= index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let _ = uniform(&mut s);
    s
}

/// Thresholds compared without branches for each Poisson draw.
const HEAD: usize = 8;

impl Part {
    fn n_local(&self) -> usize {
        (self.hi - self.lo) as usize
    }

    /// One step `k` of this thread's neurons: Poisson drive into the ring, neuron updates reading the
    /// slot of step `k`, which is then cleared; spikes go to `out`.
    fn update(&mut self, k: u64, ring_len: u64, out: &mut Vec<Spike>) {
        let n = self.n_local();
        let slot = (k % ring_len) as usize;
        // The drive's spikes generated at step k - d arrive now; drawing them now is the same
        // distribution (each neuron's own stream, in step order).
        for d in &self.drives {
            // Nothing generated before t = 0 arrives before step `delay`.
            if k < d.delay {
                continue;
            }
            let row = &mut self.ring[slot * n..(slot + 1) * n];
            let thr = d.thresholds.as_slice();
            let head: [u64; HEAD] =
                std::array::from_fn(|j| thr.get(j).copied().unwrap_or(u64::MAX));
            for (x, st) in row[d.local_lo..d.local_hi]
                .iter_mut()
                .zip(&mut self.rng[d.local_lo..d.local_hi])
            {
                let r = next_u64(st);
                // Branch-free count over the first eight thresholds (a data-dependent loop here
                // mispredicts on most draws), then the rare tail.
                let mut c: usize = head.iter().map(|&t| usize::from(r >= t)).sum();
                if c == HEAD {
                    while c < thr.len() - 1 && r >= thr[c] {
                        c += 1;
                    }
                }
                if c > 0 {
                    *x += c as f64 * d.weight;
                }
            }
        }
        let input = &mut self.ring[slot * n..(slot + 1) * n];
        for seg in &mut self.segments {
            let len = seg.pop.len();
            seg.pop.step(
                &seg.derived,
                &input[seg.local..seg.local + len],
                &[],
                &[],
                &mut self.spiked,
            );
            out.extend(self.spiked.iter().map(|&i| Spike {
                step: k,
                neuron: seg.first + i,
            }));
        }
        input.iter_mut().for_each(|x| *x = 0.0);
    }

    /// Delivers the spikes of steps `[first, first + m)` from every thread's list to this thread's
    /// neurons, in global order.
    fn deliver(
        &mut self,
        lists: &[std::sync::RwLockReadGuard<'_, Vec<Spike>>],
        first: u64,
        m: u64,
        ring_len: u64,
    ) {
        let n = self.n_local();
        let mut cursors = vec![0usize; lists.len()];
        for k in first..first + m {
            for (t, l) in lists.iter().enumerate() {
                while let Some(sp) = l.get(cursors[t]).filter(|sp| sp.step == k) {
                    cursors[t] += 1;
                    for r in &self.rows {
                        let Some(src) = sp
                            .neuron
                            .checked_sub(r.source_first)
                            .filter(|&s| s < r.source_n)
                        else {
                            continue;
                        };
                        let slot = ((k + r.delay) % ring_len) as usize;
                        let buf = &mut self.ring[slot * n..(slot + 1) * n];
                        let (a, b) = (
                            r.offsets[src as usize] as usize,
                            r.offsets[src as usize + 1] as usize,
                        );
                        for &tgt in &r.targets[a..b] {
                            buf[tgt as usize] += r.weight;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_draws_have_the_poisson_mean_and_variance() {
        let lambda = 2.0;
        let thr = poisson_thresholds(lambda);
        let head: [u64; HEAD] = std::array::from_fn(|j| thr.get(j).copied().unwrap_or(u64::MAX));
        let mut st = mix(7, 0, 0);
        let n = 1_000_000;
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..n {
            let r = next_u64(&mut st);
            let mut c: usize = head.iter().map(|&t| usize::from(r >= t)).sum();
            if c == HEAD {
                while c < thr.len() - 1 && r >= thr[c] {
                    c += 1;
                }
            }
            sum += c as f64;
            sum2 += (c * c) as f64;
        }
        let mean = sum / n as f64;
        let var = sum2 / n as f64 - mean * mean;
        assert!((mean - lambda).abs() < 0.01, "mean {mean}");
        assert!((var - lambda).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let run = |threads| {
            let c = brunel::BrunelConfig {
                scale: 0.1,
                threads,
                sim_ms: 200.0,
                seed: 3,
                ..Default::default()
            };
            let mut net = Network::build(&brunel::spec(&c)).unwrap();
            net.simulate(2000);
            (net.n_synapses, net.spikes)
        };
        let one = run(1);
        assert!(one.1.len() > 1000, "only {} spikes", one.1.len());
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn bad_delays_are_refused_with_their_name() {
        let mut spec = brunel::spec(&brunel::BrunelConfig {
            scale: 0.01,
            ..Default::default()
        });
        spec.projections[2].delay_ms = 0.05;
        let e = Network::build(&spec).err().unwrap().to_string();
        assert!(e.contains("projection 2 delay"), "{e}");
    }
}
