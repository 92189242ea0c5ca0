//! Checks and reads of the per-neuron input slices that the neuron models' `step` take.

/// The input of neuron `i` from a per-neuron slice, or 0 if the slice is empty.
#[inline(always)]
pub(crate) fn input_at(input: &[f64], i: usize) -> f64 {
    if input.is_empty() {
        0.0
    } else {
        input[i]
    }
}

/// Panics unless each input slice is empty or has one entry per neuron.
pub(crate) fn check_inputs(n: usize, ex_in: &[f64], in_in: &[f64], i_stim: &[f64]) {
    for (name, s) in [("ex_in", ex_in), ("in_in", in_in), ("i_stim", i_stim)] {
        assert!(
            s.is_empty() || s.len() == n,
            "{name} has {} entries for {n} neurons",
            s.len()
        );
    }
}
