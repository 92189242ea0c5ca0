//! The barrier that the threads of a network meet at: threads that arrive early spin for a while
//! before they sleep, as long as waits here end soon.
//!
//! A slice of a small network is a fraction of a millisecond of work; waking a thread that slept
//! (`std::sync::Barrier`) costs tens of microseconds on a virtual machine, at every slice and at
//! every call's start and end, which made a network stepped in short calls (the brain engine at a
//! 1 ms sync step) half again as slow as one long call. Spinning pays only while each thread has a core: when the threads share cores with
//! other work, waits get long (the thread waited for is not running) and spinning takes time from
//! it. So the barrier spins up to [`MAX_SPIN`], a sixteenth of it longer after a wait that ended
//! within that time, half as long after a longer one, and not at all after a spin that lost its
//! core (a gap of [`PREEMPTED`] between two looks at the clock: the cores are taken).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// The longest an early thread spins before it sleeps, in nanoseconds.
const MAX_SPIN: u64 = 50_000;

/// A gap between two looks at the clock while spinning (normally a few microseconds apart) that
/// means the spinning thread lost its core, in nanoseconds.
const PREEMPTED: u64 = 50_000;

/// A reusable barrier for `n` threads (see the [module docs](self)).
pub(crate) struct Barrier {
    n: usize,
    /// Threads arrived in the current round.
    arrived: AtomicUsize,
    /// Rounds completed; a waiting thread leaves when it changes.
    round: AtomicUsize,
    /// Threads asleep (or about to sleep) on `wake`.
    sleepers: AtomicUsize,
    /// How long the next early thread spins, in nanoseconds.
    spin: AtomicU64,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Barrier {
    /// A barrier for `n` threads (`n` = 0 or 1: `wait` returns at once).
    pub(crate) fn new(n: usize) -> Barrier {
        Barrier {
            n,
            arrived: AtomicUsize::new(0),
            round: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            spin: AtomicU64::new(MAX_SPIN),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Waits until all `n` threads have called `wait` in this round. Everything a thread did before
    /// its call happens before what any thread does after its call returns.
    pub(crate) fn wait(&self) {
        let Some(round) = self.arrive() else {
            return;
        };
        let started = Instant::now();
        let spin = self.spin.load(Ordering::Relaxed);
        let (mut spins, mut looked, mut preempted) = (0u32, 0, false);
        while self.round.load(Ordering::Acquire) == round {
            spins += 1;
            if spins.is_multiple_of(64) {
                let now = nanos_since(started);
                preempted = now.saturating_sub(looked) > PREEMPTED;
                if preempted || now > spin {
                    self.sleep(round);
                    break;
                }
                looked = now;
            }
            std::hint::spin_loop();
        }
        let next = next_spin(spin, nanos_since(started), preempted);
        self.spin.store(next, Ordering::Relaxed);
    }

    /// Arrives without waiting for the others (they go on once all have arrived): for a thread that
    /// must not block, e.g. one ending a round that some threads may never reach.
    pub(crate) fn leave(&self) {
        self.arrive();
    }

    /// Counts this thread in; the last one of the round ends it (and returns None), the others get
    /// the round to wait for.
    fn arrive(&self) -> Option<usize> {
        if self.n <= 1 {
            return None;
        }
        let round = self.round.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 < self.n {
            return Some(round);
        }
        // The last one: the next round starts from 0 (no thread can arrive in it before the round
        // changes), then the round changes and the sleepers wake.
        self.arrived.store(0, Ordering::Relaxed);
        let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.round.fetch_add(1, Ordering::AcqRel);
        drop(guard);
        if self.sleepers.load(Ordering::Acquire) > 0 {
            self.wake.notify_all();
        }
        None
    }

    /// Sleeps until round `round` has ended.
    fn sleep(&self, round: usize) {
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.sleepers.fetch_add(1, Ordering::AcqRel);
        while self.round.load(Ordering::Acquire) == round {
            guard = self.wake.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        self.sleepers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The spin after a wait of `waited` ns that began with a spin of `spin` ns: a sixteenth of
/// [`MAX_SPIN`] more after a short wait (up to it), half as much after a long one, none after a
/// spin that lost its core (`preempted`).
fn next_spin(spin: u64, waited: u64, preempted: bool) -> u64 {
    if preempted {
        0
    } else if waited <= MAX_SPIN {
        (spin + MAX_SPIN / 16).min(MAX_SPIN)
    } else {
        spin / 2
    }
}

/// Nanoseconds since `t` (saturating).
fn nanos_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn no_thread_passes_before_all_arrive_in_any_round() {
        // Each thread adds 1 to its counter, waits, and checks that every counter reached the round.
        for n in [1, 2, 3, 5] {
            let barrier = Barrier::new(n);
            let counts: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            std::thread::scope(|s| {
                for t in 0..n {
                    let (barrier, counts) = (&barrier, &counts);
                    s.spawn(move || {
                        for round in 1..=2000 {
                            counts[t].fetch_add(1, Ordering::Relaxed);
                            barrier.wait();
                            for c in counts {
                                assert!(c.load(Ordering::Relaxed) >= round);
                            }
                            // Sometimes a thread comes late, so that the others sleep.
                            if round % 500 == t {
                                std::thread::sleep(Duration::from_millis(2));
                            }
                            barrier.wait();
                        }
                    });
                }
            });
        }
    }

    #[test]
    fn long_waits_and_lost_cores_shorten_the_spin_and_short_waits_lengthen_it() {
        assert_eq!(next_spin(MAX_SPIN, 1_000_000, false), MAX_SPIN / 2);
        assert_eq!(next_spin(MAX_SPIN / 2, 1_000_000, false), MAX_SPIN / 4);
        assert_eq!(next_spin(0, 1_000_000, false), 0);
        assert_eq!(next_spin(0, 1_000, false), MAX_SPIN / 16);
        assert_eq!(
            next_spin(MAX_SPIN / 2, MAX_SPIN, false),
            MAX_SPIN / 2 + MAX_SPIN / 16
        );
        assert_eq!(next_spin(MAX_SPIN, 0, false), MAX_SPIN);
        assert_eq!(next_spin(MAX_SPIN, 1_000, true), 0);
        // A thread 20 ms late: the other one waits long.
        let barrier = Barrier::new(2);
        for _ in 0..3 {
            std::thread::scope(|s| {
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(20));
                    barrier.wait();
                });
                barrier.wait();
            });
        }
        assert!(barrier.spin.load(Ordering::Relaxed) < MAX_SPIN);
    }
}
