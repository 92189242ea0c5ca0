//! The postsynaptic spike archive that STDP synapses read (NEST's `ArchivingNode`).
//!
//! Source: Morrison, Diesmann & Gerstner (2008) Biol Cybern 98:459; NEST 3.10 `ArchivingNode`.
//!
//! Per neuron: `tau_minus` (a parameter of the postsynaptic neuron in NEST, not of the synapse), the
//! post trace `Kminus` (`Kminus <- Kminus exp(-(t - t_last)/tau_minus) + 1` at each spike) and the
//! spikes that some incoming STDP synapse may still read, each with `Kminus` just after it and an access
//! counter. Pruning is NEST's: the oldest spike is dropped when every incoming STDP synapse has read it
//! and the next spike is older than `max_delay + min_delay + eps` before the new spike. So the archive
//! holds the spikes since the oldest unread one: a few per neuron when every input transmits now and
//! then, more (as in NEST) while an incoming plastic synapse stays silent.
//!
//! Not modelled: the triplet trace (`tau_minus_triplet`), precise spike offsets, `clear`.

use std::cell::Cell;

use crate::error::{require, ParamError};
use crate::plasticity::STDP_EPS_MS;

/// One archived spike (NEST's `histentry`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Entry {
    pub(crate) t_ms: f64,
    kminus: f64,
    /// How many reads of incoming synapses have covered this spike.
    access: Cell<u32>,
}

/// The spike archive of one postsynaptic neuron (NEST's `ArchivingNode`).
///
/// Reads (`get_history`) count accesses through a `Cell`, as NEST does in a `const`-looking query, so
/// synapses take `&PostArchive`; the archive is `Send` but not `Sync` (it belongs to the thread that
/// owns the neuron, as the synapses ending on it do).
///
/// One cache line (64 bytes): a synapse's update reads the archive of its target, and in most
/// updates nothing else of it than the last spike and `Kminus`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[repr(C, align(64))]
pub struct PostArchive {
    last_spike_ms: f64,
    kminus: f64,
    /// The spikes held are `spikes[first..]`, oldest first (dropped ones are removed in batches).
    spikes: Vec<Entry>,
    first: u32,
    n_incoming: u32,
    tau_minus: f64,
    max_delay_ms: f64,
}

impl PostArchive {
    /// An empty archive for a neuron with STDP time constant `tau_minus` (ms; NEST's default is 20).
    pub fn new(tau_minus: f64) -> Result<PostArchive, ParamError> {
        require(
            tau_minus.is_finite() && tau_minus > 0.0,
            "ArchivingNode",
            "tau_minus",
            tau_minus,
            "must be > 0",
        )?;
        Ok(PostArchive {
            tau_minus,
            kminus: 0.0,
            last_spike_ms: -1.0,
            n_incoming: 0,
            max_delay_ms: 0.0,
            spikes: Vec::new(),
            first: 0,
        })
    }

    /// The spikes held, oldest first.
    #[inline]
    fn history(&self) -> &[Entry] {
        // (`first` past the end only from a corrupt checkpoint: nothing held.)
        self.spikes.get(self.first as usize..).unwrap_or(&[])
    }

    /// The neuron's `tau_minus` in ms.
    pub fn tau_minus(&self) -> f64 {
        self.tau_minus
    }

    /// `1 / tau_minus` (NEST's `tau_minus_inv_`).
    fn tau_minus_inv(&self) -> f64 {
        1.0 / self.tau_minus
    }

    /// Registers an incoming STDP synapse that will read the spikes after `t_first_read_ms`
    /// (NEST: `t_lastspike - delay`), with delay `delay_ms`. Spikes already archived up to
    /// `t_first_read_ms` are marked as read by it.
    pub fn register_stdp_connection(&mut self, t_first_read_ms: f64, delay_ms: f64) {
        for e in self.history() {
            if t_first_read_ms - e.t_ms <= -STDP_EPS_MS {
                break;
            }
            e.access.set(e.access.get() + 1);
        }
        self.n_incoming += 1;
        self.max_delay_ms = self.max_delay_ms.max(delay_ms);
    }

    /// Number of STDP synapses registered.
    pub fn n_incoming(&self) -> u32 {
        self.n_incoming
    }

