//! Timestamps along the path of a lockstep round, for finding where its time goes (a diagnostic, off
//! unless `NEUROLOOP_PROBE` names a folder).
//!
//! Every process of a run (the coordinator and each Rust engine) notes `(what, step, engine, thread,
//! time)` at fixed points of the round: the coordinator before and after it publishes a `Step`, when
//! zenoh hands it a reply, when its thread wakes with the round's replies; an engine when zenoh hands
//! it a `Step`, around its computation and around its reply's publication. Times are
//! `CLOCK_MONOTONIC` nanoseconds, one clock for every process of the machine, so the files of one run
//! line up. When the process finishes its part, [`write`] leaves `<folder>/<process>-<pid>.tsv` with
//! the points and, per thread, its voluntary and involuntary context switches (`/proc`), which count
//! the wake-ups. `scripts/round_probe.py` turns a run's files into a breakdown of the round.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// One noted point: what, the round's step, the engine index (coordinator side; `u32::MAX` if none),
/// the size of the message it concerns (0 if none), the thread (its kernel id) and the time.
struct Point {
    what: &'static str,
    step: u64,
    engine: u32,
    bytes: usize,
    tid: i64,
    t_ns: u64,
}

struct Probe {
    dir: PathBuf,
    points: Mutex<Vec<Point>>,
}

fn probe() -> Option<&'static Probe> {
    static PROBE: OnceLock<Option<Probe>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let dir = std::env::var_os("NEUROLOOP_PROBE").filter(|d| !d.is_empty())?;
            Some(Probe {
                dir: PathBuf::from(dir),
                points: Mutex::new(Vec::with_capacity(1 << 20)),
            })
        })
        .as_ref()
}

/// Whether points are being noted.
pub fn enabled() -> bool {
    probe().is_some()
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Notes the point `what` of the round at `step` (for engine `engine` on the coordinator's side).
pub fn note(what: &'static str, step: u64, engine: Option<usize>) {
    note_message(what, step, engine, 0);
}

/// Notes the point `what` of the round at `step` (for engine `engine`) that concerns a message of
/// `bytes` bytes.
pub fn note_message(what: &'static str, step: u64, engine: Option<usize>, bytes: usize) {
    if let Some(p) = probe() {
        let point = Point {
            what,
            step,
            engine: engine.map_or(u32::MAX, |e| e as u32),
            bytes,
            // SAFETY: gettid has no preconditions.
            tid: unsafe { libc::syscall(libc::SYS_gettid) },
            t_ns: monotonic_ns(),
        };
        p.points
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(point);
    }
}

/// Writes the points noted so far, the names of the engines by index (`engines`, the coordinator's
/// list) and every thread's context switches to `<folder>/<process>-<pid>.tsv` (nothing if the probe
/// is off); the points are then forgotten.
pub fn write(process: &str, engines: &[String]) {
    let Some(p) = probe() else { return };
    let points = std::mem::take(&mut *p.points.lock().unwrap_or_else(|e| e.into_inner()));
    let path = p.dir.join(format!("{process}-{}.tsv", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(&p.dir)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(f, "point\tstep\tengine\tbytes\ttid\tt_ns")?;
        for q in &points {
            let engine = if q.engine == u32::MAX {
                String::new()
            } else {
                q.engine.to_string()
            };
            writeln!(
                f,
                "{}\t{}\t{engine}\t{}\t{}\t{}",
                q.what, q.step, q.bytes, q.tid, q.t_ns
            )?;
        }
        for (i, name) in engines.iter().enumerate() {
            writeln!(f, "#engine\t{i}\t{name}")?;
        }
        for task in std::fs::read_dir("/proc/self/task")? {
            let task = task?.path();
            let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            let status = std::fs::read_to_string(task.join("status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map_or("", str::trim)
                    .to_string()
            };
            let tid = task
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            // schedstat: ns on a CPU, ns waiting for one, times run.
            let sched = std::fs::read_to_string(task.join("schedstat")).unwrap_or_default();
            let mut sched = sched.split_whitespace();
            let (on_cpu, waited) = (sched.next().unwrap_or(""), sched.next().unwrap_or(""));
            writeln!(
                f,
                "#thread\t{}\t{tid}\t{}\t{}\t{on_cpu}\t{waited}",
                comm.trim(),
                field("voluntary_ctxt_switches:"),
                field("nonvoluntary_ctxt_switches:")
            )?;
        }
        f.flush()
    })();
    if let Err(e) = result {
        tracing::warn!("probe: cannot write {}: {e}", path.display());
    }
}
