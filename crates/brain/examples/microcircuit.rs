//! Runs the Potjans & Diesmann (2014) microcircuit and prints one JSON line with timings and rates
//! (the same keys as `bridges/nest/microcircuit.py`, for `benches/brain_vs_nest.sh`).
//!
//! `cargo run --release -p neuroloop-brain --example microcircuit -- --scale 0.25 --threads 2 --sim-ms 1000 --seed 1`
//! (`--write-toml` prints the network description file instead of running it.)

use neuroloop_brain::network::microcircuit::{run, spec, MicrocircuitConfig};

fn main() {
    let mut c = MicrocircuitConfig::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut write_toml = false;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let bad = |what: &str| -> ! {
            eprintln!("{what}: bad value {value:?}");
            std::process::exit(2)
        };
        match args[i].as_str() {
            "--scale" => c.scale = value.parse().unwrap_or_else(|_| bad("--scale")),
            "--threads" => c.threads = value.parse().unwrap_or_else(|_| bad("--threads")),
            "--sim-ms" => c.sim_ms = value.parse().unwrap_or_else(|_| bad("--sim-ms")),
            "--presim-ms" => c.presim_ms = value.parse().unwrap_or_else(|_| bad("--presim-ms")),
            "--seed" => c.seed = value.parse().unwrap_or_else(|_| bad("--seed")),
            "--write-toml" => {
                write_toml = true;
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                println!("microcircuit [--scale S] [--threads N] [--sim-ms MS] [--presim-ms MS] [--seed SEED] [--write-toml]");
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    if write_toml {
        match toml::to_string(&spec(c.scale)) {
            Ok(t) => print!("{t}"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1)
            }
        }
        return;
    }
    match run(&c) {
        Ok(r) => println!("{}", serde_json::to_string(&r).unwrap_or_default()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    }
}
