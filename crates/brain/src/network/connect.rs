//! Drawing connections: NEST's connection rules, and weights and delays per synapse, for the targets one
//! thread owns.
//!
//! Every random number comes from a stream that belongs to one target neuron (or, for
//! `fixed_outdegree`, one source neuron) of one projection, so the synapses a neuron gets do not depend
//! on how neurons are split over threads. Rules as in NEST 3.10 (`conn_builder.cpp`): the same
//! distributions, not the same random numbers.

use rand::{RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use super::spec::{Connect, Dist, Rule};
use super::{Members, NetworkError};

/// The random stream `(kind, index)` of the run seed.
pub(crate) fn stream(seed: u64, kind: u64, index: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(super::mix(seed, kind, index))
}

/// What a projection's synapses look like on one thread, before they are sorted into rows.
pub(crate) struct Drawn {
    /// (source row: global id minus the smallest source id, local target index), in draw order.
    pub pairs: Vec<(u32, u32)>,
    /// One weight per pair, unless the weight is constant.
    pub weights: Option<Vec<f64>>,
    /// One delay (steps) per pair, unless the delay is constant.
    pub delays: Option<Vec<u16>>,
}

/// One projection as the drawing sees it.
pub(crate) struct Job<'a> {
    pub index: usize,
    pub connect: &'a Connect,
    pub weight: &'a Dist,
    pub delay: &'a Dist,
    pub h_ms: f64,
    pub seed: u64,
    /// Source neurons (a population or a group).
    pub source: &'a Members,
    /// Target neurons (a population or a group).
    pub target: &'a Members,
    /// Whether source and target are in the same population (autapses matter: a source and a
    /// target with the same global id).
    pub same: bool,
}

/// Draws a value of `d`.
pub(crate) fn sample(d: &Dist, rng: &mut Pcg64Mcg) -> f64 {
    match *d {
        Dist::Const(v) => v,
        Dist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
        Dist::Normal {
            mean,
            std,
            min,
            max,
        } => loop {
            let z: f64 = StandardNormal.sample(rng);
            let x = mean + std * z;
            if x >= min && x <= max {
                break x;
            }
        },
    }
}

/// A delay in whole steps: drawn delays below one step are drawn again (NEST's `redraw` with
/// `min = resolution`), above the largest representable delay are refused.
pub(crate) fn sample_delay(d: &Dist, h_ms: f64, rng: &mut Pcg64Mcg) -> Result<u16, String> {
    for _ in 0..1000 {
        let steps = (sample(d, rng) / h_ms).round();
        if steps >= 1.0 {
            return if steps <= f64::from(u16::MAX) {
                Ok(steps as u16)
            } else {
                Err(format!(
                    "a delay of {} ms is longer than the longest possible ({} steps)",
                    steps * h_ms,
                    u16::MAX
                ))
            };
        }
    }
    Err("delays almost never reach one step".into())
}

/// A constant delay in steps: a whole number (>= 1) of steps.
pub(crate) fn const_delay_steps(ms: f64, h_ms: f64, what: &str) -> Result<u16, NetworkError> {
    let s = (ms / h_ms).round();
    if s.is_nan() || s < 1.0 || ((ms / h_ms) - s).abs() > 1e-9 * s {
        return Err(NetworkError::Invalid(format!(
            "{what} = {ms} ms is not a whole number (>= 1) of {h_ms} ms steps"
        )));
    }
    if s > f64::from(u16::MAX) {
        return Err(NetworkError::Invalid(format!(
            "{what} = {ms} ms is longer than {} steps",
            u16::MAX
        )));
    }
    Ok(s as u16)
}

