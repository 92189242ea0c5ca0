//! Networks of neuron populations connected by synapses, simulated on a fixed grid with NEST's timing,
//! on several threads with results independent of the thread count.
//!
//! A network is described by a [`NetworkSpec`] (a file or the builder API, see [`spec`]), checked and
//! built by [`Network::build`] (which refuses, with an estimate, a network that would not fit in
//! memory before allocating it), and advanced by [`Network::simulate`].
//!
//! **Timing** (NEST's): time advances in steps of `h`; a neuron that fires in the step from `k h` to
//! `(k + 1) h` emits its spike at `(k + 1) h`, and with a delay of `d` steps the spike arrives in step
//! `k + d` (it moves the target at the end of that step). The smallest delay `m` is the exchange
//! quantum: the network advances `m` steps without exchanging anything, then delivers every spike of
//! those steps into per-target ring buffers (one for excitatory, one for inhibitory input: NEST routes
//! by the sign of the weight) of `m + max delay` slots.
//!
//! **Threads**: each thread owns a contiguous range of neurons, their state, their ring buffers and the
//! synapses that end on them (stored by source: for each source neuron a row of synapses, each the
//! target and the delay packed into as few bytes as they need, plus a weight when weights vary;
//! 3 + 4 bytes per synapse in the full-scale microcircuit). After each quantum every thread reads
//! every thread's spikes in one global order (by step, then neuron id) and delivers those that reach
//! its own neurons. Each target
//! therefore sums its inputs in the same order whatever the number of threads, and every random stream
//! belongs to one neuron: a run gives bit-identical results on 1 or 2 threads (which NEST does not
//! promise). The first thread's work runs on the thread calling [`Network::simulate`], the others on
//! threads started by the first call and kept for the next ones; threads that wait (for the others
//! at the exchange, or for the next call) spin for a moment before they sleep (less when waits are
//! long, as when other work shares the cores), so that a network stepped in short calls (the brain
//! engine's sync steps) runs about as fast as in one long call.
//!
//! **Devices**: `poisson_generator` (an independent train per target neuron), `dc_generator`,
//! `spike_generator`, `spike_recorder`, `multimeter`, and spikes injected from outside between calls
//! to `simulate` ([`Network::inject`], used by the brain engine's input ports).
//!
//! **Plasticity** (`stdp_synapse`, `stdp_dopamine_synapse` with volume transmitters, see
//! [`crate::plasticity`]) can be switched off at run time ([`Network::set_plasticity`]): the plastic
//! synapses then transmit fixed weights, e.g. learned ones restored from a checkpoint.
//!
//! ```
//! use neuroloop_brain::network::{BuildOptions, Network, NetworkSpec, spec::{Connect, SynapseSpec}};
//!
//! let mut spec = NetworkSpec::default();
//! spec.population("E", "iaf_psc_exp", 100, serde_json::json!({"I_e": 380.0}))
//!     .population("I", "iaf_psc_exp", 25, serde_json::json!({}))
//!     .connect("E", "I", Connect::fixed_indegree(10), SynapseSpec::fixed(50.0, 1.0))
//!     .connect("I", "E", Connect::pairwise_bernoulli(0.2), SynapseSpec::fixed(-100.0, 1.0))
//!     .record_spikes("E");
//! let mut net = Network::build(&spec, &BuildOptions::default()).unwrap();
//! net.simulate(1000); // 100 ms
//! assert!(!net.spikes.is_empty());
//! ```

mod barrier;
pub mod brunel;
pub(crate) mod connect;
pub mod microcircuit;
pub mod spec;

use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

pub use spec::NetworkSpec;

use crate::neurons::{self, Neurons};
use crate::plasticity::{stdp_dopamine_synapse, stdp_synapse, DopamineSignal, PostArchive};
use barrier::Barrier;
use connect::{const_delay_steps, Job};
use spec::{Dist, SynapseModel};

/// How to build a network: what is not part of its description.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Seed of every random stream (connections, initial values, Poisson trains).
    pub seed: u64,
    /// Number of threads (default 2; results do not depend on it).
    pub threads: usize,
    /// Refuse networks whose estimated memory exceeds this many bytes (default: the memory the system
    /// reports as available, or no limit where it reports none).
    pub memory_limit_bytes: Option<u64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            seed: 1,
            threads: 2,
            memory_limit_bytes: available_memory_bytes(),
        }
    }
}

pub use neuroloop_core::engine::available_memory_bytes;

/// A network that cannot be built. The text names the key path in the description.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// Something in the description is wrong; the text names it.
    #[error("{0}")]
    Invalid(String),
    /// The network would not fit in memory; nothing was allocated.
    #[error(
        "the network needs about {:.2} GB ({synapses} synapses, {neurons} neurons) but only {:.2} GB may be used",
        *needed_bytes as f64 / 1e9,
        *limit_bytes as f64 / 1e9
    )]
    TooLarge {
        /// Estimated bytes.
        needed_bytes: u64,
        /// The limit.
        limit_bytes: u64,
        /// Expected number of synapses.
        synapses: u64,
        /// Number of neurons.
        neurons: u64,
    },
}

/// One spike: the step in which it was emitted (it occurs at the step's end) and the neuron id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Spike {
    /// Step index `k`: the spike time is `(k + 1) h`.
    pub step: u64,
    /// Global neuron id.
    pub neuron: u32,
}

/// What a multimeter recorded, as NEST's `events` dictionary: one entry per sample and neuron.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MultimeterData {
    /// Recorded population.
    pub population: String,
    /// Names of the recorded variables (the multimeter's `record_from`).
    pub record_from: Vec<String>,
    /// Sample times in ms (the state after the step ending there).
    pub times_ms: Vec<f64>,
    /// Global neuron ids.
    pub senders: Vec<u32>,
    /// One vector per recorded variable, parallel to `times_ms`.
    pub values: Vec<Vec<f64>>,
}

/// An estimate of a network's size, from its description alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Neurons.
    pub neurons: u64,
    /// Expected synapses.
    pub synapses: u64,
    /// Estimated peak bytes while building and simulating.
    pub bytes: u64,
}

/// The neurons of one population that belong to one thread.
struct Segment {
    population: usize,
    /// First global id.
    first: u32,
    /// Offset of the first neuron in the thread's local numbering.
    local: usize,
    neurons: Box<dyn Neurons>,
}

/// The weights of a projection's synapses: one for all, or one per synapse.
///
/// Drawn weights of static synapses are kept as `f32` (4 bytes instead of 8, see [`Rows`]): each is
/// the `f64` draw rounded to the nearest `f32`, a relative error of at most 2^-24 (6e-8) per weight,
/// far below the spread of any drawn weight (the microcircuit's: 10 %); the sums into the neurons'
/// inputs stay `f64` as NEST's. Constant weights and plastic weights (in the synapses' states) are
/// exact `f64`.
enum Weights {
    Const(f64),
    Each(Vec<f32>),
}

/// Which input a projection's spikes go to.
#[derive(Clone, Copy, PartialEq)]
enum Receptor {
    Ex,
    In,
    /// Mixed signs: by each synapse's weight.
    BySign,
}

/// Synapses of one projection that end on one thread's neurons, by source: row `s` (source index
/// within the source population) holds its synapses `offsets[s]..offsets[s + 1]`.
///
/// Each synapse is a word of `width` bytes (little-endian, see [`Packed`]): the local index of its
/// target in the high bits and its delay in steps in the low `delay_bits` (as many as the
/// projection's longest delay on this thread needs), plus, for drawn weights, an `f32` weight (see
/// [`Weights`]). The full-scale microcircuit on 2 threads (38,585 neurons per thread, delays up to
/// about 70 steps) takes 3 + 4 = 7 bytes per synapse; it took 14 with a `u32` target, an `f64`
/// weight and a `u16` delay.
struct Rows {
    offsets: Vec<u32>,
    synapses: Packed,
    delay_bits: u32,
    /// The delay of every synapse, if they all have the same.
    const_delay: Option<u64>,
    weights: Weights,
    receptor: Receptor,
    /// First global id of the source population.
    source_first: u32,
    source_n: u32,
    /// The synapses' plastic state, parallel to `synapses` (plastic projections only).
    plastic: Option<PlasticRows>,
}

/// Words of `width` bytes (1 to 4), little-endian, one after the other.
struct Packed {
    bytes: Vec<u8>,
    width: usize,
}

impl Packed {
    /// Room for `n` words of `width` bytes, all 0.
    fn zeros(n: usize, width: usize) -> Packed {
        Packed {
            bytes: vec![0; n * width],
            width,
        }
    }

    fn len(&self) -> usize {
        self.bytes.len() / self.width
    }

    /// Word `i`.
    #[inline]
    fn get(&self, i: usize) -> u32 {
        let w = self.width;
        let mut x = [0u8; 4];
        x[..w].copy_from_slice(&self.bytes[i * w..(i + 1) * w]);
        u32::from_le_bytes(x)
    }

    /// Sets word `i` (`value` must fit `width` bytes).
    fn set(&mut self, i: usize, value: u32) {
        let w = self.width;
        self.bytes[i * w..(i + 1) * w].copy_from_slice(&value.to_le_bytes()[..w]);
    }

    /// Words `a..b`, for a width of `B` bytes (the loops that read every word of a row are compiled
    /// for each width).
    #[inline(always)]
    fn words<const B: usize>(&self, a: usize, b: usize) -> impl Iterator<Item = u32> + '_ {
        self.bytes[a * B..b * B].as_chunks::<B>().0.iter().map(|c| {
            let mut x = [0u8; 4];
            x[..B].copy_from_slice(c);
            u32::from_le_bytes(x)
        })
    }
}

/// Per-synapse state of a plastic projection (NEST's connection objects), parallel to `targets`.
enum PlasticRows {
    Stdp {
        params: stdp_synapse::Params,
        states: Vec<stdp_synapse::State>,
    },
    Dopamine {
        rule: Arc<stdp_dopamine_synapse::Rule>,
        /// What the synapses of each source share (Kplus, n, times), by source index.
        rows: Vec<stdp_dopamine_synapse::Row>,
        states: Vec<stdp_dopamine_synapse::State>,
        /// Index of the volume transmitter.
        vt: usize,
    },
}

impl Rows {
    /// The local target index of synapse `i`.
    #[inline]
    fn target(&self, i: usize) -> usize {
        (self.synapses.get(i) >> self.delay_bits) as usize
    }

    /// The delay of synapse `i` in steps.
    #[inline]
    fn delay(&self, i: usize) -> u64 {
        u64::from(self.synapses.get(i) & ((1 << self.delay_bits) - 1))
    }

    /// The delay of synapse `i` in ms (NEST: tics times 0.001).
    #[inline]
    fn delay_ms(&self, i: usize, h_tics: u64) -> f64 {
        (self.delay(i) * h_tics) as f64 * 0.001
    }

    /// Carries every synapse of a `stdp_dopamine_synapse` projection to `signal`'s last delivery
    /// (a no-op for other projections).
    fn carry_dopamine(&mut self, archives: &[PostArchive], signal: &DopamineSignal) {
        let Some(PlasticRows::Dopamine {
            rule, rows, states, ..
        }) = &mut self.plastic
        else {
            return;
        };
        for (s, row) in rows.iter_mut().enumerate() {
            let Some(u) = stdp_dopamine_synapse::carry_row(rule, row, signal) else {
                continue;
            };
            let (a, b) = (self.offsets[s] as usize, self.offsets[s + 1] as usize);
            for (i, state) in (a..b).zip(&mut states[a..b]) {
                let word = self.synapses.get(i);
                let post = &archives[(word >> self.delay_bits) as usize];
                let delay = u64::from(word & ((1 << self.delay_bits) - 1));
                u.carry(state, delay, post);
            }
        }
    }
}

