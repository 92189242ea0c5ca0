//! From text to a resolved [`Experiment`]: overrides, strict deserialization, then every cross-field
//! check, gathering all problems.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::check::{check_refs, Origins};
use super::expect::{self, ExpectOrigins};
use super::paths::{apply_override, fmt_path, join, line_col, Locator};
use super::spec::{EngineSection, ExperimentSpec, PortSection};
use super::{
    ConfigError, EngineKind, EngineSpec, Experiment, LinkSpec, PortCatalog, PortRef, Problem,
    ZenohSpec,
};
use crate::engine::{EngineError, InitContext};
use crate::port::{valid_name, Channel, PortKind, PortSpec, PortType};
use crate::seed::derive_seed;
use crate::time::{steps_in, Step};

/// The most base steps a run may have: 10^12 (about 32 years at 1 ms). Per-step statistics are kept in
/// bounded memory, so a long run costs what a short one does; beyond this a duration is a mistake.
pub const MAX_STEPS: u64 = 1_000_000_000_000;

/// A resolved experiment with the problems found so far (it is only usable if there are none).
pub(crate) struct Read<'a> {
    pub(crate) exp: Experiment,
    pub(crate) origins: Origins,
    pub(crate) problems: Vec<Problem>,
    /// Where each `[[expect]]` entry of the experiment came from in the file.
    pub(crate) expect_origins: ExpectOrigins,
    source: Option<&'a Path>,
    /// The overrides as parsed key paths, with their text.
    overrides: Vec<(String, String)>,
}

impl Read<'_> {
    /// The error for `problems`, placed in the original text.
    pub(crate) fn error(&self, problems: Vec<Problem>) -> ConfigError {
        finish(&self.exp.text, self.source, &self.overrides, problems)
    }
}

fn file_name(source: Option<&Path>) -> String {
    source.map_or_else(|| "<experiment>".to_string(), |p| p.display().to_string())
}

