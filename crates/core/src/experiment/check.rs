//! Checks of links and record entries: references (engines exist, one link per input, no duplicate
//! record entries) and, where ports are known, port existence, directions, types, shapes and units
//! (through every step of a link's transfer chain). Also the warnings: input ports no link feeds.

use std::collections::{BTreeMap, HashMap};

use super::{Experiment, PortRef, Problem};
use crate::port::{Direction, PortKind, PortSpec};

/// Where the links and record entries of an [`Experiment`] came from in the file: `links[i]` of the
/// experiment is `links[link_index[i]]` of the file (they differ when a link could not be read).
pub(crate) struct Origins {
    pub(crate) link_index: Vec<usize>,
    pub(crate) record_index: Vec<usize>,
}

impl Origins {
    /// Identity mapping for an experiment taken as is.
    pub(crate) fn identity(exp: &Experiment) -> Self {
        Origins {
            link_index: (0..exp.links.len()).collect(),
            record_index: (0..exp.record.len()).collect(),
        }
    }

    fn link(&self, i: usize, end: &str) -> String {
        format!(
            "links[{}].{end}",
            self.link_index.get(i).copied().unwrap_or(i)
        )
    }

    fn record(&self, i: usize) -> String {
        format!(
            "record.ports[{}]",
            self.record_index.get(i).copied().unwrap_or(i)
        )
    }
}

fn problem(path: String, message: String) -> Problem {
    Problem {
        path,
        line: None,
        column: None,
        message,
    }
}

/// Checks that need no ports: every engine named exists, every input has at most one link, no port is
/// recorded twice.
pub(crate) fn check_refs(exp: &Experiment, origins: &Origins) -> Vec<Problem> {
    let mut problems = Vec::new();
    let names: Vec<&str> = exp.engines.iter().map(|e| e.name.as_str()).collect();
    let engine_missing = |r: &PortRef, path: &str| -> Option<Problem> {
        (!names.contains(&r.engine.as_str())).then(|| {
            problem(
                path.to_string(),
                format!(
                    "engine \"{}\" in {path} does not exist (engines: {})",
                    r.engine,
                    names.join(", ")
                ),
            )
        })
    };
    let mut first_link_into: HashMap<&PortRef, usize> = HashMap::new();
    for (i, link) in exp.links.iter().enumerate() {
        let from_path = origins.link(i, "from");
        let to_path = origins.link(i, "to");
        problems.extend(engine_missing(&link.from, &from_path));
        problems.extend(engine_missing(&link.to, &to_path));
        match first_link_into.get(&link.to) {
            Some(&first) => problems.push(problem(
                to_path,
                format!(
                    "input port {} has two links (links[{}] and links[{}])",
                    link.to,
                    origins.link_index.get(first).copied().unwrap_or(first),
                    origins.link_index.get(i).copied().unwrap_or(i)
                ),
            )),
            None => {
                first_link_into.insert(&link.to, i);
            }
        }
    }
    let mut first_record: HashMap<&PortRef, usize> = HashMap::new();
    for (i, r) in exp.record.iter().enumerate() {
        let path = origins.record(i);
        problems.extend(engine_missing(r, &path));
        match first_record.get(r) {
            Some(&first) => problems.push(problem(
                path,
                format!("{r} is recorded twice (also {})", origins.record(first)),
            )),
            None => {
                first_record.insert(r, i);
            }
        }
    }
    problems
}

/// Lists a port for messages: `position (output analog[1])`.
fn describe_port(p: &PortSpec) -> String {
    let dir = match p.direction {
        Direction::Input => "input",
        Direction::Output => "output",
    };
    format!("{} ({dir} {})", p.name, p.kind.describe())
}

