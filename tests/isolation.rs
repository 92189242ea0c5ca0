//! Isolation: two runs at once on one machine, with different seeds, do not see each other's messages
//! (each run has its own key namespace and its own coordinator endpoint): each one's recordings are
//! byte-identical to those of the same seed run alone.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::*;

const FILE: &str = "tests/closed_loop.toml";

fn recordings(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let files: BTreeMap<String, Vec<u8>> = parquet_files(dir)
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    assert_eq!(files.len(), 5, "recordings in {}", dir.display());
    files
}

fn start(out: &Path, id: &str, seed: u64) -> Proc {
    let file = experiment(FILE);
    let set = format!("run.seed={seed}");
    Proc::neuroloop(&[
        "run",
        file.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--run-id",
        id,
        "-q",
        "--set",
        &set,
    ])
}

#[test]
fn two_concurrent_runs_do_not_interfere() {
    let tmp = tempdir();
    let seeds = [11u64, 12];
    // Each seed alone.
    let mut alone = Vec::new();
    for seed in seeds {
        let out = tmp.path().join(format!("alone-{seed}"));
        let id = unique_run_id("alone");
        start(&out, &id, seed)
            .wait(Duration::from_secs(120))
            .expect_code(0)
            .expect_no_panic();
        assert_no_leftovers(&id, Duration::from_secs(3));
        alone.push(recordings(&out));
    }
    assert!(
        alone[0]["source.spikes.parquet"] != alone[1]["source.spikes.parquet"],
        "the two seeds should give different spikes"
    );
    // Both at once, twice (the second time with the start order swapped).
    for round in 0..2 {
        let ids: Vec<String> = seeds.iter().map(|_| unique_run_id("both")).collect();
        let outs: Vec<_> = seeds
            .iter()
            .map(|s| tmp.path().join(format!("both-{round}-{s}")))
            .collect();
        let order: Vec<usize> = if round == 0 { vec![0, 1] } else { vec![1, 0] };
        let mut procs: Vec<Option<Proc>> = vec![None, None];
        for &i in &order {
            procs[i] = Some(start(&outs[i], &ids[i], seeds[i]));
        }
        for (i, p) in procs.into_iter().enumerate() {
            p.unwrap()
                .wait(Duration::from_secs(120))
                .expect_code(0)
                .expect_no_panic();
            assert_no_leftovers(&ids[i], Duration::from_secs(3));
            let got = recordings(&outs[i]);
            for (name, bytes) in &alone[i] {
                assert!(
                    got[name] == *bytes,
                    "round {round}, seed {}: {name} differs from the run alone",
                    seeds[i]
                );
            }
        }
    }
}
