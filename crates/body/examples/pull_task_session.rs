//! A whole Mathis (2017) session with the scripted PD controller: the `body` and `joystick_pd` engines
//! stepped in-process through the Engine trait (one step of delay each way), printing a summary per
//! block and optionally writing the trial records.
//!
//! Usage: `cargo run --release -p neuroloop-body --example pull_task_session -- [trials.jsonl]`

use neuroloop_body::engine::BodyEngine;
use neuroloop_body::new_controller_engine;
use neuroloop_body::task::{Block, Outcome};
use neuroloop_core::engine::{Engine, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::payload::Payload;
use neuroloop_core::time::Step;

fn ctx(name: &str, config: serde_json::Value) -> InitContext {
    InitContext {
        name: name.into(),
        config,
        seed: 0,
        base_step_ms: 1.0,
        period: 1,
        episode: 0,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--help") {
        println!("usage: pull_task_session [trials.jsonl]");
        return Ok(());
    }
    let cfg = match &arg {
        Some(p) => serde_json::json!({ "trials_path": p }),
        None => serde_json::json!({}),
    };
    let mut body = BodyEngine::new(&ctx("body", cfg))?;
    let mut pd = new_controller_engine(&ctx("pd", serde_json::json!({})))?;
    let port = body.port_ids();
    let (bp, cp) = (body.ports(), pd.ports());
    let (mut bi, mut bo) = (Inputs::for_ports(&bp), Outputs::for_ports(&bp));
    let (mut ci, mut co) = (Inputs::for_ports(&cp), Outputs::for_ports(&cp));
    body.initial_outputs(&mut bo);
    pd.initial_outputs(&mut co);
    let t0 = std::time::Instant::now();
    let mut t = 0u64;
    while bo.analog(port.task)[0] != 5.0 && t < 3_600_000 {
        let c = StepContext {
            step: Step(t),
            n_steps: 1,
            base_step_ms: 1.0,
        };
        bi.set(0, Payload::Analog(co.analog(2).to_vec()), Some(Step(t)))?;
        let js = bo.analog(port.joystick_position_mm).to_vec();
        ci.set(0, Payload::Analog(js), Some(Step(t)))?;
        ci.set(
            1,
            Payload::Analog(bo.analog(port.task).to_vec()),
            Some(Step(t)),
        )?;
        body.step(&c, &bi, &mut bo)?;
        pd.step(&c, &ci, &mut co)?;
        t += 1;
    }
    println!(
        "{} trials in {:.1} simulated s ({:.1} s wall)",
        body.trials().len(),
        t as f64 * 1e-3,
        t0.elapsed().as_secs_f64()
    );
    for block in [Block::Baseline, Block::ForceField, Block::Washout] {
        let rs: Vec<_> = body.trials().iter().filter(|r| r.block == block).collect();
        if rs.is_empty() {
            continue;
        }
        let ok = rs.iter().filter(|r| r.outcome == Outcome::Success).count();
        let mean = |f: &dyn Fn(&&neuroloop_body::task::TrialRecord) -> f64| {
            let v: Vec<f64> = rs.iter().map(f).filter(|x| x.is_finite()).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        println!(
            "{block:?}: {ok}/{} rewarded, reaction {:.0} ms, movement {:.0} ms, lateral at bins {:?} mm",
            rs.len(),
            mean(&|r| r.reaction_time_ms),
            mean(&|r| r.movement_time_ms),
            (0..rs[0].lateral_at_bins_mm.len())
                .map(|b| format!("{:.2}", mean(&|r| r.lateral_at_bins_mm[b])))
                .collect::<Vec<_>>()
        );
    }
    body.shutdown();
    Ok(())
}
