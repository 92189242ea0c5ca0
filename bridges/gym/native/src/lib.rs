//! The in-process backend of `neuroloop_gym` (bridges/gym): its one job is to step the gym's
//! forelimbs — the `body` engine of `neuroloop-body`, built from the same configuration table as in the
//! gym's experiment file, and optionally the sensor engines of `neuroloop-sensors` — directly from
//! Python, with no run, coordinator or zenoh exchange in between, writing their outputs into numpy
//! arrays ([`limbs`] says what and when).
//!
//! Python module `neuroloop_gym_native` (built by maturin: `scripts/setup_python.sh`, or `maturin
//! develop --release -m bridges/gym/native/Cargo.toml` in the virtual environment):
//!
//! ```python
//! import json, numpy as np, neuroloop_gym_native as nat
//! limbs = nat.Limbs(json.dumps(spec), n=1, seed=0)    # spec: see limbs::LimbSpec
//! rows = np.zeros((1, limbs.row_len))
//! limbs.reset(0, 7, rows[0])                          # limb 0, a new episode with seed 7
//! limbs.step(np.full((1, limbs.n_muscles), 0.2), rows) # one control step of every limb
//! ```

pub mod limbs;

use std::sync::Mutex;

use numpy::{PyReadonlyArray2, PyReadwriteArray1, PyReadwriteArray2};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::limbs::LimbError;

fn py_err(e: LimbError) -> PyErr {
    match e {
        LimbError::Spec(s) => PyValueError::new_err(s),
        LimbError::Engine(s) => PyRuntimeError::new_err(s),
    }
}

fn contiguous<T>(r: Result<T, numpy::AsSliceError>, what: &str) -> PyResult<T> {
    r.map_err(|_| PyValueError::new_err(format!("{what} must be a C-contiguous float64 array")))
}

/// N forelimbs stepped in-process (see the Rust docs of `neuroloop_gym_native::limbs`).
#[pyclass(name = "Limbs", module = "neuroloop_gym_native")]
struct PyLimbs {
    inner: Mutex<limbs::Limbs>,
}

impl PyLimbs {
    fn get(&self) -> std::sync::MutexGuard<'_, limbs::Limbs> {
        // A panic while stepping poisons the lock; the limbs are still whole (a panic leaves no
        // half-written Rust state that matters to Python), so go on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyLimbs {
    /// `spec_json`: the specification (JSON text); `n` limbs; limb `i` starts with seed `seed + i`.
    #[new]
    #[pyo3(signature = (spec_json, n = 1, seed = 0))]
    fn new(spec_json: &str, n: usize, seed: u64) -> PyResult<Self> {
        let inner = limbs::Limbs::from_json(spec_json, n, seed).map_err(py_err)?;
        Ok(PyLimbs {
            inner: Mutex::new(inner),
        })
    }

    /// Values per limb in a row: the reported ports, then the summaries.
    #[getter]
    fn row_len(&self) -> usize {
        self.get().row_len()
    }

    /// Excitations per limb.
    #[getter]
    fn n_muscles(&self) -> usize {
        self.get().n_muscles()
    }

    /// Names of the summaries at the end of a row.
    #[getter]
    fn summary_names(&self) -> Vec<String> {
        self.get().summary_names().to_vec()
    }

    fn __len__(&self) -> usize {
        self.get().len()
    }

    /// A new episode of limb `i` with `seed`; writes its row at t = 0 into `row` (float64, row_len).
    fn reset(
        &self,
        py: Python<'_>,
        i: usize,
        seed: u64,
        mut row: PyReadwriteArray1<f64>,
    ) -> PyResult<()> {
        let row = contiguous(row.as_slice_mut(), "row")?;
        let mut guard = self.get();
        let limbs: &mut limbs::Limbs = &mut guard;
        py.detach(|| limbs.reset(i, seed, row)).map_err(py_err)
    }

    /// The current row of limb `i`, written into `row`.
    fn observe(&self, i: usize, mut row: PyReadwriteArray1<f64>) -> PyResult<()> {
        let row = contiguous(row.as_slice_mut(), "row")?;
        self.get().observe(i, row).map_err(py_err)
    }

    /// One control step of every limb, driven by the excitations of the previous call (or the initial
    /// ones); `excitations` (float64, n x n_muscles) act during the next step; the rows after the step
    /// are written into `rows` (float64, n x row_len). The GIL is released while the limbs step.
    fn step(
        &self,
        py: Python<'_>,
        excitations: PyReadonlyArray2<f64>,
        mut rows: PyReadwriteArray2<f64>,
    ) -> PyResult<()> {
        let next = contiguous(excitations.as_slice(), "excitations")?;
        let out = contiguous(rows.as_slice_mut(), "rows")?;
        let mut guard = self.get();
        let limbs: &mut limbs::Limbs = &mut guard;
        py.detach(|| limbs.step(next, out)).map_err(py_err)
    }
}

/// The seed of the stream `name` of a run with seed `seed` (`neuroloop_core::seed::derive_seed`: how a
/// run derives its engines' and its episodes' seeds).
#[pyfunction]
fn derive_seed(seed: u64, name: &str) -> u64 {
    neuroloop_core::seed::derive_seed(seed, name)
}

/// The Python module `neuroloop_gym_native`.
#[pymodule]
fn neuroloop_gym_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLimbs>()?;
    m.add_function(wrap_pyfunction!(derive_seed, m)?)?;
    m.add("BASE_STEP_MS", limbs::BASE_STEP_MS)?;
    Ok(())
}
