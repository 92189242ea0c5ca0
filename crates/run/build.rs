//! Records the git commit the binary was built from and the versions of its main dependencies (read
//! from Cargo.lock), for run manifests.
fn main() {
    let lock = std::fs::read_to_string("../../Cargo.lock").unwrap_or_default();
    let wanted = [
        "zenoh",
        "parquet",
        "arrow-array",
        "tokio",
        "serde",
        "toml",
        "rand",
    ];
    let mut found = Vec::new();
    let mut name = "";
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ") {
            if wanted.contains(&name) {
                found.push(format!("{name}={}", v.trim_matches('"')));
            }
        }
    }
    println!("cargo:rustc-env=NEUROLOOP_DEP_VERSIONS={}", found.join(","));
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output();
    if let Ok(out) = out {
        if out.status.success() {
            let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
            println!("cargo:rustc-env=NEUROLOOP_GIT_COMMIT={commit}");
        }
    }
    for p in ["../../.git/HEAD", "../../.git/refs/heads"] {
        if std::path::Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
