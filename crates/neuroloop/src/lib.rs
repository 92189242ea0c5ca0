//! The `neuroloop` package as a library, for programs that drive runs with `neuroloop_run` the way the
//! CLI does: the catalog of built-in engine kinds (to load experiment files with their ports checked)
//! and `neuroloop check` (the expected results of a run folder).

pub mod catalog;
pub mod check;