/// Fills in lines and columns (in the original `text`), notes overridden values, sorts by position and
/// removes duplicates.
fn finish(
    text: &str,
    source: Option<&Path>,
    overrides: &[(String, String)],
    problems: Vec<Problem>,
) -> ConfigError {
    let locator = Locator::new(text);
    let mut out: Vec<Problem> = Vec::new();
    for mut p in problems {
        if let Some((_, set)) = overrides.iter().rev().find(|(key, _)| under(&p.path, key)) {
            p.message.push_str(&format!(" (value from --set {set})"));
        }
        if p.line.is_none() {
            if let Some((l, c)) = locator.locate(&p.path, false) {
                p.line = Some(l);
                p.column = Some(c);
            }
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
    ConfigError {
        file: file_name(source),
        problems: out,
    }
}

/// Whether `path` is `key` or inside it.
fn under(path: &str, key: &str) -> bool {
    !key.is_empty()
        && path.starts_with(key)
        && matches!(
            path[key.len()..].chars().next(),
            None | Some('.') | Some('[')
        )
}

/// Deserializes `text` with `overrides` applied; a failure is a finished [`ConfigError`].
fn deserialize(
    text: &str,
    source: Option<&Path>,
    overrides: &[String],
) -> Result<(ExperimentSpec, Vec<(String, String)>), ConfigError> {
    let fail = |problems: Vec<Problem>| ConfigError {
        file: file_name(source),
        problems,
    };
    if overrides.is_empty() {
        return toml::from_str(text)
            .map(|spec| (spec, Vec::new()))
            .map_err(|e| fail(vec![de_problem(text, text, &e)]));
    }
    let mut doc = match text.parse::<toml_edit::DocumentMut>() {
        Ok(doc) => doc,
        Err(e) => {
            let mut p = Problem::new("", e.message().trim().to_string());
            if let Some(span) = e.span() {
                let (l, c) = line_col(text, span.start);
                p.line = Some(l);
                p.column = Some(c);
            }
            return Err(fail(vec![p]));
        }
    };
    let mut applied = Vec::new();
    let mut problems = Vec::new();
    for o in overrides {
        match apply_override(&mut doc, o) {
            Ok(segs) => applied.push((fmt_path(&segs), o.clone())),
            Err(m) => problems.push(Problem::new(format!("--set {o}"), m)),
        }
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let edited = doc.to_string();
    match toml::from_str(&edited) {
        Ok(spec) => Ok((spec, applied)),
        Err(e) => {
            let mut p = de_problem(&edited, text, &e);
            p.line = None;
            p.column = None;
            Err(finish(text, source, &applied, vec![p]))
        }
    }
}

/// A problem from a deserialization error on `parsed` (positions are taken in `parsed`, which is
/// `original` when there are no overrides).
fn de_problem(parsed: &str, original: &str, e: &toml::de::Error) -> Problem {
    let message = e.message().trim().to_string();
    let mut p = Problem::new("", message.clone());
    if let Some(span) = e.span() {
        let locator = Locator::new(parsed);
        p.path = locator.path_at(span.start).unwrap_or_default();
        let (l, c) = line_col(original, span.start);
        p.line = Some(l);
        p.column = Some(c);
    }
    // A parse error (a duplicate key) or a value out of its type's range (a seed of 2^64) comes with a
    // place but no key path: take the key from the text there.
    if p.path.is_empty() {
        if let Some(span) = e.span() {
            if let Some(key) = key_at(original, span.start) {
                p.path = key.clone();
                if message == "duplicate key" {
                    p.message = "duplicate key: it is set twice".into();
                }
            }
        }
    }
    // Name the missing or unknown key itself rather than its table.
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(key) = rest.split('`').next() {
                let last = p.path.rsplit('.').next().unwrap_or("");
                if last != key {
                    p.path = join(&p.path, key);
                }
            }
        }
    }
    p
}

/// Reads `text`: overrides, deserialization (failures end here), then resolution with every
/// cross-field problem collected.
pub(crate) fn read<'a>(
    text: &str,
    source: Option<&'a Path>,
    overrides: &[String],
) -> Result<Read<'a>, ConfigError> {
    let (spec, applied) = deserialize(text, source, overrides)?;
    let mut problems = Vec::new();
    let mut bad = |path: String, message: String| problems.push(Problem::new(path, message));

    // [run]
    let run = &spec.run;
    let name = match &run.name {
        Some(n) if n.trim().is_empty() => {
            bad(
                "run.name".into(),
                "run.name = \"\" must not be empty".into(),
            );
            "experiment".to_string()
        }
        Some(n) if n.contains(['/', '\\']) => {
            bad(
                "run.name".into(),
                format!("run.name = \"{n}\" must not contain / or \\"),
            );
            n.clone()
        }
        Some(n) => n.clone(),
        None => source.and_then(|p| p.file_stem()).map_or_else(
            || "experiment".to_string(),
            |s| s.to_string_lossy().into_owned(),
        ),
    };
    let base = run.base_step_ms;
    let base_ok = base.is_finite() && base > 0.0;
    if !base_ok {
        bad(
            "run.base_step_ms".into(),
            format!("base_step_ms = {base} must be a positive number of ms"),
        );
    }
    let mut duration = Step(1);
    let d = run.duration_ms;
    if !(d.is_finite() && d > 0.0) {
        bad(
            "run.duration_ms".into(),
            format!("duration_ms = {d} must be a positive number of ms"),
        );
    } else if base_ok {
        match steps_in(d, base) {
            Some(n) if n > MAX_STEPS => bad(
                "run.duration_ms".into(),
                format!(
                    "duration_ms = {} is {n} base steps of {base} ms: at most {MAX_STEPS} are allowed",
                    if d < 1e15 { d.to_string() } else { format!("{d:e}") }
                ),
            ),
            Some(n) if n >= 1 => duration = Step(n),
            _ => bad(
                "run.duration_ms".into(),
                format!("duration_ms = {d} is not a whole multiple of run.base_step_ms = {base}"),
            ),
        }
    }
    let mut max_window = u32::MAX;
    if let Some(w) = run.window_ms {
        match steps_in(w, base).map(u32::try_from) {
            _ if !(w.is_finite() && w > 0.0) => bad(
                "run.window_ms".into(),
                format!("window_ms = {w} must be a positive number of ms"),
            ),
            Some(Ok(n)) if n >= 1 => max_window = n,
            Some(Ok(_)) => bad(
                "run.window_ms".into(),
                format!("window_ms = {w} is shorter than run.base_step_ms = {base}"),
            ),
            _ => bad(
                "run.window_ms".into(),
                format!("window_ms = {w} is not a whole multiple of run.base_step_ms = {base}"),
            ),
        }
    }
    if run.step_timeout_ms == 0 {
        bad(
            "run.step_timeout_ms".into(),
            "step_timeout_ms = 0 must be > 0".into(),
        );
    }
    if run.join_timeout_ms == 0 {
        bad(
            "run.join_timeout_ms".into(),
            "join_timeout_ms = 0 must be > 0".into(),
        );
    }

    // [engines.*]
    if spec.engines.is_empty() {
        bad(
            "engines".into(),
            "the experiment has no engines: add at least one [engines.NAME] table".into(),
        );
    }
    let folder = source.and_then(Path::parent);
    let mut engines = Vec::new();
    for (ename, e) in &spec.engines {
        let (engine, engine_problems) =
            resolve_engine(ename, e, run.seed, base_ok.then_some(base), folder);
        problems.extend(engine_problems);
        engines.push(engine);
    }
    let mut bad = |path: String, message: String| problems.push(Problem::new(path, message));

    // [[links]] and [record]
    let mut links = Vec::new();
    let mut origins = Origins {
        link_index: Vec::new(),
        record_index: Vec::new(),
    };
    for (i, l) in spec.links.iter().enumerate() {
        let from = parse_ref(&l.from).map_err(|m| bad(format!("links[{i}].from"), m));
        let to = parse_ref(&l.to).map_err(|m| bad(format!("links[{i}].to"), m));
        if let (Ok(from), Ok(to)) = (from, to) {
            let delay = match l.delay_ms {
                None => 1,
                Some(d) => {
                    let key = format!("links[{i}].delay_ms");
                    match steps_in(d, base).map(u32::try_from) {
                        _ if !(d.is_finite() && d > 0.0) => {
                            bad(
                                key,
                                format!("delay_ms = {d} must be a positive number of ms"),
                            );
                            1
                        }
                        Some(Ok(n)) if n >= 1 => n,
                        Some(Ok(_)) => {
                            bad(
                                key,
                                format!("delay_ms = {d} is shorter than run.base_step_ms = {base}"),
                            );
                            1
                        }
                        Some(Err(_)) => {
                            bad(
                                key,
                                format!("delay_ms = {d} is too many base steps of {base} ms"),
                            );
                            1
                        }
                        None => {
                            bad(key, format!("delay_ms = {d} is not a whole multiple of run.base_step_ms = {base}"));
                            1
                        }
                    }
                }
            };
            links.push(LinkSpec {
                from,
                to,
                transfer: l.transfer.clone(),
                delay,
            });
            origins.link_index.push(i);
        }
    }
    let mut record = Vec::new();
    for (i, r) in spec.record.iter().flat_map(|r| r.ports.iter()).enumerate() {
        match parse_ref(r) {
            Ok(r) => {
                record.push(r);
                origins.record_index.push(i);
            }
            Err(m) => bad(format!("record.ports[{i}]"), m),
        }
    }

    // [[expect]]
    let (expectations, expect_origins) =
        expect::resolve(&spec.expect, &spec.decoders, &mut problems);

    let zenoh = spec
        .zenoh
        .as_ref()
        .map(|z| ZenohSpec {
            listen: z.listen.clone(),
            connect: z.connect.clone(),
            lowlatency: z.lowlatency,
            tls: z
                .tls
                .as_ref()
                .map(|t| resolve_tls(t, folder, &mut problems)),
        })
        .unwrap_or_default();
    if zenoh.tls.is_some() {
        let endpoints = zenoh.listen.iter().map(|e| ("zenoh.listen".to_string(), e));
        let connect = zenoh.connect.iter().enumerate();
        for (path, e) in endpoints.chain(connect.map(|(i, e)| (format!("zenoh.connect[{i}]"), e))) {
            if !e.starts_with("tls/") {
                problems.push(Problem::new(
                    path,
                    format!(
                        "endpoint \"{e}\" is not TLS: with [zenoh] tls every endpoint must be tls/HOST:PORT"
                    ),
                ));
            }
        }
    }
    let exp = Experiment {
        source: source.map(Path::to_path_buf),
        text: text.to_string(),
        overrides: overrides.to_vec(),
        name,
        base_step_ms: base,
        max_window,
        duration,
        seed: run.seed,
        realtime: run.realtime,
        step_timeout_ms: run.step_timeout_ms,
        join_timeout_ms: run.join_timeout_ms,
        output_dir: PathBuf::from(&run.output_dir),
        zenoh,
        engines,
        links,
        record,
        expect: expectations,
    };
    problems.extend(check_refs(&exp, &origins));
    problems.extend(expect::check_refs(&exp, &expect_origins));
    Ok(Read {
        exp,
        origins,
        problems,
        expect_origins,
        source,
        overrides: applied,
    })
}