/// A Poisson drive on one thread: a table of its count distribution and its local target range.
struct Drive {
    /// Local target runs `[lo, hi)`.
    runs: Vec<(usize, usize)>,
    table: PoissonTable,
    /// The input of `c` spikes, `c * weight`, for each count `c` the table draws. For `c = 0` it is
    /// +0 or -0 (the weight's sign), which leaves a ring's sum as it is: the excitatory ring never
    /// holds -0 (its sums start at +0 and add weights >= 0), and adding -0 changes nothing.
    by_count: Vec<f64>,
    weight: f64,
    delay: u64,
}

/// Poisson counts drawn by inversion of uniform 64-bit integers, with a guide table (Chen & Asau
/// 1974, "On generating random variates from an empirical distribution"): exact to the 2^-64
/// resolution of the thresholds, and one table lookup and one comparison for most draws.
struct PoissonTable {
    /// `thresholds[c]` = P(count <= c) scaled to 2^64 (the last one is u64::MAX): the count drawn
    /// from `r` is the number of thresholds `<= r`, the last one left out.
    thresholds: Vec<u64>,
    /// `guide[j]`: the count drawn from `j << 56`, the smallest count of any `r` with top byte `j`.
    guide: [u16; 256],
}

impl PoissonTable {
    fn new(lambda: f64) -> PoissonTable {
        let thresholds = poisson_thresholds(lambda);
        let last = thresholds.len() - 1;
        let guide = std::array::from_fn(|j| {
            let r = (j as u64) << 56;
            thresholds[..last].partition_point(|&t| t <= r) as u16
        });
        PoissonTable { thresholds, guide }
    }

    /// The count drawn from the uniform 64-bit integer `r`.
    #[inline(always)]
    fn count(&self, r: u64) -> usize {
        let last = self.thresholds.len() - 1;
        // Where `r`'s top byte starts; the search goes on past a threshold only in the few top
        // bytes a threshold falls in (its branch is then rarely mispredicted).
        let mut c = usize::from(self.guide[(r >> 56) as usize]);
        while c < last && r >= self.thresholds[c] {
            c += 1;
        }
        c
    }
}

/// A current into a local range during steps `[start, stop)`.
struct Current {
    /// Local target runs `[lo, hi)`.
    runs: Vec<(usize, usize)>,
    amplitude: f64,
    start: u64,
    stop: u64,
}

/// Given spikes into a local range: (arrival step, weight), sorted by step, and the next one due.
struct Train {
    /// Local target runs `[lo, hi)`.
    runs: Vec<(usize, usize)>,
    arrivals: Vec<(u64, f64)>,
    next: usize,
}

/// A multimeter's share on one thread.
struct Meter {
    index: usize,
    /// Local neuron range recorded, and its segment.
    segment: usize,
    seg_lo: usize,
    seg_hi: usize,
    interval: u64,
    record_from: Vec<String>,
    /// (step, global id, values).
    samples: Vec<(u64, u32, Vec<f64>)>,
}

/// Everything one thread owns.
struct Part {
    lo: u32,
    hi: u32,
    segments: Vec<Segment>,
    rows: Vec<Rows>,
    drives: Vec<Drive>,
    currents: Vec<Current>,
    trains: Vec<Train>,
    meters: Vec<Meter>,
    /// Ring buffers: `ring_x[slot * n_local + i]`, summed spike input of local neuron `i`.
    ring_ex: Vec<f64>,
    ring_in: Vec<f64>,
    /// Input current of this step, per local neuron (only when there are currents).
    i_stim: Vec<f64>,
    /// Per-neuron random streams (SplitMix64 states) of the Poisson drives.
    rng: Vec<u64>,
    spiked: Vec<u32>,
    /// Spike archives of the local neurons (NEST's `ArchivingNode`), when plastic synapses exist.
    archives: Vec<PostArchive>,
    /// NEST tics per step (spike times for plasticity are computed from tics, as NEST does).
    h_tics: u64,
    /// The smallest delay in ms (for the archives' pruning).
    min_delay_ms: f64,
    /// Whether the plastic synapses learn (see [`Network::set_plasticity`]).
    plasticity: bool,
    /// This thread's copy of each volume transmitter's signal (see [`VtState`]).
    vts: Vec<VtState>,
}

/// A volume transmitter's sources (NEST's `volume_transmitter`; its signal is in [`VtState`]).
struct VolumeTransmitter {
    /// Global id runs of its dopaminergic neurons (empty: none).
    source: Vec<(u32, u32)>,
    delay: u64,
}

/// A volume transmitter's dopamine signal and the dopamine on its way to it. Every thread keeps its
/// own copy and feeds it the same arrivals in the same order (the dopaminergic spikes of a slice
/// are in every thread's exchanged lists, rewards are given to all copies), so the copies stay
/// equal and a thread needs no other thread to read its signal or to forget what its synapses
/// have read.
#[derive(Clone, Serialize, Deserialize)]
struct VtState {
    signal: DopamineSignal,
    /// (arrival step, multiplicity), in arrival order.
    pending: std::collections::VecDeque<(u64, f64)>,
}

/// Spike time in ms of the end of step `k` (NEST: tics times 0.001).
#[inline]
fn end_ms(k: u64, h_tics: u64) -> f64 {
    ((k + 1) * h_tics) as f64 * 0.001
}

/// What the threads of a [`Network::simulate`] call share: the spike lists of the exchange, the
/// volume transmitters' sources, the workers' tasks and the barriers.
///
/// Parts 1, 2, ... run on worker threads started by the network's first call (starting threads in
/// every call costs more than a short call simulates); part 0 runs on the calling thread. A call
/// puts each worker's task into its slot and meets the workers at `start`; they take their tasks,
/// run them, put their parts back and meet the calling thread at `barrier`, then wait at `start`
/// for the next call. An empty slot at a call's start ends the worker (the network was dropped).
struct Shared {
    /// Spikes of a slice, one list per thread; slices use the two sets in turn (a thread may write
    /// the next slice's list while others still read this one's).
    exchange: [Vec<RwLock<Vec<Spike>>>; 2],
    /// Volume transmitters (NEST's `volume_transmitter`), in the order of the description (their
    /// signals: each part's [`VtState`]s).
    vts: Vec<VolumeTransmitter>,
    /// Where the workers wait for a call (apart from `barrier`: the time between calls is no guide
    /// to how long its threads wait for each other, see [`barrier`]).
    start: Barrier,
    /// Every thread of a call waits here at each slice's exchange and at
    /// the call's end.
    barrier: Barrier,
    /// Part `t`'s task at index `t - 1`, and its part when done.
    tasks: Vec<Mutex<Option<Task>>>,
}

/// A part's work in one [`Network::simulate`] call: steps `[start, start + steps)`, with the
/// network's min delay `m` and ring length.
struct Task {
    part: Part,
    start: u64,
    steps: u64,
    m: u64,
    ring_len: u64,
}

/// A built network, ready to simulate.
pub struct Network {
    parts: Vec<Part>,
    /// The exchange and the volume transmitters, shared with the workers.
    shared: Arc<Shared>,
    /// The worker threads (from the first [`Network::simulate`] call on).
    workers: Option<Workers>,
    ring_len: u64,
    min_delay: u64,
    step: u64,
    /// Recorded spikes (of the populations with a `spike_recorder`), in global order, since the
    /// last [`Network::take_spikes`].
    pub spikes: Vec<Spike>,
    /// Number of neurons.
    pub n_neurons: usize,
    /// Number of synapses.
    pub n_synapses: u64,
    /// Resolution in ms.
    pub h_ms: f64,
    /// Population boundaries: `[first, first + n)` per population.
    pub population_ranges: Vec<(u32, u32)>,
    /// Population names, in order.
    pub population_names: Vec<String>,
    /// Per population: its groups' names and local neuron indices (in each group's order).
    groups: Vec<Vec<(String, Vec<u32>)>>,
    /// Whether each population's spikes are recorded (switched by [`Network::record_spikes`]).
    recorded: Vec<bool>,
    /// Neurons recorded by the description's `spike_recorders`, as sorted global runs.
    recorded_groups: Vec<(u32, u32)>,
    /// Multimeter results so far.
    multimeters: Vec<MultimeterData>,
    /// Identifies the description, seed and thread count a checkpoint must come from.
    fingerprint: u64,
    /// The volume transmitters' names.
    vt_names: Vec<String>,
    /// Whether the plastic synapses learn (see [`Network::set_plasticity`]; each part has a copy).
    plasticity: bool,
}

/// The whole state of a network, as written by [`Network::save_state`].
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    format: String,
    fingerprint: u64,
    step: u64,
    parts: Vec<PartState>,
    /// Per volume transmitter: its signal and the spikes on their way.
    vts: Vec<(DopamineSignal, Vec<(u64, f64)>)>,
}

#[derive(Serialize, Deserialize)]
struct PartState {
    neurons: Vec<Vec<u8>>,
    ring_ex: Vec<f64>,
    ring_in: Vec<f64>,
    rng: Vec<u64>,
    archives: Vec<PostArchive>,
    /// Per projection: the plastic synapses' state (`None` for static projections).
    plastic: Vec<Option<PlasticRowsRef>>,
}

/// The plastic state of one projection on one thread, as saved.
#[derive(Serialize, Deserialize)]
enum PlasticRowsRef {
    Stdp(Vec<stdp_synapse::State>),
    Dopamine(
        Vec<stdp_dopamine_synapse::Row>,
        Vec<stdp_dopamine_synapse::State>,
    ),
}

const CHECKPOINT_FORMAT: &str = "neuroloop-brain-checkpoint-4";