/// Checks that need ports. Engines absent from `ports` (or from the experiment) are skipped.
pub(crate) fn check_port_level(
    exp: &Experiment,
    ports: &BTreeMap<String, Vec<PortSpec>>,
    origins: &Origins,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    // The port `r` names, or None (with a problem pushed when the engine's ports are known).
    let find = |r: &PortRef,
                want: Direction,
                path: &str,
                problems: &mut Vec<Problem>|
     -> Option<PortSpec> {
        let list = ports.get(&r.engine)?;
        if !exp.engines.iter().any(|e| e.name == r.engine) {
            return None;
        }
        // An input and an output may share a name: prefer the direction the entry wants.
        let found = list
            .iter()
            .find(|p| p.name == r.port && p.direction == want)
            .or_else(|| list.iter().find(|p| p.name == r.port))
            .cloned();
        if found.is_none() {
            let known: Vec<String> = list.iter().map(describe_port).collect();
            problems.push(problem(
                path.to_string(),
                format!(
                    "port \"{}\" does not exist on engine \"{}\" (its ports: {})",
                    r.port,
                    r.engine,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        found
    };
    for (i, link) in exp.links.iter().enumerate() {
        let from_path = origins.link(i, "from");
        let to_path = origins.link(i, "to");
        let from = find(&link.from, Direction::Output, &from_path, &mut problems);
        let to = find(&link.to, Direction::Input, &to_path, &mut problems);
        let mut directions_ok = true;
        if let Some(f) = &from {
            if f.direction != Direction::Output {
                directions_ok = false;
                problems.push(problem(
                    from_path.clone(),
                    format!(
                        "{} is an input port, a link must start at an output",
                        link.from
                    ),
                ));
            }
        }
        if let Some(t) = &to {
            if t.direction != Direction::Input {
                directions_ok = false;
                problems.push(problem(
                    to_path.clone(),
                    format!("{} is an output port, a link must end at an input", link.to),
                ));
            }
        }
        let (Some(f), Some(t)) = (from, to) else {
            continue;
        };
        if !directions_ok {
            continue;
        }
        match &link.transfer {
            None => {
                if let Err(m) =
                    compare_kinds(&link.from.to_string(), &f.kind, &link.to, &t.kind, true)
                {
                    problems.push(problem(to_path, m));
                }
            }
            Some(chain) => match chain.output_kinds(&f.kind) {
                Err(e) => {
                    let k = e.step;
                    let step = &chain.steps[k];
                    let what = if k == 0 {
                        format!("{} ({})", link.from, f.kind.describe())
                    } else {
                        // Steps 0..k fitted, so the kind step k - 1 delivers is known.
                        let prev = chain.steps[..k]
                            .iter()
                            .try_fold(f.kind.clone(), |kind, s| s.output_kind(&kind).ok())
                            .map_or_else(String::new, |kind| format!(" ({})", kind.describe()));
                        format!(
                            "the output of {} {}{prev}",
                            chain.step_key(k - 1),
                            chain.steps[k - 1].kind_name()
                        )
                    };
                    problems.push(problem(
                        origins.link(i, &chain.step_key(k)),
                        format!(
                            "transfer {} cannot take {what}: {}",
                            step.kind_name(),
                            e.message
                        ),
                    ));
                }
                Ok(kinds) => {
                    let out = kinds.last().unwrap_or(&f.kind);
                    let what = format!("{} after transfer {}", link.from, chain.describe());
                    if let Err(m) = compare_kinds(&what, out, &link.to, &t.kind, false) {
                        problems.push(problem(origins.link(i, "transfer"), m));
                    }
                }
            },
        }
    }
    for (i, r) in exp.record.iter().enumerate() {
        let path = origins.record(i);
        if let Some(p) = find(r, Direction::Output, &path, &mut problems) {
            if p.direction == Direction::Input && !exp.links.iter().any(|l| l.to == *r) {
                problems.push(problem(
                    path,
                    format!(
                        "{r} is an input port that no link feeds; an input port is recorded as what its link delivers"
                    ),
                ));
            }
        }
    }
    problems
}

/// Whether data of kind `from` can be delivered to a port of kind `to`. Units are compared when
/// `strict_units`, otherwise only where `from` names one (non-empty).
fn compare_kinds(
    from_name: &str,
    from: &PortKind,
    to_ref: &PortRef,
    to: &PortKind,
    strict_units: bool,
) -> Result<(), String> {
    let unit_hint = |a: &str, b: &str| {
        format!(
            "unit mismatch: {a} -> {b} (add a transfer function, e.g. linear with unit = \"{b}\")"
        )
    };
    let mismatch = |what: &str| {
        format!(
            "{what}: {from_name} is {}, {to_ref} is {}",
            from.describe(),
            to.describe()
        )
    };
    match (from, to) {
        (PortKind::Spikes { size: a }, PortKind::Spikes { size: b }) if a != b => {
            Err(mismatch("size mismatch"))
        }
        (
            PortKind::Events {
                width: wa,
                height: ha,
            },
            PortKind::Events {
                width: wb,
                height: hb,
            },
        ) if (wa, ha) != (wb, hb) => Err(mismatch("sensor size mismatch")),
        (PortKind::Scalar { unit: a }, PortKind::Scalar { unit: b }) => {
            if a != b && (strict_units || !a.is_empty()) {
                Err(format!("{}; {from_name} -> {to_ref}", unit_hint(a, b)))
            } else {
                Ok(())
            }
        }
        (PortKind::Analog { channels: a }, PortKind::Analog { channels: b }) => {
            if a.len() != b.len() {
                return Err(mismatch("length mismatch"));
            }
            for (k, (ca, cb)) in a.iter().zip(b).enumerate() {
                if ca.unit != cb.unit && (strict_units || !ca.unit.is_empty()) {
                    return Err(format!(
                        "{}; channel {k}: {from_name} \"{}\" -> {to_ref} \"{}\"",
                        unit_hint(&ca.unit, &cb.unit),
                        ca.name,
                        cb.name
                    ));
                }
            }
            Ok(())
        }
        _ if from.port_type() != to.port_type() => Err(mismatch("type mismatch")),
        _ => Ok(()),
    }
}

/// Warnings (the experiment runs, but probably not as meant): every input port of an engine whose
/// ports are known that no link feeds, at the engine's key path (`engines.NAME`).
pub(crate) fn unlinked_inputs(
    exp: &Experiment,
    ports: &BTreeMap<String, Vec<PortSpec>>,
) -> Vec<Problem> {
    let mut warnings = Vec::new();
    for e in &exp.engines {
        let Some(list) = ports.get(&e.name) else {
            continue;
        };
        for p in list.iter().filter(|p| p.direction == Direction::Input) {
            let linked = exp
                .links
                .iter()
                .any(|l| l.to.engine == e.name && l.to.port == p.name);
            if !linked {
                warnings.push(problem(
                    format!("engines.{}", super::paths::fmt_key(&e.name)),
                    format!(
                        "input port \"{}\" has no link (it will receive nothing)",
                        p.name
                    ),
                ));
            }
        }
    }
    warnings
}
