//! Unit tests of experiment reading: parsing, overrides, locating keys, port checks.

use std::collections::BTreeMap;

use super::paths::{parse_path, Seg};
use super::*;
use crate::engine::EngineConfigError;
use crate::port::{PortKind, PortSpec};

/// Two fake built-ins: a spring and a P controller, plus a Poisson source with a configurable size.
struct Catalog;

impl PortCatalog for Catalog {
    fn is_builtin(&self, kind: &str) -> bool {
        self.builtin_names().iter().any(|n| n == kind)
    }
    fn builtin_ports(&self, kind: &str, ctx: &InitContext) -> Result<Vec<PortSpec>, EngineError> {
        match kind {
            "spring" => Ok(vec![
                PortSpec::input("force", PortKind::analog(&[("f", "N")])),
                PortSpec::output("position", PortKind::analog(&[("x", "m")])),
            ]),
            "p_controller" => Ok(vec![
                PortSpec::input("position", PortKind::analog(&[("x", "m")])),
                PortSpec::output("force", PortKind::analog(&[("f", "N")])),
            ]),
            "poisson_source" => {
                let size = match ctx.config.get("size") {
                    None => 10,
                    Some(v) => v
                        .as_u64()
                        .and_then(|s| u32::try_from(s).ok())
                        .ok_or_else(|| {
                            EngineConfigError::config(&ctx.name, "", "size must be a whole number")
                        })?,
                };
                Ok(vec![PortSpec::output("spikes", PortKind::Spikes { size })])
            }
            _ => Err(EngineError::Model(format!("unknown kind {kind}"))),
        }
    }
    fn builtin_names(&self) -> Vec<String> {
        vec![
            "spring".into(),
            "p_controller".into(),
            "poisson_source".into(),
        ]
    }
}

const GOOD: &str = r#"[run]
name = "spring_demo"
duration_ms = 2000.0
seed = 42

[engines.plant]
kind = "spring"
step_ms = 1.0
config = { stiffness_n_per_m = 20.0, when = 1979-05-27 }

[engines.controller]
kind = "p_controller"
step_ms = 2.0
seed = 3

[[links]]
from = "plant.position"
to = "controller.position"

[[links]]
from = "controller.force"
to = "plant.force"
transfer = { kind = "linear", gain = 2.0 }

[record]
ports = ["plant.position", "controller.force"]
"#;

fn load_text(text: &str, overrides: &[&str]) -> Result<Experiment, ConfigError> {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    load_str(text, None, &o, &Catalog)
}

fn err(text: &str) -> ConfigError {
    load_text(text, &[]).expect_err("should fail")
}

/// The first problem's (path, line, message).
fn first(e: &ConfigError) -> (&str, Option<usize>, &str) {
    let p = &e.problems[0];
    (p.path.as_str(), p.line, p.message.as_str())
}

#[test]
fn good_file_resolves() {
    let exp = load_text(GOOD, &[]).unwrap();
    assert_eq!(exp.name, "spring_demo");
    assert_eq!(exp.duration, Step(2000));
    assert_eq!(exp.seed, 42);
    assert_eq!(exp.step_timeout_ms, 10_000);
    assert_eq!(exp.join_timeout_ms, 20_000);
    assert_eq!(exp.output_dir, PathBuf::from("runs"));
    let names: Vec<&str> = exp.engines.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["controller", "plant"]);
    assert_eq!(exp.engines[0].period, 2);
    assert_eq!(exp.engines[0].seed, 3);
    assert_eq!(exp.engines[1].seed, crate::seed::derive_seed(42, "plant"));
    assert_eq!(
        exp.engines[1].config["stiffness_n_per_m"],
        serde_json::json!(20.0)
    );
    assert_eq!(
        exp.engines[1].config["when"],
        serde_json::json!("1979-05-27")
    );
    assert_eq!(exp.engines[0].config, serde_json::json!({}));
    assert_eq!(exp.links.len(), 2);
    assert!(exp.links[1].transfer.is_some());
    assert_eq!(exp.record[1].to_string(), "controller.force");
    assert_eq!(exp.text, GOOD);
}