/// FNV-1a over the description (as JSON), the seed and the thread count.
fn fingerprint(spec: &NetworkSpec, seed: u64, threads: usize) -> u64 {
    let text = serde_json::to_string(spec).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text
        .bytes()
        .chain(seed.to_le_bytes())
        .chain((threads as u64).to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
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

/// A seed for stream `(kind, index)` of the run seed.
pub(crate) fn mix(seed: u64, kind: u64, index: u64) -> u64 {
    let mut s = seed ^ kind.wrapping_mul(0xd134_2543_de82_ef95);
    let _ = uniform(&mut s);
    s ^= index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let _ = uniform(&mut s);
    s
}

/// A step count of `ms` (rounded to the grid), for device times.
fn steps_round(ms: f64, h: f64) -> u64 {
    if ms <= 0.0 {
        0
    } else {
        (ms / h).round() as u64
    }
}

/// The neurons a source or target refers to (a population or one of its groups), as global ids:
/// a contiguous range, or a list in the group's order.
#[derive(Clone, Debug, PartialEq)]
pub enum Members {
    /// Global ids `[a, b)`.
    Range(u32, u32),
    /// These global ids, in this order (no repeats).
    List(Vec<u32>),
}

impl Members {
    /// From local indices of the population starting at `first` (a list that is a contiguous
    /// ascending run becomes a range).
    pub fn from_local(first: u32, local: &[u32]) -> Members {
        let contiguous = local.windows(2).all(|w| w[1] == w[0] + 1);
        match (local.first(), contiguous) {
            (Some(&a), true) => Members::Range(first + a, first + a + local.len() as u32),
            _ => Members::List(local.iter().map(|&i| first + i).collect()),
        }
    }

    /// Number of neurons.
    pub fn len(&self) -> u32 {
        match self {
            Members::Range(a, b) => b - a,
            Members::List(v) => v.len() as u32,
        }
    }

    /// Whether there is no neuron.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The global id of member `i`.
    #[inline]
    pub fn id(&self, i: u32) -> u32 {
        match self {
            Members::Range(a, _) => a + i,
            Members::List(v) => v[i as usize],
        }
    }

    /// All global ids, in member order.
    pub fn ids(&self) -> Vec<u32> {
        (0..self.len()).map(|i| self.id(i)).collect()
    }

    /// The smallest id and one past the largest (`(0, 0)` if empty).
    pub fn bounds(&self) -> (u32, u32) {
        match self {
            Members::Range(a, b) => (*a, *b),
            Members::List(v) => (
                v.iter().copied().min().unwrap_or(0),
                v.iter().copied().max().map_or(0, |m| m + 1),
            ),
        }
    }

    /// The ids as sorted contiguous runs `[a, b)`.
    pub fn runs(&self) -> Vec<(u32, u32)> {
        match self {
            Members::Range(a, b) => vec![(*a, *b)],
            Members::List(v) => runs_of(v.clone()),
        }
    }

    /// Whether the two share a neuron.
    fn overlaps(&self, other: &Members) -> bool {
        let theirs = other.runs();
        self.runs()
            .iter()
            .any(|&(a, b)| theirs.iter().any(|&(c, d)| a.max(c) < b.min(d)))
    }
}

/// Sorted contiguous runs `[a, b)` of a set of ids.
fn runs_of(mut ids: Vec<u32>) -> Vec<(u32, u32)> {
    ids.sort_unstable();
    ids.dedup();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for i in ids {
        match runs.last_mut() {
            Some(r) if r.1 == i => r.1 += 1,
            _ => runs.push((i, i + 1)),
        }
    }
    runs
}

/// Sorted, merged union of runs `[a, b)`.
fn merge_runs(mut runs: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    runs.retain(|r| r.0 < r.1);
    runs.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (a, b) in runs {
        match out.last_mut() {
            Some(r) if a <= r.1 => r.1 = r.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The parts of global runs that fall in `[lo, hi)`, as local runs (offsets from `lo`).
fn local_runs(runs: &[(u32, u32)], lo: u32, hi: u32) -> Vec<(usize, usize)> {
    runs.iter()
        .filter_map(|&(a, b)| {
            let (a, b) = (a.max(lo), b.min(hi));
            (a < b).then(|| ((a - lo) as usize, (b - lo) as usize))
        })
        .collect()
}

/// Everything checked before any allocation: indices, delays, rules.
struct Checked {
    h: f64,
    /// Per projection: the plastic synapse model's parameters, if any.
    plastic: Vec<Option<PlasticParams>>,
    /// Per volume transmitter: its dopaminergic neurons, if any.
    vt_sources: Vec<Option<Members>>,
    ranges: Vec<(u32, u32)>,
    /// Per population: its groups' names and local indices.
    groups: Vec<Vec<(String, Vec<u32>)>>,
    /// Per projection: (source population, source members, target population, target members).
    ends: Vec<(usize, Members, usize, Members)>,
    /// Targets of the Poisson, spike and dc generators, in that order and the description's.
    device_targets: Vec<Members>,
    /// Per spike recorder: what it records.
    recorder_members: Vec<Members>,
    /// Constant delays (steps) per projection, or the bounds of drawn ones.
    delay_bounds: Vec<(u64, u64)>,
    device_delays: Vec<u64>,
    estimate: Estimate,
}

/// The parameters of a plastic synapse model.
#[derive(Clone, Copy, Debug)]
enum PlasticParams {
    Stdp(stdp_synapse::Params),
    /// With the index of its volume transmitter.
    Dopamine(stdp_dopamine_synapse::Params, usize),
}

/// Reads `synapse.params` for the projection's synapse model (errors name the key).
fn plastic_params(
    spec: &NetworkSpec,
    pr: &spec::ProjectionSpec,
    path: &str,
) -> Result<Option<PlasticParams>, NetworkError> {
    let syn = &pr.synapse;
    let read = |what: &str| -> Result<serde_json::Value, NetworkError> {
        if syn.params.is_object() {
            Ok(syn.params.clone())
        } else {
            Err(NetworkError::Invalid(format!(
                "{path}.synapse.params: must be a table of {what} parameters"
            )))
        }
    };
    let de_err = |e: serde_path_to_error::Error<serde_json::Error>| {
        NetworkError::Invalid(format!("{path}.synapse.params.{}: {}", e.path(), e.inner()))
    };
    let param_err =
        |e: crate::ParamError| NetworkError::Invalid(format!("{path}.synapse.params: {e}"));
    match syn.synapse_model {
        SynapseModel::StaticSynapse => {
            if syn.params.as_object().is_some_and(|m| !m.is_empty()) {
                return Err(NetworkError::Invalid(format!(
                    "{path}.synapse.params: static_synapse has no parameters"
                )));
            }
            if syn.volume_transmitter.is_some() {
                return Err(NetworkError::Invalid(format!(
                    "{path}.synapse.volume_transmitter: only for stdp_dopamine_synapse"
                )));
            }
            Ok(None)
        }
        SynapseModel::StdpSynapse => {
            let p: stdp_synapse::Params =
                serde_path_to_error::deserialize(read("stdp_synapse")?).map_err(de_err)?;
            p.validate().map_err(param_err)?;
            stdp_synapse::State::new(syn.weight.rough_mean(), &p)
                .map_err(|e| NetworkError::Invalid(format!("{path}.synapse.weight: {e}")))?;
            Ok(Some(PlasticParams::Stdp(p)))
        }
        SynapseModel::StdpDopamineSynapse => {
            let p: stdp_dopamine_synapse::Params =
                serde_path_to_error::deserialize(read("stdp_dopamine_synapse")?).map_err(de_err)?;
            p.validate().map_err(param_err)?;
            let Some(name) = &syn.volume_transmitter else {
                return Err(NetworkError::Invalid(format!(
                    "{path}.synapse.volume_transmitter: stdp_dopamine_synapse needs one"
                )));
            };
            let vt = spec
                .volume_transmitters
                .iter()
                .position(|v| &v.name == name)
                .ok_or_else(|| {
                    NetworkError::Invalid(format!(
                        "{path}.synapse.volume_transmitter: no volume transmitter \"{name}\""
                    ))
                })?;
            Ok(Some(PlasticParams::Dopamine(p, vt)))
        }
    }
}

fn check(spec: &NetworkSpec, threads: usize) -> Result<Checked, NetworkError> {
    let bad = |path: String, why: String| NetworkError::Invalid(format!("{path}: {why}"));
    let h = spec.resolution_ms;
    if !(h.is_finite() && h > 0.0) {
        return Err(bad("resolution_ms".into(), format!("{h} must be > 0")));
    }
    crate::grid::resolution_tics(h).map_err(|e| bad("resolution_ms".into(), e.to_string()))?;
    let mut ranges = Vec::new();
    let mut next = 0u32;
    for (i, p) in spec.populations.iter().enumerate() {
        if spec.populations[..i].iter().any(|q| q.name == p.name) {
            return Err(bad(
                format!("populations[{i}].name"),
                format!("\"{}\" is used twice", p.name),
            ));
        }
        if !neurons::MODELS.contains(&p.model.as_str()) {
            return Err(bad(
                format!("populations[{i}].model"),
                format!(
                    "unknown model \"{}\" (known: {})",
                    p.model,
                    neurons::MODELS.join(", ")
                ),
            ));
        }
        // Parameters are checked on a one-neuron population (cheap, allocates nothing big).
        neurons::create(&p.model, &p.params, 1, h)
            .map_err(|e| bad(format!("populations[{i}]"), e))?;
        if let Some(v) = &p.v_m {
            v.validate()
                .map_err(|e| bad(format!("populations[{i}].V_m"), e))?;
        }
        let n = u32::try_from(p.n)
            .ok()
            .and_then(|n| next.checked_add(n).map(|end| (n, end)));
        let Some((_, end)) = n else {
            return Err(bad(
                format!("populations[{i}].n"),
                "more than 2^32 neurons in all".into(),
            ));
        };
        ranges.push((next, end));
        next = end;
    }
    let mut groups = Vec::new();
    for (i, p) in spec.populations.iter().enumerate() {
        groups.push(
            p.resolve_groups(&format!("populations[{i}]"))
                .map_err(|e| bad(e.path, e.message))?,
        );
    }
    // A population (index) or group: its members.
    let sel = |name: &str, path: String| -> Result<(usize, Members), NetworkError> {
        let (p, g) = spec.find(name).map_err(|e| bad(path, e))?;
        let (a, b) = ranges[p];
        Ok((
            p,
            match g {
                None => Members::Range(a, b),
                Some(g) => Members::from_local(a, &groups[p][g].1),
            },
        ))
    };
    let find = |name: &str, path: String| {
        spec.population_index(name).ok_or_else(|| {
            bad(
                path,
                format!(
                    "no population \"{name}\" (populations: {})",
                    spec.populations
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    };
    let mut ends = Vec::new();
    let mut plastic = Vec::new();
    let mut delay_bounds = Vec::new();
    let mut synapses = 0f64;
    // Bytes of the synapses built so far, and the most at any time while building (below).
    let mut synapse_bytes = 0f64;
    let mut build_peak = 0f64;
    // Target index bits of a synapse word: the largest thread's neurons (see `into_rows`).
    let n_local_max = u64::from(next).div_ceil(threads as u64);
    let target_bits = u64::BITS - n_local_max.saturating_sub(1).leading_zeros();
    for (i, pr) in spec.projections.iter().enumerate() {
        let path = format!("projections[{i}]");
        let (s, src) = sel(&pr.source, format!("{path}.source"))?;
        let (t, tgt) = sel(&pr.target, format!("{path}.target"))?;
        let (ns, nt) = (u64::from(src.len()), u64::from(tgt.len()));
        connect::check(&pr.connect, ns, nt, s == t && src.overlaps(&tgt))
            .map_err(|e| bad(format!("{path}.connect"), e))?;
        plastic.push(plastic_params(spec, pr, &path)?);
        if plastic[i].is_some() {
            if !pr.synapse.weight.is_const() {
                // Each State starts from its own weight: drawn weights are fine, but keep their sign.
                let (lo, hi) = pr.synapse.weight.bounds();
                if lo < 0.0 && hi > 0.0 {
                    return Err(bad(
                        format!("{path}.synapse.weight"),
                        "plastic weights must keep one sign (that of Wmax)".into(),
                    ));
                }
            }
            let tm = spec.populations[t].tau_minus.unwrap_or(20.0);
            PostArchive::new(tm)
                .map_err(|e| bad(format!("populations[{t}].tau_minus"), e.to_string()))?;
        }
        pr.synapse
            .weight
            .validate()
            .map_err(|e| bad(format!("{path}.synapse.weight"), e))?;
        let delay = pr.synapse.delay.unwrap_or(Dist::Const(h));
        delay
            .validate()
            .map_err(|e| bad(format!("{path}.synapse.delay"), e))?;
        let count = connect::expected_count(&pr.connect, ns, nt);
        delay_bounds.push(match delay {
            Dist::Const(ms) => {
                let d = u64::from(const_delay_steps(ms, h, &format!("{path}.synapse.delay"))?);
                (d, d)
            }
            other => {
                let (lo, hi) = other.bounds();
                let lo = ((lo / h).round().max(1.0)) as u64;
                // The largest delay the build will draw (it sizes the rings by that): the upper bound,
                // or for a normal distribution without one, the mean plus sqrt(2 ln n) + 1 standard
                // deviations, above the largest of n draws but for rare cases (where the rings come
                // out a little longer than estimated; this is an estimate).
                let hi = match other {
                    _ if hi.is_finite() => hi,
                    Dist::Normal { mean, std, .. } => {
                        mean + std * ((2.0 * count.max(2.0).ln()).sqrt() + 1.0)
                    }
                    _ => f64::INFINITY,
                };
                let hi = if hi.is_finite() {
                    ((hi / h).round() as u64).min(u64::from(u16::MAX))
                } else {
                    u64::from(u16::MAX)
                };
                (lo, hi.max(lo))
            }
        });
        ends.push((s, src, t, tgt));
        synapses += count;
        // A word of target and delay (see `Rows`), and a weight or a plastic state.
        let delay_bits = (u64::BITS - delay_bounds[i].1.leading_zeros()).max(1);
        let width = f64::from((target_bits + delay_bits).div_ceil(8));
        let drawn_w = !pr.synapse.weight.is_const();
        let per = width
            + match plastic[i] {
                None if drawn_w => 4.0,
                None => 0.0,
                Some(PlasticParams::Stdp(_)) => std::mem::size_of::<stdp_synapse::State>() as f64,
                Some(PlasticParams::Dopamine(..)) => {
                    std::mem::size_of::<stdp_dopamine_synapse::State>() as f64
                }
            };
        let rows = 4.0 * (ns as f64 + 1.0) * threads as f64
            + match plastic[i] {
                Some(PlasticParams::Dopamine(..)) => {
                    (std::mem::size_of::<stdp_dopamine_synapse::Row>() * ns as usize * threads)
                        as f64
                }
                _ => 0.0,
            };
        // While a projection is sorted into rows (on all threads at once): the draws (pairs,
        // weights and delays; their vectors' unused capacity is never touched, not resident)
        // and the rows being filled.
        let drawn =
            8.0 + if drawn_w { 8.0 } else { 0.0 } + if delay.is_const() { 0.0 } else { 2.0 };
        build_peak = f64::max(
            build_peak,
            synapse_bytes + count * (drawn + per) + 2.0 * rows,
        );
        synapse_bytes += count * per + rows;
    }
    let mut device_delays = Vec::new();
    let mut device_targets = Vec::new();
    for (i, d) in spec.poisson_generators.iter().enumerate() {
        let path = format!("poisson_generators[{i}]");
        device_targets.push(sel(&d.target, format!("{path}.target"))?.1);
        if !(d.rate.is_finite() && d.rate >= 0.0) {
            return Err(bad(
                format!("{path}.rate"),
                format!("{} must be >= 0 Hz", d.rate),
            ));
        }
        if !d.weight.is_finite() {
            return Err(bad(format!("{path}.weight"), "must be finite".into()));
        }
        device_delays.push(u64::from(const_delay_steps(
            d.delay.unwrap_or(h),
            h,
            &format!("{path}.delay"),
        )?));
    }
    for (i, d) in spec.spike_generators.iter().enumerate() {
        let path = format!("spike_generators[{i}]");
        device_targets.push(sel(&d.target, format!("{path}.target"))?.1);
        let delay = u64::from(const_delay_steps(
            d.delay.unwrap_or(h),
            h,
            &format!("{path}.delay"),
        )?);
        device_delays.push(delay);
        let mut last = 0.0;
        for (j, &t) in d.spike_times.iter().enumerate() {
            let k = (t / h).round();
            if !(t.is_finite() && t > 0.0 && (t / h - k).abs() < 1e-9 * k.max(1.0)) || t < last {
                return Err(bad(
                    format!("{path}.spike_times[{j}]"),
                    format!(
                        "{t} ms must be > 0, on the {h} ms grid and not before the previous time"
                    ),
                ));
            }
            last = t;
        }
    }
    for (i, d) in spec.dc_generators.iter().enumerate() {
        let path = format!("dc_generators[{i}]");
        device_targets.push(sel(&d.target, format!("{path}.target"))?.1);
        if !d.amplitude.is_finite() || !d.start.is_finite() || d.stop.is_some_and(|s| s.is_nan()) {
            return Err(bad(
                path,
                "amplitude, start and stop must be numbers".into(),
            ));
        }
    }
    let mut recorder_members = Vec::new();
    for (i, r) in spec.spike_recorders.iter().enumerate() {
        recorder_members.push(sel(&r.population, format!("spike_recorders[{i}].population"))?.1);
    }
    for (i, m) in spec.multimeters.iter().enumerate() {
        let path = format!("multimeters[{i}]");
        let p = find(&m.population, format!("{path}.population"))?;
        let probe = neurons::create(
            &spec.populations[p].model,
            &spec.populations[p].params,
            1,
            h,
        )
        .map_err(|e| bad(format!("populations[{p}]"), e))?;
        for (j, name) in m.record_from.iter().enumerate() {
            if probe.recordable(name).is_none() {
                return Err(bad(
                    format!("{path}.record_from[{j}]"),
                    format!(
                        "{} has no recordable \"{name}\" (it has: {})",
                        probe.model(),
                        probe.recordables().join(", ")
                    ),
                ));
            }
        }
        const_delay_steps(m.interval, h, &format!("{path}.interval"))?;
    }
    for (i, p) in spec.inputs.iter().enumerate() {
        let path = format!("inputs[{i}]");
        sel(&p.target, format!("{path}.target"))?;
        device_delays.push(u64::from(const_delay_steps(
            p.delay.unwrap_or(h),
            h,
            &format!("{path}.delay"),
        )?));
    }
    for (i, p) in spec.outputs.iter().enumerate() {
        sel(&p.population, format!("outputs[{i}].population"))?;
    }
    let mut vt_sources = Vec::new();
    for (i, vt) in spec.volume_transmitters.iter().enumerate() {
        let path = format!("volume_transmitters[{i}]");
        if spec.volume_transmitters[..i]
            .iter()
            .any(|v| v.name == vt.name)
        {
            return Err(bad(
                format!("{path}.name"),
                format!("\"{}\" is used twice", vt.name),
            ));
        }
        if vt.deliver_interval == 0 {
            return Err(bad(
                format!("{path}.deliver_interval"),
                "must be >= 1".into(),
            ));
        }
        if vt.population.is_none() && vt.reward_port.is_none() {
            return Err(bad(
                path,
                "give a dopaminergic `population`, a `reward_port`, or both".into(),
            ));
        }
        let source = match &vt.population {
            Some(p) => Some(sel(p, format!("{path}.population"))?.1),
            None => None,
        };
        vt_sources.push(source);
        device_delays.push(u64::from(const_delay_steps(
            vt.delay.unwrap_or(h),
            h,
            &format!("{path}.delay"),
        )?));
    }
    let neurons = u64::from(next);
    let max_delay = delay_bounds
        .iter()
        .map(|b| b.1)
        .chain(device_delays.iter().copied())
        .max()
        .unwrap_or(1);
    // State (~8 variables of 8 bytes), two rings, a random stream, per neuron; the rings come
    // after the synapses are built.
    let neuron_bytes = neurons as f64 * (64.0 + 16.0 * (max_delay as f64 + 1.0) + 8.0);
    let bytes = f64::max(build_peak, synapse_bytes + neuron_bytes);
    Ok(Checked {
        h,
        plastic,
        vt_sources,
        ranges,
        groups,
        ends,
        device_targets,
        recorder_members,
        delay_bounds,
        device_delays,
        estimate: Estimate {
            neurons,
            synapses: synapses as u64,
            bytes: bytes as u64,
        },
    })
}

impl Network {
    /// The size estimate of `spec` (neurons, expected synapses, peak bytes), after checking it.
    pub fn estimate(spec: &NetworkSpec, threads: usize) -> Result<Estimate, NetworkError> {
        Ok(check(spec, threads.max(1))?.estimate)
    }

    /// Checks the description, refuses it if it would not fit in memory, then draws every connection
    /// (on all threads at once) and sets every neuron to its initial state.
    pub fn build(spec: &NetworkSpec, opts: &BuildOptions) -> Result<Network, NetworkError> {
        let threads = opts.threads.max(1);
        let c = check(spec, threads)?;
        if let Some(limit) = opts.memory_limit_bytes {
            if c.estimate.bytes > limit {
                return Err(NetworkError::TooLarge {
                    needed_bytes: c.estimate.bytes,
                    limit_bytes: limit,
                    synapses: c.estimate.synapses,
                    neurons: c.estimate.neurons,
                });
            }
        }
        let n_total = c.estimate.neurons as u32;
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
                    let c = &c;
                    s.spawn(move || build_part(spec, opts.seed, c, lo, hi))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("build thread panicked"))
                .collect()
        });
        let mut parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
        // The rings: min delay + max delay slots (the max over what was actually drawn).
        let drawn_max = parts
            .iter()
            .flat_map(|p| &p.rows)
            .map(|r| {
                r.const_delay
                    .unwrap_or_else(|| (0..r.synapses.len()).map(|i| r.delay(i)).max().unwrap_or(1))
            })
            .chain(c.device_delays.iter().copied())
            .max()
            .unwrap_or(1);
        let min_delay = c
            .delay_bounds
            .iter()
            .map(|b| b.0)
            .chain(c.device_delays.iter().copied())
            .min()
            .unwrap_or(1)
            .max(1);
        let ring_len = min_delay + drawn_max.max(min_delay);
        for p in &mut parts {
            let n = (p.hi - p.lo) as usize;
            p.ring_ex = vec![0.0; ring_len as usize * n];
            p.ring_in = vec![0.0; ring_len as usize * n];
            p.min_delay_ms = (min_delay * p.h_tics) as f64 * 0.001;
        }
        // Device delays come in description order; the volume transmitters' are the last ones.
        let vt_delays = &c.device_delays[c.device_delays.len() - spec.volume_transmitters.len()..];
        let mut vts = Vec::new();
        let mut vt_states = Vec::new();
        for ((v, source), &delay) in spec
            .volume_transmitters
            .iter()
            .zip(&c.vt_sources)
            .zip(vt_delays)
        {
            vts.push(VolumeTransmitter {
                source: source.as_ref().map(Members::runs).unwrap_or_default(),
                delay,
            });
            vt_states.push(VtState {
                signal: DopamineSignal::new(u64::from(v.deliver_interval))
                    .map_err(|e| NetworkError::Invalid(e.to_string()))?,
                pending: Default::default(),
            });
        }
        for p in &mut parts {
            p.vts = vt_states.clone();
        }
        let n_synapses = parts
            .iter()
            .flat_map(|p| &p.rows)
            .map(|r| r.synapses.len() as u64)
            .sum();
        let recorded = vec![false; spec.populations.len()];
        let recorded_groups =
            merge_runs(c.recorder_members.iter().flat_map(Members::runs).collect());
        Ok(Network {
            shared: Arc::new(Shared {
                exchange: [0, 1]
                    .map(|_| (0..parts.len()).map(|_| RwLock::new(Vec::new())).collect()),
                vts,
                start: Barrier::new(parts.len()),
                barrier: Barrier::new(parts.len()),
                tasks: (1..parts.len()).map(|_| Mutex::new(None)).collect(),
            }),
            workers: None,
            parts,
            ring_len,
            min_delay,
            step: 0,
            spikes: Vec::new(),
            n_neurons: n_total as usize,
            n_synapses,
            h_ms: c.h,
            population_ranges: c.ranges,
            population_names: spec.populations.iter().map(|p| p.name.clone()).collect(),
            groups: c.groups.clone(),
            recorded,
            recorded_groups,
            multimeters: spec
                .multimeters
                .iter()
                .map(|m| MultimeterData {
                    population: m.population.clone(),
                    record_from: m.record_from.clone(),
                    ..Default::default()
                })
                .collect(),
            fingerprint: fingerprint(spec, opts.seed, threads),
            vt_names: spec
                .volume_transmitters
                .iter()
                .map(|v| v.name.clone())
                .collect(),
            plasticity: true,
        })
    }

    /// The whole dynamic state (neurons, spikes in flight, random streams, time) as bytes, to be
    /// restored with [`Network::load_state`] into a network built from the same description, seed and
    /// thread count. Recordings are not part of it.
    pub fn save_state(&self) -> Vec<u8> {
        let c = Checkpoint {
            format: CHECKPOINT_FORMAT.into(),
            fingerprint: self.fingerprint,
            step: self.step,
            parts: self
                .parts
                .iter()
                .map(|p| PartState {
                    neurons: p.segments.iter().map(|s| s.neurons.save()).collect(),
                    ring_ex: p.ring_ex.clone(),
                    ring_in: p.ring_in.clone(),
                    rng: p.rng.clone(),
                    archives: p.archives.clone(),
                    plastic: p
                        .rows
                        .iter()
                        .map(|r| match &r.plastic {
                            None => None,
                            Some(PlasticRows::Stdp { states, .. }) => {
                                Some(PlasticRowsRef::Stdp(states.clone()))
                            }
                            Some(PlasticRows::Dopamine { rows, states, .. }) => {
                                Some(PlasticRowsRef::Dopamine(rows.clone(), states.clone()))
                            }
                        })
                        .collect(),
                })
                .collect(),
            // Every thread's copy is the same: part 0's.
            vts: self.parts[0]
                .vts
                .iter()
                .map(|v| (v.signal.clone(), v.pending.iter().copied().collect()))
                .collect(),
        };
        postcard::to_allocvec(&c).unwrap_or_default()
    }

    /// Restores a state written by [`Network::save_state`]; refuses one from another description,
    /// seed or thread count (and then leaves the network unchanged).
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let c: Checkpoint = postcard::from_bytes(bytes)
            .map_err(|e| format!("not a neuroloop brain checkpoint ({e})"))?;
        if c.format != CHECKPOINT_FORMAT {
            return Err(format!(
                "checkpoint format {:?} is not {CHECKPOINT_FORMAT:?}",
                c.format
            ));
        }
        if c.fingerprint != self.fingerprint {
            return Err(
                "the checkpoint comes from another network description, seed or thread count"
                    .into(),
            );
        }
        let fits = c.parts.len() == self.parts.len()
            && c.vts.len() == self.shared.vts.len()
            && c.parts.iter().zip(&self.parts).all(|(s, p)| {
                s.neurons.len() == p.segments.len()
                    && s.ring_ex.len() == p.ring_ex.len()
                    && s.ring_in.len() == p.ring_in.len()
                    && s.rng.len() == p.rng.len()
                    && s.archives.len() == p.archives.len()
                    && s.plastic.len() == p.rows.len()
                    && s.plastic
                        .iter()
                        .zip(&p.rows)
                        .all(|(a, r)| match (a, &r.plastic) {
                            (None, None) => true,
                            (
                                Some(PlasticRowsRef::Stdp(v)),
                                Some(PlasticRows::Stdp { states, .. }),
                            ) => v.len() == states.len(),
                            (
                                Some(PlasticRowsRef::Dopamine(w, v)),
                                Some(PlasticRows::Dopamine { rows, states, .. }),
                            ) => w.len() == rows.len() && v.len() == states.len(),
                            _ => false,
                        })
            });
        if !fits {
            return Err("the checkpoint's sizes do not fit this network".into());
        }
        // A segment that refuses its bytes is left unchanged; put back the ones already loaded.
        let backup: Vec<Vec<Vec<u8>>> = self
            .parts
            .iter()
            .map(|p| p.segments.iter().map(|s| s.neurons.save()).collect())
            .collect();
        for pi in 0..self.parts.len() {
            for si in 0..self.parts[pi].segments.len() {
                if let Err(e) = self.parts[pi].segments[si]
                    .neurons
                    .load(&c.parts[pi].neurons[si])
                {
                    for (p, b) in self.parts.iter_mut().zip(&backup) {
                        for (seg, bytes) in p.segments.iter_mut().zip(b) {
                            let _ = seg.neurons.load(bytes);
                        }
                    }
                    return Err(e);
                }
            }
        }
        for (s, p) in c.parts.into_iter().zip(&mut self.parts) {
            p.ring_ex = s.ring_ex;
            p.ring_in = s.ring_in;
            p.rng = s.rng;
            p.archives = s.archives;
            for (saved, r) in s.plastic.into_iter().zip(&mut p.rows) {
                match (saved, &mut r.plastic) {
                    (Some(PlasticRowsRef::Stdp(v)), Some(PlasticRows::Stdp { states, .. })) => {
                        *states = v
                    }
                    (
                        Some(PlasticRowsRef::Dopamine(w, v)),
                        Some(PlasticRows::Dopamine { rows, states, .. }),
                    ) => (*rows, *states) = (w, v),
                    _ => {}
                }
            }
            for tr in &mut p.trains {
                tr.next = tr.arrivals.partition_point(|a| a.0 < c.step);
            }
        }
        let vts: Vec<VtState> = c
            .vts
            .into_iter()
            .map(|(signal, pending)| VtState {
                signal,
                pending: pending.into(),
            })
            .collect();
        for p in &mut self.parts {
            p.vts = vts.clone();
        }
        self.step = c.step;
        if !self.plasticity {
            self.freeze_plastic_state();
        }
        Ok(())
    }

    /// Switches learning on (the default) or off. Off, every plastic synapse (`stdp_synapse`,
    /// `stdp_dopamine_synapse`) transmits its weight unchanged and its state stays as it is; nothing
    /// plastic runs or accumulates: the neurons' spikes are not archived for the rules, the volume
    /// transmitters take no dopamine (dopaminergic spikes and [`Network::add_dopamine`] are
    /// dropped) and make no deliveries. For reloading learned weights from a checkpoint and testing
    /// them without learning.
    ///
    /// Switching off first carries every `stdp_dopamine_synapse` to its volume transmitter's last
    /// delivery (as a sweep does) and drops the dopamine on its way: the weights kept are those
    /// [`Network::weights`] reported just before. [`Network::load_state`] does the same while off,
    /// so a checkpoint keeps the weights it reports whether it is restored before or after switching
    /// off. The switch is not part of the description, the fingerprint or the checkpoint: a
    /// checkpoint written with learning on restores into a network switched off, and the reverse.
    ///
    /// Switching back on resumes the rules from the synapses' and archives' state at the switch-off
    /// (traces decay over the time off, as if no pre, post or dopamine spike had happened then).
    pub fn set_plasticity(&mut self, on: bool) {
        if on == self.plasticity {
            return;
        }
        self.plasticity = on;
        for p in &mut self.parts {
            p.plasticity = on;
        }
        if !on {
            self.freeze_plastic_state();
        }
    }

    /// Whether the plastic synapses learn (see [`Network::set_plasticity`]).
    pub fn plasticity(&self) -> bool {
        self.plasticity
    }

    /// Carries every `stdp_dopamine_synapse` to its signal's last delivery (a sweep without
    /// forgetting: its stored weight becomes the one [`Network::weights`] reports) and drops the
    /// dopamine on its way to the volume transmitters.
    fn freeze_plastic_state(&mut self) {
        for p in &mut self.parts {
            for r in &mut p.rows {
                let Some(PlasticRows::Dopamine { vt, .. }) = &r.plastic else {
                    continue;
                };
                let vt = *vt;
                r.carry_dopamine(&p.archives, &p.vts[vt].signal);
            }
            for v in &mut p.vts {
                v.pending.clear();
            }
        }
    }

    /// The index of the volume transmitter called `name`.
    pub fn volume_transmitter(&self, name: &str) -> Option<usize> {
        self.vt_names.iter().position(|n| n == name)
    }

    /// Adds dopamine of `multiplicity` to volume transmitter `vt`, arriving at the end of step
    /// `arrival` (moved to the next step to simulate if earlier). Returns false if there is no such
    /// volume transmitter or the multiplicity is not a positive number, and while plasticity is off
    /// (the dopamine is dropped, see [`Network::set_plasticity`]).
    pub fn add_dopamine(&mut self, vt: usize, arrival: u64, multiplicity: f64) -> bool {
        if vt >= self.shared.vts.len() {
            return false;
        }
        if !(self.plasticity && multiplicity.is_finite() && multiplicity > 0.0) {
            return false;
        }
        for p in &mut self.parts {
            push_arrival(&mut p.vts[vt].pending, arrival.max(self.step), multiplicity);
        }
        true
    }

    /// The synapses of projection `index` as (source id, target id, weight), for plastic projections
    /// their current weights (`stdp_dopamine_synapse`: as after the last delivery of its volume
    /// transmitter, NEST's value; with plasticity off, the stored weight it transmits); ordered by
    /// thread, then source, then row.
    pub fn weights(&self, index: usize) -> Vec<(u32, u32, f64)> {
        let mut out = Vec::new();
        for p in &self.parts {
            let Some(r) = p.rows.get(index) else {
                return out;
            };
            let signal = match &r.plastic {
                Some(PlasticRows::Dopamine { vt, .. }) => Some(&p.vts[*vt].signal),
                _ => None,
            };
            for s in 0..r.source_n as usize {
                for i in r.offsets[s] as usize..r.offsets[s + 1] as usize {
                    let w = match (&r.plastic, &r.weights) {
                        (Some(PlasticRows::Stdp { states, .. }), _) => states[i].weight,
                        // Off: the stored weight, the one transmitted (nothing to catch up).
                        (Some(PlasticRows::Dopamine { states, .. }), _) if !self.plasticity => {
                            states[i].weight
                        }
                        (
                            Some(PlasticRows::Dopamine {
                                rule, rows, states, ..
                            }),
                            _,
                        ) => {
                            stdp_dopamine_synapse::caught_up(
                                rule,
                                &rows[s],
                                &states[i],
                                r.delay(i),
                                &p.archives[r.target(i)],
                                signal.expect("a dopamine projection's signal"),
                            )
                            .weight
                        }
                        (None, Weights::Const(w)) => *w,
                        (None, Weights::Each(v)) => f64::from(v[i]),
                    };
                    out.push((r.source_first + s as u32, p.lo + r.target(i) as u32, w));
                }
            }
        }
        out
    }

    /// The smallest delay in steps: `simulate` advances in multiples of it.
    pub fn min_delay_steps(&self) -> u64 {
        self.min_delay
    }

    /// Steps simulated so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Simulated time so far in ms.
    pub fn time_ms(&self) -> f64 {
        self.step as f64 * self.h_ms
    }

    /// The index of population `name`.
    pub fn population(&self, name: &str) -> Option<usize> {
        self.population_names.iter().position(|n| n == name)
    }

    /// The groups of population `index`: names and local neuron indices, in each group's order.
    pub fn groups(&self, index: usize) -> &[(String, Vec<u32>)] {
        self.groups.get(index).map_or(&[], Vec::as_slice)
    }

    /// Resolves `"POP"` or `"POP.GROUP"` (as the description does) to (population index, group
    /// index, members).
    pub fn members(&self, reference: &str) -> Option<(usize, Option<usize>, Members)> {
        if let Some(p) = self.population(reference) {
            let (a, b) = self.population_ranges[p];
            return Some((p, None, Members::Range(a, b)));
        }
        let (pop, group) = reference.split_once('.')?;
        let p = self.population(pop)?;
        let g = self.groups[p].iter().position(|(n, _)| n == group)?;
        let first = self.population_ranges[p].0;
        Some((p, Some(g), Members::from_local(first, &self.groups[p][g].1)))
    }

    /// Records (or stops recording) the spikes of population `index`.
    pub fn record_spikes(&mut self, index: usize, on: bool) {
        if let Some(r) = self.recorded.get_mut(index) {
            *r = on;
        }
    }

    /// The recorded spikes so far, emptying the record.
    pub fn take_spikes(&mut self) -> Vec<Spike> {
        std::mem::take(&mut self.spikes)
    }

    /// The first neuron with a state variable that is not a finite number (a model that diverged:
    /// a weight or an input too large, parameters out of range), as (population, index in the
    /// population, variable, value); None when every recordable variable of every neuron is finite.
    /// NEST runs on silently in that case; the brain engine stops the run naming the neuron.
    pub fn first_non_finite(&self) -> Option<(&str, u32, &'static str, f64)> {
        for part in &self.parts {
            for seg in &part.segments {
                for &var in seg.neurons.recordables() {
                    let Some(values) = seg.neurons.recordable(var) else {
                        continue;
                    };
                    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
                        let gid = seg.first + i as u32;
                        let (lo, _) = self.population_ranges[seg.population];
                        let name = self.population_names[seg.population].as_str();
                        return Some((name, gid - lo, var, values[i]));
                    }
                }
            }
        }
        None
    }

    /// What each multimeter recorded so far (in the order of the description).
    pub fn multimeters(&self) -> &[MultimeterData] {
        &self.multimeters
    }

    /// Adds a spike of `weight` arriving at neuron `neuron` (global id) in step `arrival` (it moves
    /// the neuron at that step's end). Arrivals before the next step to simulate are moved to it;
    /// returns false (and drops the spike) if the arrival lies beyond the ring buffers' reach
    /// (more than the longest delay ahead).
    pub fn inject(&mut self, neuron: u32, arrival: u64, weight: f64) -> bool {
        let arrival = arrival.max(self.step);
        if arrival >= self.step + self.ring_len || neuron >= self.n_neurons as u32 {
            return false;
        }
        let Some(part) = self
            .parts
            .iter_mut()
            .find(|p| neuron >= p.lo && neuron < p.hi)
        else {
            return false;
        };
        let n = part.n_local();
        let idx = (arrival % self.ring_len) as usize * n + (neuron - part.lo) as usize;
        if weight >= 0.0 {
            part.ring_ex[idx] += weight;
        } else {
            part.ring_in[idx] += weight;
        }
        true
    }

    /// Simulates `steps` steps, recording spikes and samples. The network exchanges spikes every
    /// min-delay steps and at the end of the call; how a run is cut into calls changes nothing in it.
    pub fn simulate(&mut self, steps: u64) {
        let (m, ring_len, start) = (self.min_delay, self.ring_len, self.step);
        let recorded_ranges = merge_runs(
            self.population_ranges
                .iter()
                .zip(&self.recorded)
                .filter(|(_, &r)| r)
                .map(|(&r, _)| r)
                .chain(self.recorded_groups.iter().copied())
                .collect(),
        );
        // Everything recorded (the brain engine's case): no filter.
        let record_all = recorded_ranges == [(0, self.n_neurons as u32)];
        // Part 0 runs here, parts 1.. on the workers (see [`Shared`]).
        if self.workers.is_none() && self.parts.len() > 1 {
            for t in 1..self.parts.len() {
                let shared = Arc::clone(&self.shared);
                std::thread::Builder::new()
                    .name(format!("brain-part-{t}"))
                    .spawn(move || work(t, &shared))
                    .expect("cannot start a simulation thread");
            }
            self.workers = Some(Workers(Arc::clone(&self.shared)));
        }
        let others = self.parts.split_off(1.min(self.parts.len()));
        for (slot, part) in self.shared.tasks.iter().zip(others) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Task {
                part,
                start,
                steps,
                m,
                ring_len,
            });
        }
        self.shared.start.wait();
        if let Some(part) = self.parts.first_mut() {
            run_part(
                0,
                part,
                &self.shared,
                (m, ring_len),
                (start, steps),
                (&recorded_ranges, record_all, &mut self.spikes),
            );
        }
        self.shared.barrier.wait();
        for slot in &self.shared.tasks {
            let task = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            self.parts
                .push(task.expect("a simulation thread returned no part").part);
        }
        // Multimeter samples: threads own increasing id ranges, so (step, id) order is a merge.
        let mut samples: Vec<Vec<(u64, u32, Vec<f64>)>> = vec![Vec::new(); self.multimeters.len()];
        for part in &mut self.parts {
            for meter in &mut part.meters {
                samples[meter.index].append(&mut meter.samples);
            }
        }
        for (data, mut s) in self.multimeters.iter_mut().zip(samples) {
            s.sort_by_key(|x| (x.0, x.1));
            data.values.resize(data.record_from.len(), Vec::new());
            for (step, id, values) in s {
                data.times_ms.push((step + 1) as f64 * self.h_ms);
                data.senders.push(id);
                for (col, v) in data.values.iter_mut().zip(values) {
                    col.push(v);
                }
            }
        }
        self.step = start + steps;
    }
}

/// Worker thread `t`: runs part `t`'s task in every call until a call starts with its slot empty
/// (see [`Shared`]).
fn work(t: usize, shared: &Shared) {
    loop {
        shared.start.wait();
        let slot = &shared.tasks[t - 1];
        let Some(mut task) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        run_part(
            t,
            &mut task.part,
            shared,
            (task.m, task.ring_len),
            (task.start, task.steps),
            (&[], false, &mut Vec::new()),
        );
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        shared.barrier.wait();
    }
}

/// The network's worker threads, ended when it is dropped.
struct Workers(Arc<Shared>);

impl Drop for Workers {
    /// Ends the worker threads: a call with every slot empty (waiting for nobody, see
    /// [`Barrier::leave`]).
    fn drop(&mut self) {
        for slot in &self.0.tasks {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        self.0.start.leave();
    }
}

/// Part `t`'s share of a [`Network::simulate`] call: steps `[start, start + steps)` in slices that
/// end on multiples of the min delay `m` (as NEST's) or at the end of the call (a short slice
/// delivers early, which is safe: every delay is at least `m` and the rings hold `m` + max delay
/// slots), each slice's spikes exchanged through `shared` and delivered. Part 0 appends the spikes
/// of the `recorded` global id runs (`all`: every neuron) to `record`, in global order (step, then
/// neuron).
fn run_part(
    t: usize,
    part: &mut Part,
    shared: &Shared,
    (m, ring_len): (u64, u64),
    (start, steps): (u64, u64),
    (recorded, all, record): (&[(u32, u32)], bool, &mut Vec<Spike>),
) {
    let (vts, barrier) = (&shared.vts, &shared.barrier);
    let mut first = start;
    for exchange in shared.exchange.iter().cycle() {
        if first >= start + steps {
            break;
        }
        let end = ((first / m + 1) * m).min(start + steps);
        {
            // This set was read two slices ago: every thread has passed the last exchange since.
            let mut mine = exchange[t].write().unwrap_or_else(|p| p.into_inner());
            mine.clear();
            for k in first..end {
                part.update(k, ring_len, &mut mine);
            }
        }
        barrier.wait();
        let lists: Vec<_> = exchange
            .iter()
            .map(|l| l.read().unwrap_or_else(|p| p.into_inner()))
            .collect();
        if !vts.is_empty() && part.plasticity {
            dopamine_phase(part, vts, &lists, first, end, m);
        }
        // (Taken out for the call: the synapses read them while the rows change.)
        let signals = std::mem::take(&mut part.vts);
        part.deliver(&lists, first, end, ring_len, &signals);
        part.vts = signals;
        if !recorded.is_empty() {
            for k in first..end {
                for l in &lists {
                    let at = l.partition_point(|sp| sp.step < k);
                    let of_k = l[at..].iter().take_while(|sp| sp.step == k);
                    if all {
                        record.extend(of_k);
                    } else {
                        record.extend(of_k.filter(|sp| {
                            recorded
                                .iter()
                                .any(|&(a, b)| sp.neuron >= a && sp.neuron < b)
                        }));
                    }
                }
            }
        }
        first = end;
    }
}

/// The volume transmitters' part of a slice `[first, end)`, between the exchange and the delivery
/// (NEST's order, see [`crate::plasticity`]), on this thread's copies of the signals ([`VtState`]):
/// dopamine spikes due in the slice reach the signals and, at a delivery, the signals note it. A
/// delivery touches no synapse (they catch up when next used, see
/// [`stdp_dopamine_synapse::DopamineSignal`]) except where the synapse model needs every delivery
/// (`b != 0`) or at a sweep, when the thread carries its synapses of that signal to the delivery
/// and its signal then forgets what they have read.
fn dopamine_phase(
    part: &mut Part,
    vts: &[VolumeTransmitter],
    lists: &[std::sync::RwLockReadGuard<'_, Vec<Spike>>],
    first: u64,
    end: u64,
    m: u64,
) {
    let t_trig = end_ms(end - 1, part.h_tics);
    for (v, st) in vts.iter().zip(&mut part.vts) {
        while let Some(&(a, mult)) = st.pending.front() {
            if a >= end {
                break;
            }
            // Times are in order and finite by construction: an error cannot happen here.
            let _ = st.signal.add_spike(end_ms(a, part.h_tics), mult);
            st.pending.pop_front();
        }
        if st.signal.trigger_due(end, m) {
            st.signal.deliver(t_trig);
        }
        if !v.source.is_empty() {
            // The delay is at least the min delay: these arrive after this slice.
            for k in first..end {
                for l in lists {
                    for sp in l.iter().filter(|sp| sp.step == k) {
                        if v.source
                            .iter()
                            .any(|&(lo, hi)| sp.neuron >= lo && sp.neuron < hi)
                        {
                            push_arrival(&mut st.pending, sp.step + v.delay, 1.0);
                        }
                    }
                }
            }
        }
    }
    for vt in 0..vts.len() {
        let signal = &part.vts[vt].signal;
        if !signal.trigger_due(end, m) {
            continue;
        }
        let sweep = signal.sweep_due();
        for r in &mut part.rows {
            let carry = match &r.plastic {
                Some(PlasticRows::Dopamine { rule, vt: v, .. }) if *v == vt => {
                    sweep || rule.params().needs_every_delivery()
                }
                _ => false,
            };
            if carry {
                r.carry_dopamine(&part.archives, signal);
            }
        }
        if sweep {
            part.vts[vt].signal.forget_read();
        }
    }
}

/// Queues a dopamine arrival in step order (merging equal steps).
fn push_arrival(pending: &mut std::collections::VecDeque<(u64, f64)>, step: u64, mult: f64) {
    let at = pending.partition_point(|&(a, _)| a <= step);
    if at > 0 && pending[at - 1].0 == step {
        pending[at - 1].1 += mult;
    } else {
        pending.insert(at, (step, mult));
    }
}

fn build_part(
    spec: &NetworkSpec,
    seed: u64,
    c: &Checked,
    lo: u32,
    hi: u32,
) -> Result<Part, NetworkError> {
    let h = c.h;
    let n_local = (hi - lo) as usize;
    let overlap = |(a, b): (u32, u32)| {
        let (s_lo, s_hi) = (a.max(lo), b.min(hi));
        (s_lo < s_hi).then_some((s_lo, s_hi))
    };
    let mut segments = Vec::new();
    for (pi, (p, &range)) in spec.populations.iter().zip(&c.ranges).enumerate() {
        let Some((s_lo, s_hi)) = overlap(range) else {
            continue;
        };
        let mut neurons = neurons::create(&p.model, &p.params, (s_hi - s_lo) as usize, h)
            .map_err(|e| NetworkError::Invalid(format!("populations[{pi}]: {e}")))?;
        if let Some(v) = &p.v_m {
            // One stream per neuron: initial values do not depend on the split.
            for g in s_lo..s_hi {
                let mut rng = connect::stream(seed, 2, u64::from(g));
                neurons.set_v_m((g - s_lo) as usize, connect::sample(v, &mut rng));
            }
        }
        segments.push(Segment {
            population: pi,
            first: s_lo,
            local: (s_lo - lo) as usize,
            neurons,
        });
    }
    let mut rows = Vec::new();
    let mut rules: Vec<Arc<stdp_dopamine_synapse::Rule>> = Vec::new();
    for (pi, pr) in spec.projections.iter().enumerate() {
        let (s, src, t, tgt) = &c.ends[pi];
        let delay = pr.synapse.delay.unwrap_or(Dist::Const(h));
        let job = Job {
            index: pi,
            connect: &pr.connect,
            weight: &pr.synapse.weight,
            delay: &delay,
            h_ms: h,
            seed,
            source: src,
            target: tgt,
            same: s == t,
        };
        let drawn = connect::draw(&job, lo, hi)?;
        let (mut r, plastic_weights) = into_rows(
            drawn,
            &job,
            c.delay_bounds[pi].0,
            n_local,
            c.plastic[pi].is_some(),
        )?;
        if let Some(pp) = c.plastic[pi] {
            let n = r.synapses.len();
            // Drawn weights (exact, in row order), or the constant one.
            let weight_of = |i: usize| match (&r.weights, plastic_weights.is_empty()) {
                (Weights::Const(w), true) => *w,
                _ => plastic_weights[i],
            };
            let err = |e: crate::ParamError| {
                NetworkError::Invalid(format!("projections[{pi}].synapse.weight: {e}"))
            };
            r.plastic = Some(match pp {
                PlasticParams::Stdp(params) => PlasticRows::Stdp {
                    params,
                    states: (0..n)
                        .map(|i| stdp_synapse::State::new(weight_of(i), &params).map_err(err))
                        .collect::<Result<_, _>>()?,
                },
                PlasticParams::Dopamine(params, vt) => PlasticRows::Dopamine {
                    rule: {
                        // Projections with the same rule share its tables.
                        let tau_minus = spec.populations[*t].tau_minus.unwrap_or(20.0);
                        match rules.iter().find(|r| r.is(&params, h, tau_minus)) {
                            Some(r) => Arc::clone(r),
                            None => {
                                let r = stdp_dopamine_synapse::Rule::new(params, h, tau_minus)
                                    .map_err(|e| {
                                        NetworkError::Invalid(format!("projections[{pi}]: {e}"))
                                    })?;
                                rules.push(Arc::new(r));
                                Arc::clone(&rules[rules.len() - 1])
                            }
                        }
                    },
                    rows: vec![stdp_dopamine_synapse::Row::default(); r.source_n as usize],
                    states: (0..n)
                        .map(|i| stdp_dopamine_synapse::State::new(weight_of(i)).map_err(err))
                        .collect::<Result<_, _>>()?,
                    vt,
                },
            });
            // The weights live in the states now.
            r.weights = Weights::Const(0.0);
        }
        rows.push(r);
    }
    // Archives for every local neuron (NEST gives every neuron one), if anything is plastic.
    let mut archives = Vec::new();
    if c.plastic.iter().any(Option::is_some) {
        for (pi, &(a, b)) in c.ranges.iter().enumerate() {
            let tau_minus = spec.populations[pi].tau_minus.unwrap_or(20.0);
            for _ in a.max(lo)..b.min(hi) {
                archives.push(PostArchive::new(tau_minus).map_err(|e| {
                    NetworkError::Invalid(format!("populations[{pi}].tau_minus: {e}"))
                })?);
            }
        }
        // Register every plastic synapse with its target's archive, as NEST's Connect does.
        let h_tics = crate::grid::resolution_tics(h).unwrap_or(1).max(1) as u64;
        for r in &rows {
            let delay_ms = |i: usize| r.delay_ms(i, h_tics);
            match &r.plastic {
                Some(PlasticRows::Stdp { states, .. }) => {
                    for (i, st) in states.iter().enumerate() {
                        stdp_synapse::connect(st, delay_ms(i), &mut archives[r.target(i)]);
                    }
                }
                Some(PlasticRows::Dopamine { states, .. }) => {
                    for i in 0..states.len() {
                        stdp_dopamine_synapse::connect(delay_ms(i), &mut archives[r.target(i)]);
                    }
                }
                None => {}
            }
        }
    }
    let mut device = c.device_delays.iter().copied();
    let mut targets = c
        .device_targets
        .iter()
        .map(|m| local_runs(&m.runs(), lo, hi));
    let mut drives = Vec::new();
    for d in &spec.poisson_generators {
        let delay = device.next().unwrap_or(1);
        let runs = targets.next().unwrap_or_default();
        if !runs.is_empty() {
            let table = PoissonTable::new(d.rate * h * 1e-3);
            let by_count = (0..table.thresholds.len())
                .map(|c| c as f64 * d.weight)
                .collect();
            drives.push(Drive {
                runs,
                table,
                by_count,
                weight: d.weight,
                delay,
            });
        }
    }
    let mut trains = Vec::new();
    for g in &spec.spike_generators {
        let delay = device.next().unwrap_or(1);
        let runs = targets.next().unwrap_or_default();
        if !runs.is_empty() {
            // A spike at t_s with delay d arrives in the step ending at t_s + d.
            let arrivals = g
                .spike_times
                .iter()
                .map(|&ts| ((ts / h).round() as u64 + delay - 1, g.weight))
                .collect();
            trains.push(Train {
                runs,
                arrivals,
                next: 0,
            });
        }
    }
    let mut currents = Vec::new();
    for d in &spec.dc_generators {
        let runs = targets.next().unwrap_or_default();
        if !runs.is_empty() {
            // NEST: the current arrives in the steps from t with start <= t < stop.
            currents.push(Current {
                runs,
                amplitude: d.amplitude,
                start: steps_round(d.start, h),
                stop: d.stop.map_or(u64::MAX, |s| steps_round(s, h)),
            });
        }
    }
    let mut meters = Vec::new();
    for (mi, m) in spec.multimeters.iter().enumerate() {
        let p = spec.population_index(&m.population).unwrap_or(0);
        let (a, b) = c.ranges[p];
        let b = m.n.map_or(b, |n| b.min(a.saturating_add(n as u32)));
        if let (Some((s_lo, s_hi)), Some(si)) = (
            overlap((a, b)),
            segments.iter().position(|s| s.population == p),
        ) {
            let seg = &segments[si];
            meters.push(Meter {
                index: mi,
                segment: si,
                seg_lo: (s_lo - seg.first) as usize,
                seg_hi: (s_hi - seg.first) as usize,
                interval: steps_round(m.interval, h).max(1),
                record_from: m.record_from.clone(),
                samples: Vec::new(),
            });
        }
    }
    let rng = (lo..hi).map(|i| mix(seed, 0, u64::from(i))).collect();
    Ok(Part {
        lo,
        hi,
        segments,
        rows,
        drives,
        i_stim: if currents.is_empty() {
            Vec::new()
        } else {
            vec![0.0; n_local]
        },
        currents,
        trains,
        meters,
        ring_ex: Vec::new(),
        ring_in: Vec::new(),
        rng,
        spiked: Vec::new(),
        archives,
        h_tics: crate::grid::resolution_tics(h).unwrap_or(1).max(1) as u64,
        min_delay_ms: 0.0,
        plasticity: true,
        vts: Vec::new(),
    })
}

/// Sorts drawn synapses into rows by source (stable: a row keeps the draw order), packing each
/// target with its delay (see [`Rows`]). Returns the rows and, for a plastic projection with drawn
/// weights, the weights in row order (exact, for the synapses' states).
fn into_rows(
    drawn: connect::Drawn,
    job: &Job,
    const_delay: u64,
    n_local: usize,
    plastic: bool,
) -> Result<(Rows, Vec<f64>), NetworkError> {
    // One row per id between the smallest and the largest source (a group's gaps have empty rows).
    let (src_lo, src_hi) = job.source.bounds();
    let n_src = (src_hi - src_lo) as usize;
    let n = drawn.pairs.len();
    if u32::try_from(n).is_err() {
        return Err(NetworkError::Invalid(format!(
            "projections[{}]: more than 2^32 synapses on one thread",
            job.index
        )));
    }
    let max_delay = match &drawn.delays {
        None => const_delay,
        Some(v) => v.iter().copied().max().map_or(1, u64::from),
    };
    let delay_bits = (u64::BITS - max_delay.leading_zeros()).max(1);
    let target_bits = usize::BITS - n_local.saturating_sub(1).leading_zeros();
    let width = (delay_bits + target_bits).div_ceil(8) as usize;
    if delay_bits + target_bits > 32 {
        return Err(NetworkError::Invalid(format!(
            "projections[{}]: delays up to {max_delay} steps to a thread of {n_local} neurons do not \
             fit the 32 bits of a synapse (use more threads or shorter delays)",
            job.index
        )));
    }
    let mut offsets = vec![0u32; n_src + 1];
    for &(s, _) in &drawn.pairs {
        offsets[s as usize + 1] += 1;
    }
    for i in 0..n_src {
        offsets[i + 1] += offsets[i];
    }
    let drawn_delays_const = drawn.delays.is_none();
    let mut fill = offsets.clone();
    let mut synapses = Packed::zeros(n, width);
    let drawn_weights = drawn.weights.as_deref();
    // Drawn weights in row order: exact for a plastic projection, as f32 for a static one.
    let mut exact = vec![
        0.0;
        if plastic {
            drawn_weights.map_or(0, <[f64]>::len)
        } else {
            0
        }
    ];
    let mut w32 = vec![
        0f32;
        if plastic {
            0
        } else {
            drawn_weights.map_or(0, <[f64]>::len)
        }
    ];
    for (i, &(s, t)) in drawn.pairs.iter().enumerate() {
        let to = fill[s as usize] as usize;
        fill[s as usize] += 1;
        let d = match &drawn.delays {
            None => const_delay as u32,
            Some(v) => u32::from(v[i]),
        };
        synapses.set(to, t << delay_bits | d);
        if let Some(v) = drawn_weights {
            if plastic {
                exact[to] = v[i];
            } else {
                let x = v[i] as f32;
                if !x.is_finite() {
                    return Err(NetworkError::Invalid(format!(
                        "projections[{}].synapse.weight: a drawn weight of {} is beyond the \
                         range of the stored weights (f32, +-3.4e38)",
                        job.index, v[i]
                    )));
                }
                w32[to] = x;
            }
        }
    }
    drop(fill);
    let (weights, receptor) = match drawn_weights {
        None => {
            let w = job.weight.rough_mean();
            (
                Weights::Const(w),
                if w >= 0.0 { Receptor::Ex } else { Receptor::In },
            )
        }
        // The states hold the weights (from `exact`; of one sign, checked; each sends by its own
        // sign).
        Some(_) if plastic => (Weights::Const(0.0), Receptor::BySign),
        Some(_) => {
            let receptor = if w32.iter().all(|&w| w >= 0.0) {
                Receptor::Ex
            } else if w32.iter().all(|&w| w < 0.0) {
                Receptor::In
            } else {
                Receptor::BySign
            };
            (Weights::Each(w32), receptor)
        }
    };
    Ok((
        Rows {
            offsets,
            synapses,
            delay_bits,
            const_delay: drawn_delays_const.then_some(const_delay),
            weights,
            receptor,
            source_first: src_lo,
            source_n: src_hi - src_lo,
            plastic: None,
        },
        exact,
    ))
}

impl Part {
    fn n_local(&self) -> usize {
        (self.hi - self.lo) as usize
    }

    /// One step `k` of this thread's neurons: device input into the rings, neuron updates reading
    /// the slots of step `k`, which are then cleared; spikes go to `out`.
    fn update(&mut self, k: u64, ring_len: u64, out: &mut Vec<Spike>) {
        let n = self.n_local();
        let slot = (k % ring_len) as usize;
        let (ring_ex, ring_in) = (
            &mut self.ring_ex[slot * n..(slot + 1) * n],
            &mut self.ring_in[slot * n..(slot + 1) * n],
        );
        // The drive's spikes generated at step k - d arrive now; drawing them now is the same
        // distribution (each neuron's own stream, in step order).
        for d in &self.drives {
            // Nothing generated before t = 0 arrives before step `delay`.
            if k < d.delay {
                continue;
            }
            let row = if d.weight >= 0.0 {
                &mut *ring_ex
            } else {
                &mut *ring_in
            };
            for &(a, b) in &d.runs {
                for (x, st) in row[a..b].iter_mut().zip(&mut self.rng[a..b]) {
                    // No branch on the count (adding no spike leaves the sum as it is, see
                    // `by_count`).
                    *x += d.by_count[d.table.count(next_u64(st))];
                }
            }
        }
        for tr in &mut self.trains {
            while let Some(&(a, w)) = tr.arrivals.get(tr.next) {
                if a > k {
                    break;
                }
                if a == k {
                    let row = if w >= 0.0 {
                        &mut *ring_ex
                    } else {
                        &mut *ring_in
                    };
                    for &(lo, hi) in &tr.runs {
                        row[lo..hi].iter_mut().for_each(|x| *x += w);
                    }
                }
                tr.next += 1;
            }
        }
        if !self.currents.is_empty() {
            self.i_stim.iter_mut().for_each(|x| *x = 0.0);
            for c in &self.currents {
                if c.start <= k && k < c.stop {
                    for &(lo, hi) in &c.runs {
                        self.i_stim[lo..hi]
                            .iter_mut()
                            .for_each(|x| *x += c.amplitude);
                    }
                }
            }
        }
        for seg in &mut self.segments {
            let (a, b) = (seg.local, seg.local + seg.neurons.len());
            let i_stim = if self.i_stim.is_empty() {
                &[][..]
            } else {
                &self.i_stim[a..b]
            };
            seg.neurons
                .step(&ring_ex[a..b], &ring_in[a..b], i_stim, &mut self.spiked);
            if self.plasticity && !self.archives.is_empty() {
                let t = end_ms(k, self.h_tics);
                for &i in &self.spiked {
                    self.archives[a + i as usize].record_spike(t, self.min_delay_ms);
                }
            }
            out.extend(self.spiked.iter().map(|&i| Spike {
                step: k,
                neuron: seg.first + i,
            }));
        }
        for m in &mut self.meters {
            if !(k + 1).is_multiple_of(m.interval) {
                continue;
            }
            let seg = &self.segments[m.segment];
            let cols: Vec<&[f64]> = m
                .record_from
                .iter()
                .map(|name| seg.neurons.recordable(name).unwrap_or(&[]))
                .collect();
            for i in m.seg_lo..m.seg_hi {
                let values = cols.iter().map(|c| c.get(i).copied().unwrap_or(f64::NAN));
                m.samples.push((k, seg.first + i as u32, values.collect()));
            }
        }
        ring_ex.iter_mut().for_each(|x| *x = 0.0);
        ring_in.iter_mut().for_each(|x| *x = 0.0);
    }

    /// Delivers the spikes of steps `[first, first + m)` from every thread's list to this thread's
    /// neurons, in global order.
    fn deliver(
        &mut self,
        lists: &[std::sync::RwLockReadGuard<'_, Vec<Spike>>],
        first: u64,
        end: u64,
        ring_len: u64,
        signals: &[VtState],
    ) {
        let n = self.n_local();
        let rl = ring_len as usize;
        let mut cursors = vec![0usize; lists.len()];
        for k in first..end {
            let base = (k % ring_len) as usize;
            // The ring slot of arrivals `d` steps after step k (d < ring_len).
            let slot = |d: u64| {
                let s = base + d as usize;
                if s >= rl {
                    s - rl
                } else {
                    s
                }
            };
            for (t, l) in lists.iter().enumerate() {
                while let Some(sp) = l.get(cursors[t]).filter(|sp| sp.step == k) {
                    cursors[t] += 1;
                    for r in &mut self.rows {
                        let Some(src) = sp
                            .neuron
                            .checked_sub(r.source_first)
                            .filter(|&s| s < r.source_n)
                        else {
                            continue;
                        };
                        let (a, b) = (
                            r.offsets[src as usize] as usize,
                            r.offsets[src as usize + 1] as usize,
                        );
                        if a == b {
                            continue;
                        }
                        let (shift, mask) = (r.delay_bits, (1u32 << r.delay_bits) - 1);
                        if let Some(pl) = &mut r.plastic {
                            // Plastic synapses: each one updates, then sends its new weight (with
                            // plasticity off, its stored weight, unchanged).
                            let t_spike = end_ms(k, self.h_tics);
                            let synapses = &r.synapses;
                            let target = |i: usize| (synapses.get(i) >> shift) as usize;
                            let delay = |i: usize| u64::from(synapses.get(i) & mask);
                            let (ring_ex, ring_in) = (&mut self.ring_ex, &mut self.ring_in);
                            let mut put = |i: usize, w: f64| {
                                let ring = if w >= 0.0 {
                                    &mut *ring_ex
                                } else {
                                    &mut *ring_in
                                };
                                ring[slot(delay(i)) * n + target(i)] += w;
                            };
                            match pl {
                                PlasticRows::Stdp { states, .. } if !self.plasticity => {
                                    (a..b).for_each(|i| put(i, states[i].weight))
                                }
                                PlasticRows::Dopamine { states, .. } if !self.plasticity => {
                                    (a..b).for_each(|i| put(i, states[i].weight))
                                }
                                PlasticRows::Stdp { params, states } => {
                                    for (i, st) in (a..b).zip(&mut states[a..b]) {
                                        let w = stdp_synapse::send(
                                            params,
                                            st,
                                            t_spike,
                                            (delay(i) * self.h_tics) as f64 * 0.001,
                                            &self.archives[target(i)],
                                        );
                                        put(i, w);
                                    }
                                }
                                PlasticRows::Dopamine {
                                    rule,
                                    rows,
                                    states,
                                    vt,
                                } => {
                                    let u = stdp_dopamine_synapse::send_row(
                                        rule,
                                        &mut rows[src as usize],
                                        t_spike,
                                        &signals[*vt].signal,
                                    );
                                    for (i, st) in (a..b).zip(&mut states[a..b]) {
                                        let w = u.send(st, delay(i), &self.archives[target(i)]);
                                        put(i, w);
                                    }
                                }
                            }
                            continue;
                        }
                        let rings = (&mut self.ring_ex[..], &mut self.ring_in[..]);
                        match r.synapses.width {
                            1 => add_static::<1>(r, a, b, &slot, n, rings),
                            2 => add_static::<2>(r, a, b, &slot, n, rings),
                            3 => add_static::<3>(r, a, b, &slot, n, rings),
                            _ => add_static::<4>(r, a, b, &slot, n, rings),
                        }
                    }
                }
            }
        }
    }
}

/// Adds the spike of static synapses `a..b` of `r` (words of `B` bytes) to the rings (`n` neurons per
/// slot; `slot(d)`: the slot `d` steps ahead).
#[inline(always)]
fn add_static<const B: usize>(
    r: &Rows,
    a: usize,
    b: usize,
    slot: &impl Fn(u64) -> usize,
    n: usize,
    (ring_ex, ring_in): (&mut [f64], &mut [f64]),
) {
    let (shift, mask) = (r.delay_bits, (1u32 << r.delay_bits) - 1);
    let words = r.synapses.words::<B>(a, b);
    let ring = match r.receptor {
        Receptor::In => &mut *ring_in,
        _ => &mut *ring_ex,
    };
    match (&r.weights, r.const_delay) {
        (Weights::Const(w), Some(d)) => {
            let buf = &mut ring[slot(d) * n..][..n];
            for p in words {
                buf[(p >> shift) as usize] += *w;
            }
        }
        (Weights::Each(ws), Some(d)) if r.receptor != Receptor::BySign => {
            let buf = &mut ring[slot(d) * n..][..n];
            for (p, &w) in words.zip(&ws[a..b]) {
                buf[(p >> shift) as usize] += f64::from(w);
            }
        }
        (Weights::Const(w), _) => {
            for p in words {
                ring[slot(u64::from(p & mask)) * n + (p >> shift) as usize] += *w;
            }
        }
        (Weights::Each(ws), _) if r.receptor != Receptor::BySign => {
            for (p, &w) in words.zip(&ws[a..b]) {
                ring[slot(u64::from(p & mask)) * n + (p >> shift) as usize] += f64::from(w);
            }
        }
        (Weights::Each(ws), _) => {
            for (p, &w) in words.zip(&ws[a..b]) {
                let at = slot(u64::from(p & mask)) * n + (p >> shift) as usize;
                if w >= 0.0 {
                    ring_ex[at] += f64::from(w);
                } else {
                    ring_in[at] += f64::from(w);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
