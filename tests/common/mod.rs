//! Helpers shared by the multi-process integration tests: running the `neuroloop` binary with a
//! time-out, a guard that kills and reaps every process a test starts, reading recordings back, and
//! finding processes left behind by a run.
#![allow(dead_code)]

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The `neuroloop` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_neuroloop")
}

/// The workspace root (where `experiments/` lives).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An experiment file of the repository, e.g. `experiment("tests/closed_loop.toml")`.
pub fn experiment(rel: &str) -> PathBuf {
    root().join("experiments").join(rel)
}

/// A run id unique to this test process and call.
pub fn unique_run_id(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "it-{tag}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh temporary folder (removed when dropped).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("neuroloop-it-")
        .tempdir()
        .expect("create a temporary folder")
}

/// A `tcp/127.0.0.1:<port>` endpoint on a port that was free a moment ago.
pub fn free_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = l.local_addr().expect("local address").port();
    drop(l);
    format!("tcp/127.0.0.1:{port}")
}

/// A copy of the experiment file `rel` in `dir` with `extra` appended (e.g. a `[zenoh]` table).
pub fn experiment_with(rel: &str, dir: &Path, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(experiment(rel)).expect("read experiment file");
    let name = Path::new(rel).file_name().expect("file name");
    let path = dir.join(name);
    std::fs::write(&path, format!("{text}\n{extra}\n")).expect("write experiment copy");
    path
}

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    /// The exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Output {
    /// Panics with everything printed unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}, got {:?} after {:.1} s\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code,
            self.elapsed.as_secs_f64(),
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless stderr contains `text`.
    pub fn expect_stderr(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr does not contain {text:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Panics if the coordinator panicked.
    pub fn expect_no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "the process panicked:\n{}",
            self.stderr
        );
        self
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped, with its stdout and stderr
/// collected by background threads.
pub struct Proc {
    child: Child,
    out: Option<JoinHandle<String>>,
    err: Option<JoinHandle<String>>,
    started: Instant,
    status: Option<ExitStatus>,
}

fn collect(r: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    })
}

impl Proc {
    /// Starts `program args...` with stdin closed and stdout/stderr captured.
    pub fn spawn(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start process");
        let out = collect(child.stdout.take());
        let err = collect(child.stderr.take());
        Proc {
            child,
            out,
            err,
            started: Instant::now(),
            status: None,
        }
    }

    /// Starts the `neuroloop` binary.
    pub fn neuroloop(args: &[&str]) -> Proc {
        Proc::spawn(bin(), args)
    }