#[test]
fn defaults_and_name_from_file_stem() {
    let text = "[run]\nduration_ms = 5\n[engines.a]\nkind = \"spring\"\nstep_ms = 1\n";
    let exp = parse(text, Some(Path::new("dir/my_exp.toml")), &[]).unwrap();
    assert_eq!(exp.name, "my_exp");
    assert_eq!(exp.base_step_ms, 1.0);
    assert_eq!(exp.seed, 0);
    assert!(!exp.realtime);
    assert_eq!(exp.zenoh, ZenohSpec::default());
    assert_eq!(parse(text, None, &[]).unwrap().name, "experiment");
}

#[test]
fn overrides_change_values_and_keep_lines() {
    let exp = load_text(
        GOOD,
        &[
            "run.seed=7",
            "engines.plant.config.gain=2.5",
            "run.name=foo bar",
        ],
    )
    .unwrap();
    assert_eq!(exp.seed, 7);
    assert_eq!(exp.name, "foo bar");
    assert_eq!(exp.engines[1].seed, crate::seed::derive_seed(7, "plant"));
    assert_eq!(exp.engines[0].seed, 3, "an explicit engine seed is kept");
    assert_eq!(exp.engines[1].config["gain"], serde_json::json!(2.5));
    assert_eq!(exp.text, GOOD, "the text is the original one");
    // New tables and array elements.
    let exp = load_text(
        GOOD,
        &[
            "zenoh.connect=[\"tcp/1.2.3.4:7447\"]",
            "links[1].transfer.gain=3",
        ],
    )
    .unwrap();
    assert_eq!(exp.zenoh.connect, ["tcp/1.2.3.4:7447"]);
    // A bad value set by override is reported at the original key's line.
    let e = load_text(GOOD, &["engines.controller.step_ms=2.5"]).unwrap_err();
    let (path, line, msg) = first(&e);
    assert_eq!(path, "engines.controller.step_ms");
    assert_eq!(line, Some(13));
    assert!(
        msg.contains("--set engines.controller.step_ms=2.5"),
        "{msg}"
    );
    let e = load_text(GOOD, &["run.seed=abc"]).unwrap_err();
    assert_eq!(first(&e).0, "run.seed");
    assert_eq!(first(&e).1, Some(4));
}

#[test]
fn malformed_overrides() {
    for o in [
        "run.seed",
        "=3",
        "run..seed=1",
        "links[9].to=x",
        "run.seed.x=1",
    ] {
        let e = load_text(GOOD, &[o]).unwrap_err();
        assert_eq!(e.problems[0].path, format!("--set {o}"), "{e}");
    }
}

#[test]
fn paths_parse_and_locate() {
    assert_eq!(
        parse_path("links[2].to"),
        Some(vec![
            Seg::Key("links".into()),
            Seg::Index(2),
            Seg::Key("to".into())
        ])
    );
    assert_eq!(parse_path("engines.\"a b\".kind").map(|s| s.len()), Some(3));
    assert_eq!(parse_path(""), None);
    assert_eq!(parse_path("a."), None);
    assert_eq!(locate(GOOD, "run.seed"), Some((4, 1)));
    assert_eq!(locate(GOOD, "engines.controller.step_ms"), Some((13, 1)));
    assert_eq!(locate(GOOD, "links[1]"), Some((20, 1)));
    assert_eq!(locate(GOOD, "links[1].to"), Some((22, 1)));
    assert_eq!(locate(GOOD, "links[1].transfer.gain"), Some((23, 31)));
    assert_eq!(locate(GOOD, "record.ports[1]"), Some((26, 28)));
    assert_eq!(locate(GOOD, "engines.plant.nothing"), None);
    assert_eq!(locate("not toml [", "run"), None);
}

