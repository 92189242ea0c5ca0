//! Seeds. Every random stream in a run is derived from the experiment's one seed and a stable name,
//! so runs are reproducible and streams are independent of engine start order.

/// Derives a 64-bit seed for the stream called `name` from the run seed (FNV-1a over the name, mixed
/// with SplitMix64; stable across platforms and releases).
///
/// ```
/// use neuroloop_core::seed::derive_seed;
/// assert_eq!(derive_seed(7, "brain"), derive_seed(7, "brain"));
/// assert_ne!(derive_seed(7, "brain"), derive_seed(7, "body"));
/// assert_ne!(derive_seed(7, "brain"), derive_seed(8, "brain"));
/// ```
pub fn derive_seed(run_seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix64(run_seed ^ splitmix64(h))
}

/// One round of SplitMix64 (Steele, Lea & Flood 2014).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
