//! What links deliver, end to end: an input port in `[record]` records what its link delivered (after
//! the transfer chain), stamped with the consumer's step start, and equals the transfer of the
//! producer's recorded values; a link's random stream follows its endpoints, so removing another link
//! leaves its spikes unchanged. Checked from the recordings of real multi-process runs.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use neuroloop_core::experiment::parse;
use neuroloop_core::payload::Payload;
use neuroloop_core::port::PortKind;
use neuroloop_core::transfer::TransferChain;

const FILE: &str = "tests/link_records.toml";
const DURATION_MS: usize = 300;
const CONTROLLER_STEP: usize = 2;
const DECODER_STEP: usize = 3;

/// The link removed in the second run.
const FIRST_LINK: &str = "[[links]]\nfrom = \"source.spikes\"\nto = \"decoder.spikes\"\n";

fn run(text: &str, dir: &Path, tag: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{tag}.toml"));
    std::fs::write(&file, text).unwrap();
    let out = dir.join(tag);
    let id = unique_run_id(tag);
    run_experiment(&file, &out, &id, &[])
        .expect_code(0)
        .expect_no_panic();
    assert_no_leftovers(&id, Duration::from_secs(3));
    out
}

#[test]
fn recorded_inputs_are_what_the_links_delivered_and_seeds_follow_endpoints() {
    let text = std::fs::read_to_string(experiment(FILE)).unwrap();
    assert!(text.contains(FIRST_LINK));
    let tmp = tempdir();
    let out = run(&text, tmp.path(), "full");

    let pos = Table::read(&out.join("plant.position.parquet"));
    let x = pos.col("x");
    assert_eq!(x.len(), DURATION_MS + 1);

    // controller.position: one row per controller step, at its start, holding 2 x + 0.001 of the
    // plant's position made at that time (the linear transfer of the recorded producer values).
    let got = Table::read(&out.join("controller.position.parquet"));
    assert_eq!(got.names, ["step", "t_ms", "x", "episode"]);
    assert_eq!(got.rows(), DURATION_MS / CONTROLLER_STEP);
    for (k, (&step, &v)) in got.col("step").iter().zip(got.col("x")).enumerate() {
        let t = k * CONTROLLER_STEP;
        assert_eq!(step, t as f64);
        assert_eq!(got.col("t_ms")[k], t as f64);
        assert_eq!(v, 2.0 * x[t] + 0.001, "delivered position at {t} ms");
    }

    // pos_decoder.spikes: the spikes the gaussian -> poisson chain delivered, recomputed here from the
    // recorded positions with the chain and the seeds the experiment defines.
    let exp = parse(&text, None, &[]).unwrap();
    let link = exp
        .links
        .iter()
        .find(|l| l.to.to_string() == "pos_decoder.spikes")
        .unwrap();
    let chain = link.transfer.as_ref().unwrap();
    let mut tf = TransferChain::new(chain, &PortKind::analog(&[("x", "m")]), |k| {
        link.transfer_seed(exp.seed, k)
    })
    .unwrap();
    assert_eq!(tf.output_kind(), &PortKind::Spikes { size: 20 });
    let mut expected = (Vec::new(), Vec::new(), Vec::new());
    let mut outp = Payload::empty_for(tf.output_kind());
    for t in (0..DURATION_MS).step_by(DECODER_STEP) {
        let (t0, t1) = (t as f64, (t + DECODER_STEP) as f64);
        tf.apply(&Payload::Analog(vec![x[t]]), t0, t1, &mut outp);
        let Payload::Spikes(b) = &outp else {
            panic!("spikes expected")
        };
        for (&n, &ts) in b.neuron.iter().zip(&b.time_ms) {
            assert!(t0 <= ts && ts < t1);
            expected.0.push(t0);
            expected.1.push(ts);
            expected.2.push(f64::from(n));
        }
    }
    let spikes = Table::read(&out.join("pos_decoder.spikes.parquet"));
    assert_eq!(spikes.names, ["step", "t_ms", "neuron", "episode"]);
    // 20 neurons at 20-400 Hz for 0.3 s: hundreds of spikes.
    assert!(spikes.rows() > 200, "{} delivered spikes", spikes.rows());
    assert_eq!(spikes.col("step"), &expected.0[..]);
    assert_eq!(spikes.col("t_ms"), &expected.1[..]);
    assert_eq!(spikes.col("neuron"), &expected.2[..]);

    // Without the first link, the other links move up in the file but keep their random streams:
    // the same spikes are delivered to pos_decoder (the plant's trajectory does not depend on it).
    let fewer = text.replace(FIRST_LINK, "");
    let out2 = run(&fewer, tmp.path(), "fewer");
    let again = Table::read(&out2.join("pos_decoder.spikes.parquet"));
    for col in ["step", "t_ms", "neuron"] {
        assert_eq!(again.col(col), spikes.col(col), "column {col}");
    }
    let rate = |dir: &Path| {
        Table::read(&dir.join("pos_decoder.rate.parquet"))
            .col("rate")
            .to_vec()
    };
    assert_eq!(rate(&out), rate(&out2));
}