#[test]
fn syntax_error_has_position() {
    let e = err("[run]\nduration_ms = = 3\n");
    assert_eq!(e.problems.len(), 1);
    assert_eq!(first(&e).1, Some(2));
    let e = load_text("[run\n", &["run.seed=1"]).unwrap_err();
    assert_eq!(first(&e).1, Some(1));
}

#[test]
fn serde_errors_have_paths() {
    let e =
        err("[run]\nduration_ms = 3\n[engines.a]\nkind = \"spring\"\nstep_ms = 1\ncolour = 1\n");
    assert_eq!(first(&e).0, "engines.a.colour", "{e}");
    assert_eq!(first(&e).1, Some(6));
    let e = err("[run]\nduration_ms = 3\n[engines.a]\nkind = \"spring\"\nstep_ms = \"fast\"\n");
    assert_eq!(first(&e).0, "engines.a.step_ms", "{e}");
    assert_eq!(first(&e).1, Some(5));
    let e = err("[run]\nseed = 1\n");
    assert_eq!(first(&e).0, "run.duration_ms", "{e}");
    let e = err("[run]\nduration_ms = 3\n[engines.a]\nkind = \"spring\"\nstep_ms = 1\n[[links]]\nfrom = \"a.x\"\n");
    assert_eq!(first(&e).0, "links[0].to", "{e}");
    assert_eq!(first(&e).1, Some(6), "{e}");
}

