//! The demo experiment (README's first command) reaches its expected result: the spring plant under
//! proportional control settles at the analytic steady state x = g*target/(k + g), and the decoded
//! population rate equals the Poisson source's rate.

use std::fs::File;
use std::path::Path;
use std::process::Command;

use arrow_array::{Array, Float64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn column(path: &Path, name: &str) -> Vec<f64> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name} in {}", path.display()));
        let col = col
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64 column");
        out.extend((0..col.len()).map(|i| col.value(i)));
    }
    out
}

#[test]
fn demo_reaches_the_analytic_steady_state() {
    let dir = tempfile::tempdir().unwrap();
    let exp = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/demo_spring.toml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_neuroloop"))
        .args(["run", exp, "--quiet", "--output"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let x = column(&dir.path().join("plant.position.parquet"), "x");
    assert_eq!(x.len(), 2001, "t = 0 plus 2000 steps of 1 ms");
    assert_eq!(x[0], 0.05, "x0");
    let (k, g, target) = (10.0, 20.0, 0.01);
    let steady = g * target / (k + g);
    let last = *x.last().unwrap();
    assert!(
        (last - steady).abs() < 0.01 * steady,
        "x(2 s) = {last} m, expected {steady} m"
    );

    let rate = column(&dir.path().join("decoder.rate.parquet"), "rate");
    let tail = &rate[rate.len() / 2..];
    let mean = tail.iter().sum::<f64>() / tail.len() as f64;
    assert!(
        (mean - 20.0).abs() < 2.0,
        "decoded rate {mean} Hz, source rate 20 Hz"
    );

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["exit_status"], "ok");
    assert_eq!(manifest["steps"], 2000);
}