/// Resolves `[zenoh] tls` against the experiment file's folder; a file that does not exist is a
/// problem at its key (its content is checked when the run opens its zenoh session).
fn resolve_tls(
    t: &super::spec::TlsSection,
    folder: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> super::TlsSpec {
    let mut resolve = |key: &str, given: &str| {
        let path = match folder {
            Some(f) if Path::new(given).is_relative() => f.join(given),
            _ => PathBuf::from(given),
        };
        if !path.is_file() {
            let why = if path.exists() {
                "is not a file"
            } else {
                "not found"
            };
            problems.push(Problem::new(
                format!("zenoh.tls.{key}"),
                format!("TLS file \"{given}\" {why} (looked for {})", path.display()),
            ));
        }
        path
    };
    super::TlsSpec {
        ca: resolve("ca", &t.ca),
        cert: resolve("cert", &t.cert),
        key: resolve("key", &t.key),
    }
}

/// Parses `engine.port`.
pub(crate) fn parse_ref(text: &str) -> Result<PortRef, String> {
    match text.split_once('.') {
        Some((e, p)) if valid_name(e) && valid_name(p) => Ok(PortRef {
            engine: e.into(),
            port: p.into(),
        }),
        _ => Err(format!(
            "\"{text}\" is not of the form \"engine.port\" (names made of letters, digits and _)"
        )),
    }
}

/// Resolves one engine table; the engine is returned even with problems (with fallbacks) so that later
/// checks can still run.
fn resolve_engine(
    name: &str,
    e: &EngineSection,
    run_seed: u64,
    base: Option<f64>,
    folder: Option<&Path>,
) -> (EngineSpec, Vec<Problem>) {
    let path = join("engines", name);
    let mut problems = Vec::new();
    let mut bad = |key: &str, message: String| {
        problems.push(Problem::new(
            if key.is_empty() {
                path.clone()
            } else {
                join(&path, key)
            },
            message,
        ))
    };
    if !valid_name(name) {
        bad(
            "",
            format!("engine name \"{name}\" is not allowed: use only letters, digits and _"),
        );
    }
    let mut period = 1;
    let s = e.step_ms;
    if !(s.is_finite() && s > 0.0) {
        bad(
            "step_ms",
            format!("step_ms = {s} must be a positive number of ms"),
        );
    } else if let Some(base) = base {
        match steps_in(s, base).map(u32::try_from) {
            Some(Ok(n)) if n >= 1 => period = n,
            Some(Ok(_)) => bad(
                "step_ms",
                format!("step_ms = {s} is shorter than run.base_step_ms = {base}"),
            ),
            Some(Err(_)) => bad(
                "step_ms",
                format!("step_ms = {s} is too many base steps of {base} ms"),
            ),
            None => bad(
                "step_ms",
                format!("step_ms = {s} is not a whole multiple of run.base_step_ms = {base}"),
            ),
        }
    }
    let kind = if e.kind.contains('/') {
        // Drop `.` components so that messages and paths read cleanly.
        let given: PathBuf = Path::new(&e.kind)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        let resolved = match folder {
            Some(f) if given.is_relative() => f.join(&given),
            _ => given,
        };
        if !e.external {
            if !resolved.exists() {
                bad(
                    "kind",
                    format!(
                        "executable \"{}\" not found (looked for {})",
                        e.kind,
                        resolved.display()
                    ),
                );
            } else if !resolved.is_file() {
                bad(
                    "kind",
                    format!(
                        "executable \"{}\" is not a file ({})",
                        e.kind,
                        resolved.display()
                    ),
                );
            } else if let Some(mode) = unix_mode(&resolved).filter(|m| m & 0o111 == 0) {
                bad(
                    "kind",
                    format!(
                        "executable \"{}\" is not executable ({}, mode {:o}): chmod +x it",
                        e.kind,
                        resolved.display(),
                        mode & 0o777
                    ),
                );
            }
        }
        EngineKind::Executable(resolved)
    } else {
        if e.kind.trim().is_empty() {
            bad(
                "kind",
                "kind = \"\": name a built-in engine or an executable's path".into(),
            );
        }
        if e.args.as_ref().is_some_and(|a| !a.is_empty()) {
            bad(
                "args",
                format!(
                    "args are only passed to executables, and kind = \"{}\" is a built-in engine",
                    e.kind
                ),
            );
        }
        if e.ports.is_some() {
            bad(
                "ports",
                format!("ports are declared only for executables; the built-in engine \"{}\" declares its own", e.kind),
            );
        }
        EngineKind::Builtin(e.kind.clone())
    };
    let mut config = match &e.config {
        None => serde_json::Value::Object(serde_json::Map::new()),
        Some(t) => table_to_json(t, &join(&path, "config"), &mut problems),
    };
    if let (EngineKind::Builtin(_), Some(folder)) = (&kind, folder) {
        resolve_file_keys(&mut config, folder);
    }
    let declared_ports = match (&kind, &e.ports) {
        (EngineKind::Executable(_), Some(list)) => {
            let mut ports: Vec<PortSpec> = Vec::new();
            for (i, p) in list.iter().enumerate() {
                let ppath = format!("{}.ports[{i}]", path);
                if ports.iter().any(|q| q.name == p.name) {
                    problems.push(Problem::new(
                        format!("{ppath}.name"),
                        format!("port \"{}\" is declared twice on engine \"{name}\"", p.name),
                    ));
                }
                if let Some(spec) = declared_port(p, &ppath, &mut problems) {
                    ports.push(spec);
                }
            }
            Some(ports)
        }
        _ => None,
    };
    let engine = EngineSpec {
        name: name.to_string(),
        kind,
        external: e.external,
        period,
        seed: e.seed.unwrap_or_else(|| derive_seed(run_seed, name)),
        config,
        args: e.args.clone().unwrap_or_default(),
        declared_ports,
    };
    (engine, problems)
}

/// Makes the relative paths in a built-in engine's configuration relative to the experiment file's folder:
/// every string under a key ending in `_file` (`network_file`, `world_file`), at any depth.
fn resolve_file_keys(config: &mut serde_json::Value, folder: &Path) {
    match config {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(s) if k.ends_with("_file") => {
                        let given = Path::new(s.as_str());
                        if given.is_relative() && !s.is_empty() {
                            *s = folder.join(given).to_string_lossy().into_owned();
                        }
                    }
                    other => resolve_file_keys(other, folder),
                }
            }
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|x| resolve_file_keys(x, folder));
        }
        _ => {}
    }
}