/// Checks that the rule has what it needs and can be satisfied; the text names the key.
pub(crate) fn check(c: &Connect, n_src: u64, n_tgt: u64, same: bool) -> Result<(), String> {
    let need = |v: Option<u64>, key: &str| v.ok_or_else(|| format!("rule needs `{key}`"));
    let stray: &[(&str, bool)] = &[
        (
            "indegree",
            c.indegree.is_some() && c.rule != Rule::FixedIndegree,
        ),
        (
            "outdegree",
            c.outdegree.is_some() && c.rule != Rule::FixedOutdegree,
        ),
        ("N", c.n.is_some() && c.rule != Rule::FixedTotalNumber),
        ("p", c.p.is_some() && c.rule != Rule::PairwiseBernoulli),
    ];
    if let Some((key, _)) = stray.iter().find(|(_, bad)| *bad) {
        return Err(format!("`{key}` does not belong to this rule"));
    }
    // Sources available to one target without multapses.
    let avail_src = if same && !c.allow_autapses {
        n_src.saturating_sub(1)
    } else {
        n_src
    };
    let avail_tgt = if same && !c.allow_autapses {
        n_tgt.saturating_sub(1)
    } else {
        n_tgt
    };
    match c.rule {
        Rule::AllToAll => Ok(()),
        Rule::OneToOne => {
            if n_src != n_tgt {
                Err(format!(
                    "one_to_one needs populations of equal size ({n_src} sources, {n_tgt} targets)"
                ))
            } else {
                Ok(())
            }
        }
        Rule::FixedIndegree => {
            let k = need(c.indegree, "indegree")?;
            if k > 0 && avail_src == 0 {
                Err("no source to draw from".into())
            } else if !c.allow_multapses && k > avail_src {
                Err(format!("indegree = {k} is more than the {avail_src} possible sources without multapses"))
            } else {
                Ok(())
            }
        }
        Rule::FixedOutdegree => {
            let k = need(c.outdegree, "outdegree")?;
            if k > 0 && avail_tgt == 0 {
                Err("no target to draw from".into())
            } else if !c.allow_multapses && k > avail_tgt {
                Err(format!("outdegree = {k} is more than the {avail_tgt} possible targets without multapses"))
            } else {
                Ok(())
            }
        }
        Rule::FixedTotalNumber => {
            let n = need(c.n, "N")?;
            if !c.allow_multapses {
                Err("fixed_total_number needs allow_multapses = true (as in NEST)".into())
            } else if n > 0 && (avail_src == 0 || n_tgt == 0) {
                Err("no pair to draw from".into())
            } else {
                Ok(())
            }
        }
        Rule::PairwiseBernoulli => {
            let p = c.p.ok_or("rule needs `p`")?;
            if !(0.0..=1.0).contains(&p) {
                Err(format!("p = {p} is not a probability"))
            } else {
                Ok(())
            }
        }
    }
}

/// The expected number of synapses (for the memory estimate).
pub(crate) fn expected_count(c: &Connect, n_src: u64, n_tgt: u64) -> f64 {
    match c.rule {
        Rule::AllToAll => n_src as f64 * n_tgt as f64,
        Rule::OneToOne => n_tgt as f64,
        Rule::FixedIndegree => c.indegree.unwrap_or(0) as f64 * n_tgt as f64,
        Rule::FixedOutdegree => c.outdegree.unwrap_or(0) as f64 * n_src as f64,
        Rule::FixedTotalNumber => c.n.unwrap_or(0) as f64,
        Rule::PairwiseBernoulli => c.p.unwrap_or(0.0) * n_src as f64 * n_tgt as f64,
    }
}

