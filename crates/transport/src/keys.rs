//! Key expressions of a run (see the table in the crate docs).

/// Root of every key of the run `run_id`.
pub fn run_root(run_id: &str) -> String {
    format!("neuroloop/{run_id}")
}

/// Liveliness token of the coordinator.
pub fn coordinator_token(run_id: &str) -> String {
    format!("neuroloop/{run_id}/coordinator")
}

/// Liveliness token of an engine.
pub fn engine_token(run_id: &str, engine: &str) -> String {
    format!("neuroloop/{run_id}/engine/{engine}")
}

/// Liveliness tokens of every engine of the run (wildcard).
pub fn engine_tokens(run_id: &str) -> String {
    format!("neuroloop/{run_id}/engine/*")
}

/// Messages to an engine.
pub fn to_engine(run_id: &str, engine: &str) -> String {
    format!("neuroloop/{run_id}/engine/{engine}/in")
}

/// Messages from an engine.
pub fn from_engine(run_id: &str, engine: &str) -> String {
    format!("neuroloop/{run_id}/engine/{engine}/out")
}

/// Messages from every engine (wildcard).
pub fn from_engines(run_id: &str) -> String {
    format!("neuroloop/{run_id}/engine/*/out")
}

/// The engine name in a key of this run (`neuroloop/<run>/engine/<name>[/...]`).
pub fn engine_of<'a>(run_id: &str, key: &'a str) -> Option<&'a str> {
    let rest = key
        .strip_prefix("neuroloop/")?
        .strip_prefix(run_id)?
        .strip_prefix("/engine/")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Checks that a run id can be used in key expressions (`[A-Za-z0-9_-]+`).
pub fn valid_run_id(run_id: &str) -> bool {
    !run_id.is_empty()
        && run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_come_back_out_of_keys() {
        assert_eq!(engine_of("r1", &from_engine("r1", "plant")), Some("plant"));
        assert_eq!(engine_of("r1", &engine_token("r1", "plant")), Some("plant"));
        assert_eq!(engine_of("r2", &from_engine("r1", "plant")), None);
        assert!(valid_run_id("demo-1a_2") && !valid_run_id("a/b") && !valid_run_id(""));
    }
}