/// Turns a port declaration into a [`PortSpec`], checking that the fields fit its type.
fn declared_port(p: &PortSection, path: &str, problems: &mut Vec<Problem>) -> Option<PortSpec> {
    let start = problems.len();
    let mut bad =
        |key: &str, message: String| problems.push(Problem::new(format!("{path}.{key}"), message));
    if !valid_name(&p.name) {
        bad(
            "name",
            format!(
                "port name \"{}\" is not allowed: use only letters, digits and _",
                p.name
            ),
        );
    }
    let t = p.port_type;
    let fields: [(&str, bool, bool); 5] = [
        ("size", p.size.is_some(), t == PortType::Spikes),
        ("channels", p.channels.is_some(), t == PortType::Analog),
        ("width", p.width.is_some(), t == PortType::Events),
        ("height", p.height.is_some(), t == PortType::Events),
        ("unit", p.unit.is_some(), t == PortType::Scalar),
    ];
    for (key, present, belongs) in fields {
        if present && !belongs {
            bad(
                key,
                format!("{key} does not apply to a port of type = \"{t}\""),
            );
        }
    }
    let kind = match t {
        PortType::Spikes => match p.size {
            Some(size) if size > 0 => Some(PortKind::Spikes { size }),
            Some(_) => {
                bad(
                    "size",
                    "size = 0: a spike port needs at least one neuron".into(),
                );
                None
            }
            None => {
                bad(
                    "size",
                    "a spikes port needs size = NUMBER_OF_NEURONS".into(),
                );
                None
            }
        },
        PortType::Analog => match &p.channels {
            Some(ch) if !ch.is_empty() => {
                for (i, c) in ch.iter().enumerate() {
                    if c.unit.trim().is_empty() {
                        bad(
                            &format!("channels[{i}].unit"),
                            format!("channel \"{}\" needs a unit (\"1\" if none)", c.name),
                        );
                    }
                }
                Some(PortKind::Analog {
                    channels: ch
                        .iter()
                        .map(|c| Channel {
                            name: c.name.clone(),
                            unit: c.unit.clone(),
                        })
                        .collect(),
                })
            }
            _ => {
                bad(
                    "channels",
                    "an analog port needs channels = [{ name = \"...\", unit = \"...\" }, ...]"
                        .into(),
                );
                None
            }
        },
        PortType::Events => match (p.width, p.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => Some(PortKind::Events {
                width: w,
                height: h,
            }),
            _ => {
                bad(
                    "width",
                    "an events port needs width and height (both > 0)".into(),
                );
                None
            }
        },
        PortType::Scalar => Some(PortKind::Scalar {
            unit: p.unit.clone().unwrap_or_else(|| "1".into()),
        }),
    };
    if problems.len() > start {
        return None;
    }
    kind.map(|kind| PortSpec {
        name: p.name.clone(),
        direction: p.direction,
        kind,
    })
}

