//! Records the git commit the binary was built from, for run manifests.
fn main() {
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