#[test]
fn all_semantic_problems_are_reported() {
    let text = r#"[run]
duration_ms = 10.5
step_timeout_ms = 0

[engines.plant]
kind = "spring"
step_ms = 2.5

[engines."bad-name"]
kind = "sprung"
step_ms = 1

[[links]]
from = "plant.force"
to = "ctrl.x"

[record]
ports = ["plant.position", "plant.position", "nodot"]
"#;
    let e = err(text);
    let s = e.to_string();
    for want in [
        "<experiment>:2:1: run.duration_ms: duration_ms = 10.5 is not a whole multiple of run.base_step_ms = 1",
        "<experiment>:3:1: run.step_timeout_ms:",
        "<experiment>:7:1: engines.plant.step_ms: step_ms = 2.5 is not a whole multiple of run.base_step_ms = 1",
        "engines.bad-name: engine name \"bad-name\" is not allowed",
        "unknown engine kind \"sprung\" (built-in engines: spring, p_controller, poisson_source",
        "links[0].from: plant.force is an input port, a link must start at an output",
        "engine \"ctrl\" in links[0].to does not exist (engines: bad-name, plant)",
        "<experiment>:18:28: record.ports[1]: plant.position is recorded twice (also record.ports[0])",
        "record.ports[2]: \"nodot\" is not of the form",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    let lines: Vec<usize> = e.problems.iter().filter_map(|p| p.line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "sorted by line: {lines:?}"
    );
}

fn ports() -> BTreeMap<String, Vec<PortSpec>> {
    let mut m = BTreeMap::new();
    m.insert(
        "plant".to_string(),
        Catalog.builtin_ports("spring", &ctx()).unwrap(),
    );
    m.insert(
        "controller".to_string(),
        Catalog.builtin_ports("p_controller", &ctx()).unwrap(),
    );
    m.insert(
        "src".to_string(),
        vec![PortSpec::output("spikes", PortKind::Spikes { size: 10 })],
    );
    m
}

fn ctx() -> InitContext {
    InitContext {
        name: "x".into(),
        config: serde_json::json!({}),
        seed: 0,
        base_step_ms: 1.0,
        period: 1,
        episode: 0,
    }
}

fn link(from: &str, to: &str, transfer: Option<&str>) -> LinkSpec {
    let r = |s: &str| {
        let (e, p) = s.split_once('.').unwrap();
        PortRef {
            engine: e.into(),
            port: p.into(),
        }
    };
    LinkSpec {
        from: r(from),
        to: r(to),
        transfer: transfer.map(|t| toml::from_str(t).unwrap()),
        delay: 1,
    }
}

fn with_links(links: Vec<LinkSpec>) -> Experiment {
    let mut exp = load_text(GOOD, &[]).unwrap();
    exp.links = links;
    exp.record.clear();
    exp.engines.push(EngineSpec {
        name: "src".into(),
        ..exp.engines[0].clone()
    });
    exp
}

#[test]
fn check_ports_cases() {
    let msgs = |links: Vec<LinkSpec>| -> Vec<String> {
        check_ports(&with_links(links), &ports())
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    };
    assert!(msgs(vec![link("plant.position", "controller.position", None)]).is_empty());
    let m = msgs(vec![link(
        "controller.force",
        "plant.force",
        Some("kind = \"linear\"\nunit = \"N\""),
    )]);
    assert!(m.is_empty(), "{m:?}");
    let m = msgs(vec![link("plant.position", "plant.force", None)]);
    assert!(m[0].starts_with("links[0].to: unit mismatch: m -> N (add a transfer function, e.g. linear with unit = \"N\")"), "{m:?}");
    let m = msgs(vec![link(
        "plant.position",
        "plant.force",
        Some("kind = \"linear\"\ngain = 2.0"),
    )]);
    assert!(m[0].contains("unit mismatch: m -> N"), "{m:?}");
    let m = msgs(vec![link("src.spikes", "controller.position", None)]);
    assert_eq!(m, ["links[0].to: type mismatch: src.spikes is spikes(10), controller.position is analog[1]"]);
    let m = msgs(vec![link(
        "src.spikes",
        "controller.position",
        Some("kind = \"spike_rate\"\nfilter = \"window\"\nwindow_ms = 10.0\nper = \"population\""),
    )]);
    assert!(
        m[0].starts_with("links[0].transfer: unit mismatch: Hz -> m"),
        "{m:?}"
    );
    let m = msgs(vec![link(
        "src.spikes",
        "controller.position",
        Some("kind = \"spike_rate\"\nfilter = \"window\"\nwindow_ms = 10.0"),
    )]);
    assert!(
        m[0].starts_with("links[0].transfer: length mismatch"),
        "{m:?}"
    );
    let m = msgs(vec![link(
        "plant.position",
        "controller.position",
        Some("kind = \"spike_rate\"\nfilter = \"window\"\nwindow_ms = 10.0"),
    )]);
    assert!(
        m[0].starts_with(
            "links[0].transfer: transfer spike_rate cannot take plant.position (analog[1])"
        ),
        "{m:?}"
    );
    let m = msgs(vec![link("plant.pos", "controller.position", None)]);
    assert_eq!(m, ["links[0].from: port \"pos\" does not exist on engine \"plant\" (its ports: force (input analog[1]), position (output analog[1]))"]);
    let m = msgs(vec![link("plant.position", "controller.force", None)]);
    assert_eq!(
        m,
        ["links[0].to: controller.force is an output port, a link must end at an input"]
    );
    let m = msgs(vec![
        link("plant.position", "controller.position", None),
        link("plant.position", "controller.position", None),
    ]);
    assert_eq!(
        m,
        ["links[1].to: input port controller.position has two links (links[0] and links[1])"]
    );
    // Engines with unknown ports are skipped.
    let mut p = ports();
    p.remove("plant");
    assert!(check_ports(
        &with_links(vec![link("plant.nothing", "controller.position", None)]),
        &p
    )
    .is_empty());
    // Record entries.
    let mut exp = with_links(vec![]);
    exp.record = vec![
        link("plant.force", "plant.nothing", None).from,
        link("plant.force", "plant.nothing", None).to,
    ];
    let m: Vec<String> = check_ports(&exp, &ports())
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        m[0],
        "record.ports[0]: plant.force is an input port that no link feeds; an input port is recorded as what its link delivers"
    );
    assert!(m[1].starts_with("record.ports[1]: port \"nothing\" does not exist"));
}

