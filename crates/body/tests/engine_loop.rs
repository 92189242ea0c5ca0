//! The `body` engine stepped through the Engine trait, closed in a loop with the scripted `joystick_pd`
//! controller (one step of delay each way, as the lockstep coordinator delivers).

use neuroloop_body::engine::BodyEngine;
use neuroloop_body::task::{Block, Outcome, TrialRecord};
use neuroloop_body::{new_controller_engine, new_engine};
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

/// Runs body + controller until the session is over (or `max_steps`); returns the trial records.
fn run_session(body_cfg: serde_json::Value, max_steps: u64) -> (BodyEngine, Vec<TrialRecord>) {
    let mut body = BodyEngine::new(&ctx("body", body_cfg.clone())).unwrap();
    let mut pd = new_controller_engine(&ctx("pd", serde_json::json!({}))).unwrap();
    let port = body.port_ids();
    let (bp, cp) = (body.ports(), pd.ports());
    let (mut bi, mut bo) = (Inputs::for_ports(&bp), Outputs::for_ports(&bp));
    let (mut ci, mut co) = (Inputs::for_ports(&cp), Outputs::for_ports(&cp));
    body.initial_outputs(&mut bo);
    pd.initial_outputs(&mut co);
    for t in 0..max_steps {
        let c = StepContext {
            step: Step(t),
            n_steps: 1,
            base_step_ms: 1.0,
        };
        bi.set(0, Payload::Analog(co.analog(2).to_vec()), Some(Step(t)))
            .unwrap();
        ci.set(
            0,
            Payload::Analog(bo.analog(port.joystick_position_mm).to_vec()),
            Some(Step(t)),
        )
        .unwrap();
        ci.set(
            1,
            Payload::Analog(bo.analog(port.task).to_vec()),
            Some(Step(t)),
        )
        .unwrap();
        body.step(&c, &bi, &mut bo).unwrap();
        pd.step(&c, &ci, &mut co).unwrap();
        if bo.analog(port.task)[0] == 5.0 {
            break;
        }
    }
    // The engine writes each record to its trials file as the trial ends and keeps none: read them back.
    assert!(
        body.trials().is_empty(),
        "records kept after they were written"
    );
    let path = body_cfg["trials_path"].as_str().expect("a trials_path");
    let records = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("episode");
            serde_json::from_value(v).unwrap()
        })
        .collect();
    (body, records)
}

#[test]
fn scripted_controller_completes_most_trials_and_the_pulse_deflects_it() {
    let dir = std::env::temp_dir().join(format!("neuroloop_body_trials_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trials.jsonl");
    let cfg = serde_json::json!({
        "trials_path": path,
        "task": { "baseline_trials": 4, "force_field_trials": 4, "washout_trials": 2, "iti_ms": 300.0 }
    });
    let (mut body, recs) = run_session(cfg, 20_000);
    assert_eq!(recs.len(), 10, "the session did not finish");
    let ok = recs
        .iter()
        .filter(|r| r.outcome == Outcome::Success)
        .count();
    assert!(ok >= 8, "only {ok} of 10 trials rewarded");
    for r in &recs {
        assert!(
            r.reaction_time_ms > 0.0 && r.reaction_time_ms < 300.0,
            "{r:?}"
        );
        if r.outcome == Outcome::Success {
            assert!(
                r.movement_time_ms > 20.0 && r.movement_time_ms < 400.0,
                "{r:?}"
            );
        }
        assert!(!r.trajectory.is_empty());
    }
    // Lateral displacement at the 1.5 mm bin: force-field trials vs the last baseline trial.
    let lat = |r: &TrialRecord| r.lateral_at_bins_mm[2];
    let base = lat(&recs[3]);
    for r in recs.iter().filter(|r| r.block == Block::ForceField) {
        assert!(r.perturbed);
        assert!(
            lat(r) - base > 0.2,
            "the +0.1 N pulse moved the pull by only {} mm",
            lat(r) - base
        );
    }
    // Washout returns to baseline (this controller does not adapt).
    assert!((lat(&recs[9]) - base).abs() < 0.05);
    // Every record reached the file as its trial ended, one JSON object per line.
    let text = std::fs::read_to_string(&path).unwrap();
    let back: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back.len(), 10);
    assert_eq!(back[4]["block"], "force_field");
    assert_eq!(back[9]["index"], 9);
    body.shutdown();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ports_follow_the_documented_layout() {
    let e = BodyEngine::new(&ctx("body", serde_json::json!({}))).unwrap();
    let ports = e.ports();
    let port = e.port_ids();
    let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "excitations",
            "joint_torques",
            "joint_angles",
            "joint_velocities",
            "muscles",
            "paw_position_mm",
            "joystick_position_mm",
            "body_poses",
            "contacts",
            "task",
            "reward"
        ]
    );
    let chans = |i: usize| match &ports[i].kind {
        neuroloop_core::port::PortKind::Analog { channels } => {
            channels.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
        }
        _ => vec![],
    };
    assert_eq!(chans(port.excitations.index())[4], "Humerus1");
    assert_eq!(chans(port.muscles.index()).len(), 32);
    assert_eq!(chans(port.muscles.index())[0], "Foot1.length_m");
    assert_eq!(chans(port.joint_angles.index()).len(), 6);
    assert!(chans(port.body_poses.index()).contains(&"humerus.x".to_string()));
    assert_eq!(chans(port.contacts.index()).len(), 16 * 5);
    // Each handle names the port it was declared with.
    let name = |i: usize| ports[i].name.as_str();
    assert_eq!(name(port.joint_torques.index()), "joint_torques");
    assert_eq!(name(port.joint_velocities.index()), "joint_velocities");
    assert_eq!(name(port.paw_position_mm.index()), "paw_position_mm");
    assert_eq!(
        name(port.joystick_position_mm.index()),
        "joystick_position_mm"
    );
    assert_eq!(name(port.task.index()), "task");
    assert_eq!(name(port.reward.index()), "reward");
}

