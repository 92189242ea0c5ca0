//! The `neuroloop` package as a library, for programs that drive runs with `neuroloop_run` the way the
//! CLI does: the catalog of built-in engine kinds (to load experiment files with their ports checked),
//! `neuroloop check` (the expected results of a run folder) and `neuroloop report` (the run folder as
//! one HTML page with figures) and the live view of `neuroloop run --view`.

pub mod catalog;
pub mod check;
pub mod report;
pub mod view;