#[test]
fn declared_ports_of_executables() {
    let dir = std::env::temp_dir().join(format!("neuroloop_exp_test_{}", std::process::id()));
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/brain"), "#!/bin/sh\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let exe = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(dir.join("bin/brain"), exe).unwrap();
    }
    let text = r#"[run]
duration_ms = 10

[engines.brain]
kind = "./bin/brain"
step_ms = 1
args = ["--fast"]
[[engines.brain.ports]]
name = "rate"
direction = "input"
type = "scalar"
unit = "Hz"
[[engines.brain.ports]]
name = "cmd"
direction = "output"
type = "analog"
channels = [{ name = "x", unit = "m" }]

[engines.ext]
kind = "./bin/not_there"
step_ms = 1
external = true

[engines.plant]
kind = "spring"
step_ms = 1

[[links]]
from = "brain.cmd"
to = "plant.force"

[[links]]
from = "ext.anything"
to = "brain.rate"
"#;
    let file = dir.join("exp.toml");
    std::fs::write(&file, text).unwrap();
    let e = load(&file, &[], &Catalog).unwrap_err();
    let s = e.to_string();
    assert_eq!(e.problems.len(), 1, "{s}");
    assert!(
        s.contains(":30:1: links[0].to: unit mismatch: m -> N"),
        "{s}"
    );
    let fixed = text.replace("unit = \"m\"", "unit = \"N\"");
    std::fs::write(&file, &fixed).unwrap();
    let exp = load(&file, &[], &Catalog).unwrap();
    assert_eq!(
        exp.engines[0].kind,
        EngineKind::Executable(dir.join("bin/brain"))
    );
    assert_eq!(exp.engines[0].args, ["--fast"]);
    assert_eq!(
        exp.engines[0].declared_ports.as_ref().map(Vec::len),
        Some(2)
    );
    assert!(exp.engines[1].external);
    let missing = fixed.replace("external = true", "");
    let e = parse(&missing, Some(&file), &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("engines.ext.kind: executable \"./bin/not_there\" not found"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_file() {
    let e = load(Path::new("/nonexistent/x.toml"), &[], &Catalog).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/x.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn config_error_from_catalog() {
    let text = "[run]\nduration_ms = 5\n[engines.src]\nkind = \"poisson_source\"\nstep_ms = 1\nconfig = { size = -3 }\n";
    let e = err(text);
    assert_eq!(
        first(&e),
        ("engines.src.config", Some(6), "size must be a whole number")
    );
}

#[test]
fn nothing_panics_on_odd_input() {
    for text in ["", "\u{0}", "[run]\nduration_ms = nan\n", "[run]\nduration_ms = inf\nbase_step_ms = -0.0\n",
        "[run]\nduration_ms = 1e300\nbase_step_ms = 1e-300\n[engines.a]\nkind=\"/\"\nstep_ms=1e-20\n",
        "engines = 3\n[run]\nduration_ms = 1\n", "[[run]]\n", "[run]\nduration_ms = 1\n[engines.\"\"]\nkind = \"\"\nstep_ms = 1\n"] {
        let _ = load_text(text, &[]);
        let _ = load_text(text, &["a.b[0]=1", "x=é"]);
    }
}

#[test]
fn file_keys_of_builtins_are_relative_to_the_experiment() {
    let text = r#"
[run]
duration_ms = 10.0
[engines.brain]
kind = "spring"
step_ms = 1.0
config = { network_file = "nets/a.toml", abs_file = "/x/b.toml", name = "c.toml", nested = { world_file = "w.toml" } }
"#;
    let exp = parse(text, Some(Path::new("dir/exp.toml")), &[]).unwrap();
    let c = &exp.engines[0].config;
    assert_eq!(c["network_file"], "dir/nets/a.toml");
    assert_eq!(c["abs_file"], "/x/b.toml");
    assert_eq!(c["name"], "c.toml");
    assert_eq!(c["nested"]["world_file"], "dir/w.toml");
}

/// A link whose `transfer` is the TOML value `value` (a table or a list of tables).
fn chain_link(from: &str, to: &str, value: &str) -> LinkSpec {
    #[derive(serde::Deserialize)]
    struct L {
        transfer: crate::transfer::TransferChainSpec,
    }
    let mut l = link(from, to, None);
    l.transfer = Some(
        toml::from_str::<L>(&format!("transfer = {value}\n"))
            .unwrap()
            .transfer,
    );
    l
}

#[test]
fn transfer_chains_are_checked_step_by_step() {
    let msgs = |links: Vec<LinkSpec>| -> Vec<String> {
        check_ports(&with_links(links), &ports())
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    };
    let rate = r#"{ kind = "spike_rate", filter = "window", window_ms = 10, per = "population" }"#;
    // spikes(10) -> rate (Hz) -> linear with unit m -> controller.position (analog[1], m).
    let m = msgs(vec![chain_link(
        "src.spikes",
        "controller.position",
        &format!(r#"[{rate}, {{ kind = "linear", gain = 0.001, unit = "m" }}]"#),
    )]);
    assert!(m.is_empty(), "{m:?}");
    // The chain's last output is compared with the consumer, naming every step.
    let m = msgs(vec![chain_link(
        "src.spikes",
        "controller.position",
        &format!(r#"[{rate}, {{ kind = "poisson" }}]"#),
    )]);
    assert_eq!(
        m,
        ["links[0].transfer: type mismatch: src.spikes after transfer spike_rate -> poisson is spikes(1), controller.position is analog[1]"]
    );
    // The first step that does not fit is named with its index and kind.
    let m = msgs(vec![chain_link(
        "src.spikes",
        "controller.position",
        &format!(r#"[{{ kind = "linear" }}, {rate}]"#),
    )]);
    assert_eq!(
        m,
        ["links[0].transfer[0]: transfer linear cannot take src.spikes (spikes(10)): linear needs an analog or scalar input, got spikes(10)"]
    );
    let m = msgs(vec![chain_link(
        "src.spikes",
        "controller.position",
        &format!(
            r#"[{rate}, {{ kind = "group_rate", groups = {{ size = 1 }}, filter = "window", window_ms = 5 }}]"#
        ),
    )]);
    assert_eq!(
        m,
        ["links[0].transfer[1]: transfer group_rate cannot take the output of transfer[0] spike_rate (analog[1]): group_rate needs a spikes input, got analog[1]"]
    );
    // A single table is named `transfer`, as before.
    let m = msgs(vec![chain_link(
        "src.spikes",
        "controller.position",
        r#"{ kind = "linear" }"#,
    )]);
    assert!(
        m[0].starts_with("links[0].transfer: transfer linear cannot take src.spikes"),
        "{m:?}"
    );
}

#[test]
fn linked_input_ports_can_be_recorded() {
    let mut exp = with_links(vec![link("controller.force", "plant.force", None)]);
    exp.record = vec![
        link("plant.force", "plant.force", None).from,
        link("controller.force", "x.y", None).from,
    ];
    assert!(check_ports(&exp, &ports()).is_empty());
    // The same input without its link is refused.
    exp.links.clear();
    let m: Vec<String> = check_ports(&exp, &ports())
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("plant.force is an input port that no link feeds"));
}

#[test]
fn chains_in_files_and_their_errors_are_placed() {
    let text = GOOD.replace(
        r#"transfer = { kind = "linear", gain = 2.0 }"#,
        r#"transfer = [{ kind = "linear", gain = 2.0 }, { kind = "linear", offset = 1.0 }]"#,
    );
    let exp = load_text(&text, &[]).unwrap();
    let chain = exp.links[1].transfer.as_ref().unwrap();
    assert!(chain.listed);
    assert_eq!(chain.describe(), "linear -> linear");
    let bad = GOOD.replace(
        r#"transfer = { kind = "linear", gain = 2.0 }"#,
        r#"transfer = [{ kind = "linear", gain = 2.0 }, { kind = "linear", gian = 1.0 }]"#,
    );
    let e = err(&bad);
    let (path, line, message) = first(&e);
    assert!(
        message.starts_with("transfer[1]: unknown field `gian`"),
        "{e}"
    );
    assert_eq!(path, "links[1].transfer", "{e}");
    assert_eq!(line, Some(23), "{e}");
    let bad_kind = GOOD.replace(
        r#"transfer = { kind = "linear", gain = 2.0 }"#,
        r#"transfer = [{ kind = "linear" }, { kind = "lienar" }]"#,
    );
    let e = err(&bad_kind);
    assert!(
        first(&e)
            .2
            .starts_with("transfer[1]: unknown variant `lienar`"),
        "{e}"
    );
    let empty = GOOD.replace(
        r#"transfer = { kind = "linear", gain = 2.0 }"#,
        "transfer = []",
    );
    assert!(err(&empty)
        .to_string()
        .contains("an empty list of transfers"));
}

#[test]
fn unlinked_inputs_are_warnings() {
    let (_, warnings) = load_str_with_warnings(GOOD, None, &[], &Catalog).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let text = GOOD.replace(
        "[[links]]\nfrom = \"controller.force\"\nto = \"plant.force\"\ntransfer = { kind = \"linear\", gain = 2.0 }\n",
        "",
    );
    assert_ne!(text, GOOD);
    let (exp, warnings) = load_str_with_warnings(&text, None, &[], &Catalog).unwrap();
    assert_eq!(exp.links.len(), 1);
    let w: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        ["6:10: engines.plant: input port \"force\" has no link (it will receive nothing)"]
    );
}

#[test]
fn transfer_seeds_follow_the_endpoints() {
    let a = link("plant.position", "controller.position", None);
    let b = link("controller.force", "plant.force", None);
    assert_eq!(
        a.transfer_seed(42, 0),
        crate::seed::derive_seed(42, "plant.position->controller.position[0]")
    );
    assert_ne!(a.transfer_seed(42, 0), a.transfer_seed(42, 1));
    assert_ne!(a.transfer_seed(42, 0), b.transfer_seed(42, 0));
    assert_ne!(a.transfer_seed(42, 0), a.transfer_seed(43, 0));
}

#[test]
fn tls_files_resolve_against_the_file_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    for f in ["ca.pem", "c.pem", "c.key"] {
        std::fs::write(certs.join(f), "x").unwrap();
    }
    let file = dir.path().join("exp.toml");
    let tls = "[zenoh]\nlisten = \"tls/10.0.0.1:7447\"\ntls = { ca = \"certs/ca.pem\", cert = \"certs/c.pem\", key = \"certs/c.key\" }\n";
    let text = format!("{GOOD}\n{tls}");
    let exp = load_str(&text, Some(&file), &[], &Catalog).unwrap();
    let t = exp.zenoh.tls.expect("tls");
    assert_eq!(t.ca, certs.join("ca.pem"));
    assert_eq!(t.key, certs.join("c.key"));

    // A missing file is a problem at its key, with its line.
    let text = format!("{GOOD}\n{}", tls.replace("certs/c.key", "certs/gone.key"));
    let e = load_str(&text, Some(&file), &[], &Catalog).unwrap_err();
    let (path, line, msg) = first(&e);
    assert_eq!(path, "zenoh.tls.key");
    assert_eq!(line, Some(GOOD.lines().count() + 4));
    assert!(
        msg.contains("gone.key") && msg.contains("not found"),
        "{msg}"
    );

    // Every endpoint must be TLS.
    let text = format!("{GOOD}\n{}", tls.replace("tls/10.0.0.1", "tcp/10.0.0.1"));
    let e = load_str(&text, Some(&file), &[], &Catalog).unwrap_err();
    let (path, _, msg) = first(&e);
    assert_eq!(path, "zenoh.listen");
    assert!(msg.contains("is not TLS"), "{msg}");
}