#[test]
fn out_of_range_excitation_is_refused_or_clamped() {
    for clamp in [false, true] {
        let mut e = new_engine(&ctx(
            "body",
            serde_json::json!({ "clamp_excitations": clamp }),
        ))
        .unwrap();
        let ports = e.ports();
        let mut i = Inputs::for_ports(&ports);
        let mut o = Outputs::for_ports(&ports);
        i.set(
            0,
            Payload::Analog(vec![0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0]),
            None,
        )
        .unwrap();
        let c = StepContext {
            step: Step(0),
            n_steps: 1,
            base_step_ms: 1.0,
        };
        let r = e.step(&c, &i, &mut o);
        if clamp {
            r.unwrap();
        } else {
            let msg = r.unwrap_err().to_string();
            assert!(msg.contains("Radius1") && msg.contains("1.5"), "{msg}");
        }
    }
}

#[test]
fn bad_config_names_the_key() {
    let e = new_engine(&ctx("body", serde_json::json!({ "physics_step_ms": 0.3 })))
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("engines.body.config.physics_step_ms"),
        "{e}"
    );
    let e = new_engine(&ctx(
        "body",
        serde_json::json!({ "task": { "hold_ms": -1.0 } }),
    ))
    .err()
    .unwrap();
    assert!(e.to_string().contains("task.hold_ms"), "{e}");
    let e = new_engine(&ctx("body", serde_json::json!({ "wrold": "x.toml" })))
        .err()
        .unwrap();
    assert!(e.to_string().contains("wrold"), "{e}");
    // A trials file that cannot be created (its folder is a file) is refused at start-up.
    let blocker =
        std::env::temp_dir().join(format!("neuroloop_body_blocker_{}", std::process::id()));
    std::fs::write(&blocker, "not a folder").unwrap();
    let e = new_engine(&ctx(
        "body",
        serde_json::json!({ "trials_path": blocker.join("trials.jsonl") }),
    ))
    .err()
    .unwrap();
    std::fs::remove_file(&blocker).ok();
    assert!(
        e.to_string().contains("engines.body.config.trials_path"),
        "{e}"
    );
    let e = new_controller_engine(&ctx(
        "pd",
        serde_json::json!({ "pull_weights": [1, 0, 0, 0, 0, -1, 0, 0] }),
    ))
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("engines.pd.config.pull_weights[5]"),
        "{e}"
    );
}

/// Two physics substeps per 1 ms base step (physics_step_ms = 0.5) and the 2 ms sync step both run.
#[test]
fn substeps_and_long_sync_steps_work() {
    let mut e =
        BodyEngine::new(&ctx("body", serde_json::json!({ "physics_step_ms": 0.5 }))).unwrap();
    let port = e.port_ids();
    let ports = e.ports();
    let i = Inputs::for_ports(&ports);
    let mut o = Outputs::for_ports(&ports);
    for t in 0..50 {
        let c = StepContext {
            step: Step(2 * t),
            n_steps: 2,
            base_step_ms: 1.0,
        };
        e.step(&c, &i, &mut o).unwrap();
    }
    assert!(o.analog(port.joint_angles).iter().all(|q| q.is_finite()));
    e.reset().unwrap();
}
