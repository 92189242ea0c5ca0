//! Per-step statistics in bounded memory: a run of a day costs what a run of a minute does.

/// Bins per power of two: a percentile read from the histogram is within 1/128 (0.8 %) of the
/// exact one.
const SUB: u64 = 64;

/// Durations in ns counted in log-spaced bins (exact below 64 ns, then 64 bins per power of two up
/// to 2^64 ns), with their exact count and sum: 30 KB whatever the number of values.
#[derive(Clone, Debug)]
pub struct Histogram {
    bins: Vec<u64>,
    count: u64,
    sum_ns: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            bins: vec![0; Self::N_BINS],
            count: 0,
            sum_ns: 0,
        }
    }
}

impl Histogram {
    const N_BINS: usize = ((64 - 6 + 1) * SUB) as usize;

    /// The bin of `ns`.
    fn bin(ns: u64) -> usize {
        if ns < SUB {
            return ns as usize;
        }
        let e = 63 - u64::from(ns.leading_zeros()); // floor(log2 ns) >= 6
        let shift = e - 6;
        let mantissa = ns >> shift; // in [64, 128)
        ((shift + 1) * SUB + (mantissa - SUB)) as usize
    }

    /// The middle of bin `i`, ns.
    fn mid(i: usize) -> f64 {
        let i = i as u64;
        if i < SUB {
            return i as f64;
        }
        let (octave, m) = (i / SUB, i % SUB + SUB);
        let lower = (m << (octave - 1)) as f64;
        let width = (1u64 << (octave - 1)) as f64;
        lower + 0.5 * (width - 1.0)
    }

    /// Counts one value.
    pub fn push(&mut self, ns: u64) {
        self.bins[Self::bin(ns)] += 1;
        self.count += 1;
        self.sum_ns += u128::from(ns);
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their sum, s.
    pub fn sum_s(&self) -> f64 {
        self.sum_ns as f64 * 1e-9
    }

    /// The `q`-quantile (0..=1) in us, as `percentiles_us` takes it from sorted values (the value of
    /// rank round((n - 1) q)); NaN when empty.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let rank = ((self.count - 1) as f64 * q).round() as u64;
        let mut seen = 0;
        for (i, &c) in self.bins.iter().enumerate() {
            seen += c;
            if seen > rank {
                return Self::mid(i) / 1000.0;
            }
        }
        f64::NAN
    }

    /// p50 and p99 in us (NaN when empty).
    pub fn p50_p99_us(&self) -> (f64, f64) {
        (self.quantile_us(0.5), self.quantile_us(0.99))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::percentiles_us;

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_ones() {
        let mut h = Histogram::default();
        let mut v = Vec::new();
        let mut x: u64 = 12345;
        for _ in 0..100_000 {
            // A spread from a few ns to a few s, log-uniform-ish.
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ns = 1 + (x >> 33) % (1 << ((x >> 59) as u32 + 2));
            h.push(ns);
            v.push(ns);
        }
        assert_eq!(h.count(), 100_000);
        assert_eq!(
            h.sum_s(),
            v.iter().map(|&n| n as u128).sum::<u128>() as f64 * 1e-9
        );
        let (e50, e99) = percentiles_us(&v);
        let (h50, h99) = h.p50_p99_us();
        assert!((h50 - e50).abs() <= 0.01 * e50 + 1e-3, "{h50} vs {e50}");
        assert!((h99 - e99).abs() <= 0.01 * e99 + 1e-3, "{h99} vs {e99}");
    }

    #[test]
    fn bins_cover_every_u64_and_small_values_are_exact() {
        for ns in [0, 1, 63, 64, 65, 127, 128, 1 << 40, u64::MAX] {
            let i = Histogram::bin(ns);
            assert!(i < Histogram::N_BINS, "{ns}");
        }
        let mut h = Histogram::default();
        h.push(7);
        assert_eq!(h.quantile_us(0.5), 0.007);
        assert!(Histogram::default().quantile_us(0.5).is_nan());
    }
}
