//! Every file in `experiments/broken/` must be refused with the message (and line) its header expects:
//!
//! ```toml
//! # expect: <substring of the error>
//! # expect-line: <line of the problem with that message>   (optional)
//! ```
//!
//! Also: a valid experiment loads, `--set` overrides change it while lines still point into the
//! original file, and malformed overrides are refused.

use std::path::{Path, PathBuf};

use neuroloop_core::engine::{EngineError, InitContext};
use neuroloop_core::experiment::{load, ConfigError, PortCatalog};
use neuroloop_core::port::{PortKind, PortSpec};
use neuroloop_core::seed::derive_seed;
use neuroloop_core::time::Step;

/// Fake built-ins: `spring` (input force in N, output position in m), `p_controller` (the reverse) and
/// `poisson_source` (output spikes of config `size`, default 10).
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
                // Configuration read the way the real engines read it (InitContext::config).
                #[derive(serde::Deserialize)]
                struct Config {
                    #[serde(default = "ten")]
                    size: u32,
                }
                fn ten() -> u32 {
                    10
                }
                let c: Config = ctx.config()?;
                Ok(vec![PortSpec::output(
                    "spikes",
                    PortKind::Spikes { size: c.size },
                )])
            }
            _ => Err(EngineError::Model(format!("no built-in {kind}"))),
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

fn broken_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/broken")
}

/// The value of the header comment `# NAME: value`.
fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("# {name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(str::trim)
}

#[test]
fn broken_files_are_refused_with_their_message_and_line() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(broken_dir())
        .expect("experiments/broken exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "only {} broken files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        let expect = header(&text, "expect")
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", file.display()));
        let line: Option<usize> =
            header(&text, "expect-line").map(|l| l.parse().expect("expect-line is a number"));
        let err: ConfigError = match load(file, &[], &Catalog) {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", file.display()));
                continue;
            }
            Err(e) => e,
        };
        let shown = err.to_string();
        println!("{shown}");
        let Some(problem) = err.problems.iter().find(|p| p.to_string().contains(expect)) else {
            failures.push(format!(
                "{}: expected {expect:?} in\n{shown}",
                file.display()
            ));
            continue;
        };
        if line.is_some() && problem.line != line {
            failures.push(format!(
                "{}: expected line {line:?}, got {:?}: {shown}",
                file.display(),
                problem.line
            ));
        }
        // Every displayed line starts with the file name.
        let name = file.display().to_string();
        assert!(shown.lines().all(|l| l.starts_with(&name)), "{shown}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const VALID: &str = r#"# A spring and a P controller closing the loop.
[run]
duration_ms = 2000.0
base_step_ms = 0.5
seed = 42

[engines.plant]
kind = "spring"
step_ms = 1.0
config = { stiffness_n_per_m = 20.0 }

[engines.controller]
kind = "p_controller"
step_ms = 2.0

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

fn write_valid() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spring_loop.toml");
    std::fs::write(&path, VALID).unwrap();
    (dir, path)
}

#[test]
fn valid_file_loads() {
    let (_dir, path) = write_valid();
    let exp = load(&path, &[], &Catalog).unwrap();
    assert_eq!(exp.name, "spring_loop");
    assert_eq!(exp.duration, Step(4000));
    assert_eq!(
        exp.engines.iter().map(|e| e.period).collect::<Vec<_>>(),
        [4, 2]
    );
    assert_eq!(exp.engines[1].seed, derive_seed(42, "plant"));
    assert_eq!(exp.links.len(), 2);
    assert_eq!(exp.record.len(), 2);
    assert_eq!(exp.source.as_deref(), Some(path.as_path()));
}

#[test]
fn overrides_change_seeds_and_keep_original_lines() {
    let (_dir, path) = write_valid();
    let exp = load(&path, &["run.seed=7".to_string()], &Catalog).unwrap();
    assert_eq!(exp.seed, 7);
    assert_eq!(exp.engines[0].seed, derive_seed(7, "controller"));
    assert_eq!(exp.engines[1].seed, derive_seed(7, "plant"));
    assert_eq!(exp.overrides, ["run.seed=7"]);
    assert_eq!(exp.text, VALID);
    // A problem caused by an override still points at the original line (comment on line 1 counts).
    let sets = [
        "run.seed=7".to_string(),
        "engines.plant.step_ms=0.75".to_string(),
    ];
    let err = load(&path, &sets, &Catalog).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.path, "engines.plant.step_ms");
    assert_eq!(p.line, Some(9));
    assert!(p.message.contains("0.75 is not a whole multiple"), "{err}");
    // Overrides that break links are checked like the file.
    let err = load(
        &path,
        &["links[0].to=\"controller.force\"".to_string()],
        &Catalog,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains(":18:1: links[0].to: controller.force is an output port"),
        "{err}"
    );
}

#[test]
fn malformed_overrides_are_refused() {
    let (_dir, path) = write_valid();
    for bad in ["run.seed", "=7", " = 7", "run..seed=7", "links[5].to=x"] {
        let err = load(&path, &[bad.to_string()], &Catalog).unwrap_err();
        assert_eq!(err.problems[0].path, format!("--set {bad}"), "{err}");
    }
}