/// Converts a TOML table to JSON (datetimes become strings; NaN and infinities are problems).
fn table_to_json(t: &toml::Table, path: &str, problems: &mut Vec<Problem>) -> serde_json::Value {
    serde_json::Value::Object(
        t.iter()
            .map(|(k, v)| (k.clone(), to_json(v, &join(path, k), problems)))
            .collect(),
    )
}

fn to_json(v: &toml::Value, path: &str, problems: &mut Vec<Problem>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or_else(|| {
                problems.push(Problem::new(
                    path,
                    format!("{f} cannot be passed to an engine (JSON has no such number)"),
                ));
                J::Null
            }),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| to_json(x, &format!("{path}[{i}]"), problems))
                .collect(),
        ),
        toml::Value::Table(t) => table_to_json(t, path, problems),
    }
}

/// Every engine's ports: built-ins through the catalog, executables from their declarations (absent
/// when undeclared). Unknown built-ins and configuration errors are problems.
pub(crate) fn gather_ports(
    exp: &Experiment,
    catalog: &dyn PortCatalog,
) -> (BTreeMap<String, Vec<PortSpec>>, Vec<Problem>) {
    let mut ports = BTreeMap::new();
    let mut problems = Vec::new();
    for e in &exp.engines {
        let path = join("engines", &e.name);
        match &e.kind {
            EngineKind::Builtin(kind) if kind.trim().is_empty() => {}
            EngineKind::Builtin(kind) if !catalog.is_builtin(kind) => problems.push(Problem::new(
                join(&path, "kind"),
                format!(
                    "unknown engine kind \"{kind}\" (built-in engines: {}; a path to an executable must contain '/')",
                    catalog.builtin_names().join(", ")
                ),
            )),
            EngineKind::Builtin(kind) => {
                let ctx = InitContext {
                    name: e.name.clone(),
                    config: e.config.clone(),
                    seed: e.seed,
                    base_step_ms: exp.base_step_ms,
                    period: e.period,
                    episode: 0,
                };
                match catalog.builtin_ports(kind, &ctx) {
                    Ok(list) => {
                        ports.insert(e.name.clone(), list);
                    }
                    // A configuration error points at its key itself.
                    Err(EngineError::Config(c)) => problems.push(Problem::new(c.path(), c.reason)),
                    Err(other) => problems.push(Problem::new(join(&path, "config"), other.to_string())),
                }
            }
            EngineKind::Executable(_) => {
                if let Some(list) = &e.declared_ports {
                    ports.insert(e.name.clone(), list.clone());
                }
            }
        }
    }
    (ports, problems)
}

/// The permission bits of a file (None where the platform has none or the file cannot be read).
fn unix_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).ok().map(|m| m.permissions().mode())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The key path of the `key = value` line holding byte `offset` of `text`, under the nearest `[table]`
/// or `[[array]]` header above it (an array element is not numbered: `links.to`), if the line is one.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('#') || key.starts_with('[') {
        return None;
    }
    let table = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|h| h.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}