    /// Starts a process whose output nobody reads (a CPU burner).
    pub fn spawn_quiet(program: &str, args: &[&str]) -> Proc {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start process");
        Proc {
            child,
            out: None,
            err: None,
            started: Instant::now(),
            status: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status.is_none()
    }

    /// Sends `signal` to the process (if it still runs).
    pub fn signal(&mut self, signal: i32) {
        if self.running() {
            // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
            unsafe {
                libc::kill(self.child.id() as i32, signal);
            }
        }
    }

    /// Waits up to `timeout` for the process to end; kills it and panics (naming `what`) if it does not.
    pub fn wait(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        while self.running() {
            if Instant::now() >= deadline {
                self.kill();
                let out = self.take_output();
                panic!(
                    "process did not end within {:.1} s (killed)\n--- stdout:\n{}\n--- stderr:\n{}",
                    timeout.as_secs_f64(),
                    out.stdout,
                    out.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.take_output()
    }

    fn take_output(&mut self) -> Output {
        let elapsed = self.started.elapsed();
        let join = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap_or_default());
        Output {
            code: self.status.and_then(|s| s.code()),
            stdout: join(self.out.take()).unwrap_or_default(),
            stderr: join(self.err.take()).unwrap_or_default(),
            elapsed,
        }
    }

    /// Kills (SIGKILL) and reaps the process.
    pub fn kill(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `neuroloop args...` to its end, killing it (and failing the test) after `timeout`.
pub fn run_neuroloop(args: &[&str], timeout: Duration) -> Output {
    Proc::neuroloop(args).wait(timeout)
}

/// `neuroloop run FILE --output DIR --run-id ID -q EXTRA...`, with the default time-out of 120 s.
pub fn run_experiment(file: &Path, out: &Path, run_id: &str, extra: &[&str]) -> Output {
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["run", f, "--output", o, "--run-id", run_id, "-q"];
    args.extend_from_slice(extra);
    run_neuroloop(&args, Duration::from_secs(120))
}

/// Burns CPU in `n` processes until dropped (to run tests on a loaded machine).
pub struct CpuBurners(Vec<Proc>);

impl CpuBurners {
    /// Starts `n` busy loops.
    pub fn start(n: usize) -> CpuBurners {
        CpuBurners(
            (0..n)
                .map(|_| Proc::spawn_quiet("sh", &["-c", "while :; do :; done"]))
                .collect(),
        )
    }
}

/// Reads every record batch of a Parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{} is not a Parquet file: {e}", path.display()))
        .build()
        .expect("build reader");
    reader
        .map(|b| b.unwrap_or_else(|e| panic!("reading {}: {e}", path.display())))
        .collect()
}

/// A recording as columns: the column names and every Float64/UInt64/UInt32 column as f64.
pub struct Table {
    /// Column names in schema order.
    pub names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

impl Table {
    /// Reads a recording file.
    pub fn read(path: &Path) -> Table {
        let batches = read_parquet(path);
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => {
                let file = File::open(path).expect("open");
                ParquetRecordBatchReaderBuilder::try_new(file)
                    .expect("parquet")
                    .schema()
                    .clone()
            }
        };
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut columns = vec![Vec::new(); names.len()];
        for b in &batches {
            for (i, col) in b.columns().iter().enumerate() {
                let c = &mut columns[i];
                if let Some(a) = col.as_primitive_opt::<Float64Type>() {
                    c.extend(a.values().iter().copied());
                } else if let Some(a) = col.as_primitive_opt::<UInt64Type>() {
                    c.extend(a.values().iter().map(|&x| x as f64));
                } else if let Some(a) = col.as_primitive_opt::<UInt32Type>() {
                    c.extend(a.values().iter().map(|&x| f64::from(x)));
                }
            }
        }
        Table { names, columns }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// A column by name (as f64).
    pub fn col(&self, name: &str) -> &[f64] {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no column {name:?} in {:?}", self.names));
        &self.columns[i]
    }
}

/// The run's `manifest.json`, parsed.
pub fn manifest(dir: &Path) -> serde_json::Value {
    let p = dir.join("manifest.json");
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

/// The `.parquet` files of a run folder, sorted by name.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    v.sort();
    v
}

/// The environment variables of process `pid` (empty if unreadable, e.g. gone or a zombie).
pub fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Processes (not zombies) whose environment contains every `KEY=VALUE` of `vars`.
pub fn processes_with_env(vars: &[(&str, &str)]) -> Vec<u32> {
    let wanted: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let env = environ(pid);
            wanted.iter().all(|w| env.contains(w))
        })
        .filter(|&pid| !is_zombie(pid))
        .collect();
    pids.sort_unstable();
    pids
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(after == 'Z' || after == 'X')
        })
        .unwrap_or(true)
}

/// Engine processes of run `run_id` still alive (processes with `NEUROLOOP_RUN_ID=<run_id>`).
pub fn leftover_processes(run_id: &str) -> Vec<u32> {
    processes_with_env(&[("NEUROLOOP_RUN_ID", run_id)])
}

/// Asserts that no process of run `run_id` remains (allowing `grace` for the kernel to finish).
pub fn assert_no_leftovers(run_id: &str, grace: Duration) {
    let deadline = Instant::now() + grace;
    loop {
        let left = leftover_processes(run_id);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            let cmds: Vec<String> = left
                .iter()
                .map(|p| {
                    let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                    format!("{p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
                })
                .collect();
            // Do not leave them behind for the next test either.
            for &p in &left {
                // SAFETY: kill(2) on a pid we just found in /proc with our run id.
                unsafe {
                    libc::kill(p as i32, libc::SIGKILL);
                }
            }
            panic!("processes of run {run_id} remain: {cmds:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `f` every 10 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {:.1} s waiting for {what}",
            timeout.as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