/// Draws the synapses of `job` that end on global ids `[lo, hi)`.
pub(crate) fn draw(job: &Job, lo: u32, hi: u32) -> Result<Drawn, NetworkError> {
    let (src, tgt) = (job.source, job.target);
    let (n_src, n_tgt) = (src.len(), tgt.len());
    let src_first = src.bounds().0;
    // The row of source index s (its id minus the smallest source id).
    let row = |s: u32| src.id(s) - src_first;
    // Target indices (within the target set) owned by this thread, in order.
    let mine: Vec<u32> = match tgt {
        Members::Range(a, b) => {
            let (l, h) = ((*a).max(lo), (*b).min(hi));
            if l < h {
                (l - a..h - a).collect()
            } else {
                Vec::new()
            }
        }
        Members::List(v) => (0..n_tgt)
            .filter(|&i| v[i as usize] >= lo && v[i as usize] < hi)
            .collect(),
    };
    let mut out = Drawn {
        pairs: Vec::new(),
        weights: (!job.weight.is_const()).then(Vec::new),
        delays: (!job.delay.is_const()).then(Vec::new),
    };
    let bad =
        |e: String| NetworkError::Invalid(format!("projections[{}].synapse.delay: {e}", job.index));
    let kind = 100 + job.index as u64;
    let c = job.connect;
    let no_autapse = job.same && !c.allow_autapses;
    // Pushes one synapse and its weight/delay draws.
    let push = |out: &mut Drawn, s: u32, tgt_local: u32, rng: &mut Pcg64Mcg| {
        out.pairs.push((row(s), tgt_local));
        if let Some(w) = &mut out.weights {
            w.push(sample(job.weight, rng));
        }
        if let Some(d) = &mut out.delays {
            d.push(sample_delay(job.delay, job.h_ms, rng)?);
        }
        Ok::<(), String>(())
    };
    match c.rule {
        Rule::FixedOutdegree => {
            let k = c.outdegree.unwrap_or(0);
            let mut chosen: Vec<u32> = Vec::new();
            for s in 0..n_src {
                let mut rng = stream(job.seed, kind, (1 << 40) | u64::from(s));
                chosen.clear();
                while (chosen.len() as u64) < k {
                    let t = rng.random_range(0..n_tgt);
                    if (no_autapse && tgt.id(t) == src.id(s))
                        || (!c.allow_multapses && chosen.contains(&t))
                    {
                        continue;
                    }
                    chosen.push(t);
                }
                // Weights and delays for every synapse of this source, in draw order, so that each
                // thread sees the same stream; keep the ones ending here.
                for &t in &chosen {
                    let g = tgt.id(t);
                    let mine = g >= lo && g < hi;
                    let w = out.weights.as_ref().map(|_| sample(job.weight, &mut rng));
                    let d = match out.delays {
                        Some(_) => Some(sample_delay(job.delay, job.h_ms, &mut rng).map_err(bad)?),
                        None => None,
                    };
                    if mine {
                        out.pairs.push((row(s), g - lo));
                        if let (Some(ws), Some(w)) = (&mut out.weights, w) {
                            ws.push(w);
                        }
                        if let (Some(ds), Some(d)) = (&mut out.delays, d) {
                            ds.push(d);
                        }
                    }
                }
            }
        }
        Rule::FixedTotalNumber => {
            // Multinomial split of N over the targets (sequential binomials on one global stream,
            // which every thread replays), then each target draws its sources.
            let total = c.n.unwrap_or(0);
            let mut counts_rng = stream(job.seed, kind, u64::MAX);
            let mut remaining = total;
            for t in 0..n_tgt {
                let left = u64::from(n_tgt - t);
                let count = if remaining == 0 {
                    0
                } else if left == 1 {
                    remaining
                } else {
                    Binomial::new(remaining, 1.0 / left as f64)
                        .map_err(|e| {
                            NetworkError::Invalid(format!("projections[{}]: {e}", job.index))
                        })?
                        .sample(&mut counts_rng)
                };
                remaining -= count;
                let g = tgt.id(t);
                if g < lo || g >= hi {
                    continue;
                }
                let mut rng = stream(job.seed, kind, u64::from(g));
                for _ in 0..count {
                    let s = loop {
                        let s = rng.random_range(0..n_src);
                        if !(no_autapse && src.id(s) == g) {
                            break s;
                        }
                    };
                    push(&mut out, s, g - lo, &mut rng).map_err(bad)?;
                }
            }
        }
        _ => {
            let mut chosen: Vec<u32> = Vec::new();
            for &t in &mine {
                let g = tgt.id(t);
                let mut rng = stream(job.seed, kind, u64::from(g));
                let local = g - lo;
                match c.rule {
                    Rule::AllToAll => {
                        for s in 0..n_src {
                            if !(no_autapse && src.id(s) == g) {
                                push(&mut out, s, local, &mut rng).map_err(bad)?;
                            }
                        }
                    }
                    Rule::OneToOne => {
                        if !(no_autapse && src.id(t) == g) {
                            push(&mut out, t, local, &mut rng).map_err(bad)?;
                        }
                    }
                    Rule::FixedIndegree => {
                        let k = c.indegree.unwrap_or(0);
                        chosen.clear();
                        while (chosen.len() as u64) < k {
                            let s = rng.random_range(0..n_src);
                            if (no_autapse && src.id(s) == g)
                                || (!c.allow_multapses && chosen.contains(&s))
                            {
                                continue;
                            }
                            chosen.push(s);
                        }
                        for &s in &chosen {
                            push(&mut out, s, local, &mut rng).map_err(bad)?;
                        }
                    }
                    Rule::PairwiseBernoulli => {
                        let p = c.p.unwrap_or(0.0);
                        if p <= 0.0 {
                            continue;
                        }
                        // Geometric skips between successes: the same law as one draw per pair.
                        let log_q = (1.0 - p).ln();
                        let mut s: i64 = -1;
                        loop {
                            let skip = if p >= 1.0 {
                                0.0
                            } else {
                                let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                                (u.ln() / log_q).floor()
                            };
                            s += 1 + skip as i64;
                            if s >= i64::from(n_src) || skip >= f64::from(n_src) {
                                break;
                            }
                            let su = s as u32;
                            if !(no_autapse && src.id(su) == g) {
                                push(&mut out, su, local, &mut rng).map_err(bad)?;
                            }
                        }
                    }
                    Rule::FixedOutdegree | Rule::FixedTotalNumber => unreachable!(),
                }
            }
        }
    }
    // Rows lie within the sources' bounds.
    debug_assert!(out
        .pairs
        .iter()
        .all(|&(s, _)| s < src.bounds().1 - src_first));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job<'a>(
        c: &'a Connect,
        w: &'a Dist,
        d: &'a Dist,
        n_src: u32,
        n_tgt: u32,
        same: bool,
    ) -> Job<'a> {
        Job {
            index: 0,
            connect: c,
            weight: w,
            delay: d,
            h_ms: 0.1,
            seed: 11,
            // Leaked: a test's few bytes.
            source: Box::leak(Box::new(Members::Range(0, n_src))),
            target: Box::leak(Box::new(if same {
                Members::Range(0, n_tgt)
            } else {
                Members::Range(n_src, n_src + n_tgt)
            })),
            same,
        }
    }

    fn all(j: &Job) -> Drawn {
        draw(j, 0, u32::MAX).unwrap()
    }

    #[test]
    fn rules_give_the_right_counts() {
        let w = Dist::Const(1.0);
        let d = Dist::Const(1.0);
        let c = Connect::all_to_all().with(false, true);
        assert_eq!(all(&job(&c, &w, &d, 5, 5, true)).pairs.len(), 20);
        let c = Connect::one_to_one();
        let r = all(&job(&c, &w, &d, 7, 7, false));
        assert_eq!(r.pairs.len(), 7);
        assert!(r.pairs.iter().all(|&(s, t)| t == s + 7));
        let c = Connect::fixed_indegree(30).with(false, false);
        let r = all(&job(&c, &w, &d, 40, 50, true));
        assert_eq!(r.pairs.len(), 1500);
        for t in 0..50u32 {
            let mut srcs: Vec<u32> = r.pairs.iter().filter(|p| p.1 == t).map(|p| p.0).collect();
            assert_eq!(srcs.len(), 30);
            assert!(!srcs.contains(&t), "autapse");
            srcs.sort_unstable();
            srcs.dedup();
            assert_eq!(srcs.len(), 30, "multapse");
        }
        let c = Connect::fixed_outdegree(9).with(true, false);
        let r = all(&job(&c, &w, &d, 20, 10, false));
        assert_eq!(r.pairs.len(), 180);
        for s in 0..20u32 {
            assert_eq!(r.pairs.iter().filter(|p| p.0 == s).count(), 9);
        }
        let c = Connect::fixed_total_number(12345);
        assert_eq!(all(&job(&c, &w, &d, 100, 80, false)).pairs.len(), 12345);
    }

    #[test]
    fn pairwise_bernoulli_has_the_binomial_mean() {
        let (w, d) = (Dist::Const(1.0), Dist::Const(1.0));
        let c = Connect::pairwise_bernoulli(0.1).with(false, true);
        let n = all(&job(&c, &w, &d, 1000, 1000, true)).pairs.len() as f64;
        let (mean, sd) = (0.1 * 999_000.0, (999_000.0f64 * 0.1 * 0.9).sqrt());
        assert!((n - mean).abs() < 4.0 * sd, "{n} vs {mean}");
        let c = Connect::pairwise_bernoulli(1.0);
        assert_eq!(all(&job(&c, &w, &d, 30, 20, false)).pairs.len(), 600);
    }

    #[test]
    fn the_split_over_threads_changes_nothing() {
        let w = Dist::Normal {
            mean: 5.0,
            std: 1.0,
            min: 0.0,
            max: f64::INFINITY,
        };
        let d = Dist::Uniform { min: 0.5, max: 3.0 };
        for c in [
            Connect::fixed_indegree(10),
            Connect::fixed_outdegree(10),
            Connect::fixed_total_number(500),
            Connect::pairwise_bernoulli(0.2),
        ] {
            let j = job(&c, &w, &d, 60, 60, true);
            let whole = all(&j);
            let (a, b) = (draw(&j, 0, 25).unwrap(), draw(&j, 25, 60).unwrap());
            let mut joined: Vec<(u32, u32, f64, u16)> = Vec::new();
            for (part, off) in [(&a, 0), (&b, 25)] {
                for (i, &(s, t)) in part.pairs.iter().enumerate() {
                    let ws = part.weights.as_ref().unwrap();
                    let ds = part.delays.as_ref().unwrap();
                    joined.push((s, t + off, ws[i], ds[i]));
                }
            }
            let mut expect: Vec<(u32, u32, f64, u16)> = whole
                .pairs
                .iter()
                .enumerate()
                .map(|(i, &(s, t))| {
                    (
                        s,
                        t,
                        whole.weights.as_ref().unwrap()[i],
                        whole.delays.as_ref().unwrap()[i],
                    )
                })
                .collect();
            let key = |x: &(u32, u32, f64, u16)| (x.1, x.0, x.2.to_bits(), x.3);
            joined.sort_by_key(key);
            expect.sort_by_key(key);
            assert_eq!(joined, expect, "{:?}", c.rule);
        }
    }

    #[test]
    fn drawn_values_follow_their_distribution() {
        let mut rng = stream(1, 2, 3);
        let d = Dist::Normal {
            mean: 1.5,
            std: 0.75,
            min: 0.1,
            max: f64::INFINITY,
        };
        let n = 100_000;
        let mut min = f64::MAX;
        let mut sum = 0.0;
        for _ in 0..n {
            let x = sample(&d, &mut rng);
            min = min.min(x);
            sum += x;
        }
        assert!(min >= 0.1);
        // Truncated normal mean: mu + sigma phi(a)/(1 - Phi(a)), a = (0.1 - 1.5)/0.75 = -1.8667.
        let expected = 1.5 + 0.75 * 0.069_94 / (1.0 - 0.030_97);
        assert!(
            (sum / n as f64 - expected).abs() < 0.01,
            "{}",
            sum / n as f64
        );
        let steps = sample_delay(&Dist::Const(0.04), 0.1, &mut rng);
        assert!(steps.is_err());
    }

    #[test]
    fn impossible_rules_are_refused() {
        assert!(check(
            &Connect::fixed_indegree(10).with(false, false),
            10,
            10,
            true
        )
        .unwrap_err()
        .contains("9 possible sources"));
        assert!(check(&Connect::one_to_one(), 3, 4, false).is_err());
        assert!(check(&Connect::pairwise_bernoulli(1.5), 3, 4, false).is_err());
        assert!(check(
            &Connect::fixed_total_number(5).with(true, false),
            3,
            4,
            false
        )
        .is_err());
        let mut c = Connect::all_to_all();
        c.indegree = Some(3);
        assert!(check(&c, 3, 3, false).unwrap_err().contains("indegree"));
    }
}
