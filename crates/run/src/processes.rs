//! Engine processes started by the coordinator: spawning, their stderr, their exit, and cleanup.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many stderr lines of each engine are kept for error reports.
const STDERR_LINES: usize = 20;

/// One engine process.
pub struct EngineProcess {
    child: Child,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    status: Option<ExitStatus>,
}

impl EngineProcess {
    /// Starts `program args...` as engine `name` of the run: in its own process group (so a Ctrl-C in
    /// the terminal reaches only the coordinator, which then stops everything in order), killed by the
    /// kernel if the coordinator dies, stdout discarded, stderr captured line by line.
    pub fn spawn(
        name: &str,
        program: &std::path::Path,
        args: &[String],
        env: &[(&str, String)],
    ) -> std::io::Result<Self> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
        if let Some(stderr) = child.stderr.take() {
            let (tail, name) = (tail.clone(), name.to_string());
            std::thread::Builder::new()
                .name(format!("stderr-{name}"))
                .spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        tracing::debug!(engine = %name, "{line}");
                        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                        if t.len() == STDERR_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                })?;
        }
        Ok(EngineProcess {
            child,
            stderr_tail: tail,
            status: None,
        })
    }

    /// The operating-system process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for the process to end.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The process's state letter from `/proc/PID/stat` (`R` running, `S` sleeping, `T` stopped, ...),
    /// if it can be read (Linux).
    pub fn state(&self) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        stat.rsplit_once(')')?.1.trim_start().chars().next()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        self.status
    }

    /// The last lines the engine wrote to stderr (waits briefly for the reader to catch up).
    pub fn stderr_tail(&self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(20));
        self.stderr_tail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Describes an exit status in words: "exit status 3", "killed by signal 9 (SIGKILL)".
pub fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => {
            let name = match sig {
                libc::SIGKILL => "SIGKILL",
                libc::SIGABRT => "SIGABRT",
                libc::SIGSEGV => "SIGSEGV",
                libc::SIGTERM => "SIGTERM",
                libc::SIGINT => "SIGINT",
                libc::SIGBUS => "SIGBUS",
                libc::SIGFPE => "SIGFPE",
                _ => "signal",
            };
            format!("killed by signal {sig} ({name})")
        }
        None => "ended".into(),
    }
}
