//! The demo experiment (README's first command) reaches its expected result: the spring plant under
//! proportional control settles at the analytic steady state x = g*target/(k + g), and the decoded
//! population rate equals the Poisson source's rate.

mod common;

use common::{experiment, manifest, run_experiment, tempdir, unique_run_id, Table};

#[test]
fn demo_reaches_the_analytic_steady_state() {
    let dir = tempdir();
    run_experiment(
        &experiment("demo_spring.toml"),
        dir.path(),
        &unique_run_id("demo"),
        &[],
    )
    .expect_code(0);

    let plant = Table::read(&dir.path().join("plant.position.parquet"));
    let x = plant.col("x");
    assert_eq!(x.len(), 2001, "t = 0 plus 2000 steps of 1 ms");
    assert_eq!(x[0], 0.05, "x0");
    let (k, g, target) = (10.0, 20.0, 0.01);
    let steady = g * target / (k + g);
    let last = *x.last().unwrap();
    assert!(
        (last - steady).abs() < 0.01 * steady,
        "x(2 s) = {last} m, expected {steady} m"
    );

    let decoder = Table::read(&dir.path().join("decoder.rate.parquet"));
    let rate = decoder.col("rate");
    let tail = &rate[rate.len() / 2..];
    let mean = tail.iter().sum::<f64>() / tail.len() as f64;
    assert!(
        (mean - 20.0).abs() < 2.0,
        "decoded rate {mean} Hz, source rate 20 Hz"
    );

    let m = manifest(dir.path());
    assert_eq!(m["exit_status"], "ok");
    assert_eq!(m["steps"], 2000);
}
