//! The afferent maps the proprioception and skin engines write into the run folder
//! (`<engine>.afferents.json`), through the constructor `new` uses, with the run folder given instead
//! of read from `NEUROLOOP_RUN_DIR` (tests run in parallel and must not share that variable).

mod common;
use std::path::PathBuf;

use common::ctx;
use neuroloop_core::port::PortKind;
use neuroloop_sensors::afferents::AfferentMap;
use neuroloop_sensors::proprio::Proprioception;
use neuroloop_sensors::skin::Skin;
use serde_json::json;

/// A fresh folder for `tag` (removed first if left over).
fn run_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuroloop-afferents-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read_map(path: PathBuf) -> AfferentMap {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn spike_size(ports: &[neuroloop_core::port::PortSpec], name: &str) -> usize {
    match ports.iter().find(|p| p.name == name).map(|p| &p.kind) {
        Some(PortKind::Spikes { size }) => *size as usize,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn proprioception_names_the_muscle_of_every_neuron() {
    use neuroloop_core::engine::Engine;
    let dir = run_dir("proprio");
    let c = ctx(
        "spindles",
        json!({ "muscles": ["Foot1", "Foot2", "Humerus1"], "afferents_per_muscle": 2 }),
        1,
        1,
    );
    let engine = Proprioception::with_run_dir(&c, Some(&dir)).unwrap();
    let map = read_map(dir.join("spindles.afferents.json"));
    assert_eq!(map, engine.afferent_map("spindles"));
    assert_eq!(
        (map.engine.as_str(), map.kind.as_str()),
        ("spindles", "proprioception")
    );
    let ports = engine.ports();
    let names: Vec<&str> = map.ports.keys().map(String::as_str).collect();
    assert_eq!(names, ["ia", "ib", "ii"]);
    for (port, list) in &map.ports {
        assert_eq!(list.len(), spike_size(&ports, port), "{port}");
        let muscles: Vec<&str> = list.iter().map(|a| a.muscle.as_deref().unwrap()).collect();
        assert_eq!(
            muscles,
            ["Foot1", "Foot1", "Foot2", "Foot2", "Humerus1", "Humerus1"],
            "{port}: neuron muscle * afferents_per_muscle + j"
        );
        for (k, a) in list.iter().enumerate() {
            assert_eq!((a.neuron as usize, a.afferent.as_str()), (k, port.as_str()));
            assert!(a.taxel.is_none() && a.position_m.is_none());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn skin_names_the_taxel_shape_and_position_of_every_neuron() {
    use neuroloop_core::engine::Engine;
    let dir = run_dir("skin");
    let skin = Skin::with_run_dir(&ctx("skin", json!({}), 1, 1), Some(&dir)).unwrap();
    let map = read_map(dir.join("skin.afferents.json"));
    assert_eq!(map, skin.afferent_map("skin"));
    assert_eq!(map.kind, "skin");
    let names: Vec<&str> = map.ports.keys().map(String::as_str).collect();
    assert_eq!(names, ["ra1", "sa1"], "no pc port unless configured");
    let ports = skin.ports();
    let shapes: std::collections::BTreeSet<&str> = map.ports["sa1"]
        .iter()
        .map(|a| a.shape.as_deref().unwrap())
        .collect();
    assert!(shapes.len() > 1, "taxels on several paw shapes: {shapes:?}");
    for (port, list) in &map.ports {
        assert_eq!(list.len(), spike_size(&ports, port));
        assert_eq!(list.len(), skin.n_taxels());
        for (k, a) in list.iter().enumerate() {
            assert_eq!(a.neuron as usize, k);
            assert_eq!(a.taxel_index, Some(k as u32));
            assert_eq!(a.afferent, *port);
            let taxel = a.taxel.as_deref().unwrap();
            assert_eq!(taxel, skin.taxel_names()[k]);
            // Default surfaces name their taxels <shape><k>.
            assert!(taxel.starts_with(a.shape.as_deref().unwrap()), "{taxel}");
            assert_eq!(a.position_m, Some(skin.taxel_positions()[k]));
            assert!(a.muscle.is_none());
        }
    }
    // The pressure port's channels are the taxels in the same order.
    let pressure = ports.iter().find(|p| p.name == "pressure").unwrap();
    if let PortKind::Analog { channels } = &pressure.kind {
        assert_eq!(channels[3].name, map.ports["sa1"][3].taxel.clone().unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_run_folder_is_a_configuration_error_naming_the_file() {
    let dir = run_dir("blocked");
    std::fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("file");
    std::fs::write(&blocker, "").unwrap();
    let e = match Proprioception::with_run_dir(&ctx("spindles", json!({}), 1, 1), Some(&blocker)) {
        Ok(_) => panic!("wrote into a file"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("spindles.afferents.json") && e.contains("engines.spindles"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