    /// Records a spike of the neuron at `t_ms` (the end of the step in which it fired); `min_delay_ms`
    /// is the network's smallest delay (used only for pruning). Without a registered STDP synapse only
    /// the time is kept, as in NEST.
    pub fn record_spike(&mut self, t_ms: f64, min_delay_ms: f64) {
        if self.n_incoming == 0 {
            self.last_spike_ms = t_ms;
            return;
        }
        let mut first = (self.first as usize).min(self.spikes.len());
        while self.spikes.len() - first > 1 {
            let next_t = self.spikes[first + 1].t_ms;
            let front_read = self.spikes[first].access.get() >= self.n_incoming;
            if front_read && t_ms - next_t > self.max_delay_ms + min_delay_ms + STDP_EPS_MS {
                first += 1;
            } else {
                break;
            }
        }
        if first >= 16 && 2 * first >= self.spikes.len() {
            self.spikes.drain(..first);
            first = 0;
        }
        // Fewer than 2^32 spikes are dropped before a drain.
        self.first = first as u32;
        self.kminus =
            self.kminus * ((self.last_spike_ms - t_ms) * self.tau_minus_inv()).exp() + 1.0;
        self.last_spike_ms = t_ms;
        self.spikes.push(Entry {
            t_ms,
            kminus: self.kminus,
            access: Cell::new(0),
        });
    }

    /// The time of the last spike in ms (-1 before the first, as NEST's `t_spike`).
    pub fn last_spike_ms(&self) -> f64 {
        self.last_spike_ms
    }

    /// The post trace `Kminus` at `t_ms`, from the spikes strictly before `t_ms` (a spike at `t_ms`
    /// itself is not counted): NEST's `get_K_value`.
    pub fn get_k_value(&self, t_ms: f64) -> f64 {
        self.last_before(t_ms).map_or(0.0, |(t, kminus)| {
            kminus * ((t - t_ms) * self.tau_minus_inv()).exp()
        })
    }

    /// The last archived spike strictly before `t_ms` as (time, `Kminus` just after it), if any:
    /// what [`PostArchive::get_k_value`] decays to `t_ms`. When the last spike is before `t_ms` (the
    /// common case) only the archive itself is read, not its history.
    #[inline]
    pub(crate) fn last_before(&self, t_ms: f64) -> Option<(f64, f64)> {
        if self.is_empty() {
            return None;
        }
        // The last entry is the last spike, with `kminus` just after it.
        if t_ms - self.last_spike_ms > STDP_EPS_MS {
            return Some((self.last_spike_ms, self.kminus));
        }
        self.history()
            .iter()
            .rev()
            .find(|e| t_ms - e.t_ms > STDP_EPS_MS)
            .map(|e| (e.t_ms, e.kminus))
    }

    /// The archived spikes in `(t1_ms, t2_ms]` (within [`STDP_EPS_MS`]), oldest first: NEST's
    /// `get_history`. Counts one read of each of them (for pruning). When the last spike is at or
    /// before `t1_ms` (the common case) only the archive itself is read, not its history.
    #[inline]
    pub(crate) fn read(&self, t1_ms: f64, t2_ms: f64) -> &[Entry] {
        let t1_lim = t1_ms + STDP_EPS_MS;
        if self.last_spike_ms < t1_lim {
            return &[];
        }
        let t2_lim = t2_ms + STDP_EPS_MS;
        let h = self.history();
        let mut finish = h.len();
        while finish > 0 && h[finish - 1].t_ms >= t2_lim {
            finish -= 1;
        }
        let mut start = finish;
        while start > 0 && h[start - 1].t_ms >= t1_lim {
            start -= 1;
            let a = &h[start].access;
            a.set(a.get() + 1);
        }
        &h[start..finish]
    }

    /// [`PostArchive::read`] if `count`, else [`PostArchive::peek`].
    #[inline(always)]
    pub(crate) fn read_or_peek(&self, t1_ms: f64, t2_ms: f64, count: bool) -> &[Entry] {
        if count {
            self.read(t1_ms, t2_ms)
        } else {
            self.peek(t1_ms, t2_ms)
        }
    }

    /// The archived spikes in `(t1_ms, t2_ms]`, as [`PostArchive::read`], without counting a read.
    #[inline]
    pub(crate) fn peek(&self, t1_ms: f64, t2_ms: f64) -> &[Entry] {
        let (t1_lim, t2_lim) = (t1_ms + STDP_EPS_MS, t2_ms + STDP_EPS_MS);
        if self.last_spike_ms < t1_lim {
            return &[];
        }
        let h = self.history();
        let finish = h.partition_point(|e| e.t_ms < t2_lim);
        let start = h.partition_point(|e| e.t_ms < t1_lim);
        &h[start.min(finish)..finish]
    }

    /// The times of the archived spikes in `(t1_ms, t2_ms]` (within [`STDP_EPS_MS`]), oldest first:
    /// NEST's `get_history`. Counts one read of each of them (for pruning).
    pub fn get_history(&self, t1_ms: f64, t2_ms: f64) -> impl Iterator<Item = f64> + '_ {
        self.read(t1_ms, t2_ms).iter().map(|e| e.t_ms)
    }

    /// The times of the archived spikes in `(t1_ms, t2_ms]`, as [`PostArchive::get_history`], without
    /// counting a read.
    pub fn peek_history(&self, t1_ms: f64, t2_ms: f64) -> impl Iterator<Item = f64> + '_ {
        self.peek(t1_ms, t2_ms).iter().map(|e| e.t_ms)
    }

    /// Takes back one read of each spike in `(t1_ms, t2_ms]` (a synapse that will read them again;
    /// see `stdp_dopamine_synapse::send`).
    pub fn unread(&self, t1_ms: f64, t2_ms: f64) {
        let (t1_lim, t2_lim) = (t1_ms + STDP_EPS_MS, t2_ms + STDP_EPS_MS);
        if self.last_spike_ms < t1_lim {
            return;
        }
        for e in self
            .history()
            .iter()
            .rev()
            .skip_while(|e| e.t_ms >= t2_lim)
            .take_while(|e| e.t_ms >= t1_lim)
        {
            e.access.set(e.access.get().saturating_sub(1));
        }
    }

    /// Number of spikes held (for monitoring memory).
    pub fn len(&self) -> usize {
        self.spikes.len().saturating_sub(self.first as usize)
    }

    /// Whether no spike is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_value_excludes_a_spike_at_the_query_time() {
        let mut a = PostArchive::new(20.0).unwrap();
        a.register_stdp_connection(-1.0, 1.0);
        a.record_spike(10.0, 1.0);
        a.record_spike(15.0, 1.0);
        assert_eq!(a.get_k_value(10.0), 0.0);
        assert_eq!(a.get_k_value(15.0), (-0.25f64).exp());
        let k2 = (-0.25f64).exp() + 1.0;
        assert!((a.get_k_value(35.0) - k2 * (-1.0f64).exp()).abs() < 1e-15);
    }

    #[test]
    fn history_is_half_open_and_pruned_once_read() {
        let mut a = PostArchive::new(20.0).unwrap();
        a.register_stdp_connection(-1.0, 1.0);
        for k in 1..=5 {
            a.record_spike(k as f64 * 10.0, 1.0);
        }
        let got: Vec<f64> = a.get_history(10.0, 30.0).collect();
        assert_eq!(got, vec![20.0, 30.0]);
        // 10 was never read: nothing is dropped.
        a.record_spike(60.0, 1.0);
        assert_eq!(a.len(), 6);
        let _ = a.get_history(-1.0, 10.0).count();
        let _ = a.get_history(30.0, 60.0).count();
        a.record_spike(70.0, 1.0);
        // Every spike read; kept: those after 70 - 2 ms - eps and the one before them.
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn memory_stays_small_while_every_synapse_transmits() {
        // Post at 50 Hz, two synapses (delays 1 and 5 ms) transmitting at 20 Hz, for 100 s.
        let mut a = PostArchive::new(20.0).unwrap();
        a.register_stdp_connection(-1.0, 1.0);
        a.register_stdp_connection(-5.0, 5.0);
        let (mut last1, mut last2) = (0.0, 0.0);
        let mut longest = 0;
        for k in 1..=1_000_000u32 {
            let t = f64::from(k) * 0.1;
            if k % 200 == 0 {
                a.record_spike(t, 1.0);
            }
            if k % 500 == 0 {
                let _ = a.get_history(last1 - 1.0, t - 1.0).count();
                let _ = a.get_history(last2 - 5.0, t - 5.0).count();
                (last1, last2) = (t, t);
            }
            longest = longest.max(a.len());
        }
        assert!(longest <= 5, "{longest} spikes held");
    }

    #[test]
    fn bad_tau_minus_is_named() {
        let e = PostArchive::new(0.0).unwrap_err().to_string();
        assert!(e.contains("tau_minus"), "{e}");
    }
}
