//! Start: spawn every non-external engine (own process group, killed if we die), wait for a `Hello`
//! from each engine (external ones included) within the join time-out, send `Init`, wait for `Ready`
//! with its ports and outputs at t = 0, check the ports against the links, build the links and the
//! recorder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use neuroloop_core::experiment::{check_ports, ConfigError, EngineKind, Experiment, Problem};
use neuroloop_core::lockstep::{LinkDef, Lockstep};
use neuroloop_core::port::{Direction, PortSpec};
use neuroloop_core::seed::derive_seed;
use neuroloop_core::time::Step;
use neuroloop_core::transfer::TransferChain;
use neuroloop_core::wire::{DataEntry, Message};
use neuroloop_record::Recorder;
use neuroloop_transport::{Hub, HubEvent};

use crate::coordinator::{Coordinator, EngineState, StartError};
use crate::processes::EngineProcess;
use crate::stats::Histogram;
use crate::{RunError, RunOptions};

impl Coordinator {
    pub(crate) fn start(
        exp: Experiment,
        opts: &RunOptions,
        run_id: &str,
        run_dir: Option<&PathBuf>,
    ) -> Result<Self, StartError> {
        let names: Vec<String> = exp.engines.iter().map(|e| e.name.clone()).collect();
        let (link, engine_link) =
            crate::network::link_options(&exp, run_id).map_err(|e| (e.into(), vec![]))?;
        let listen = crate::network::listen_endpoint(&exp, link.tls.is_some())
            .map_err(|e| (e.into(), vec![]))?;
        let hub = Hub::open_with(
            run_id,
            &names,
            std::slice::from_ref(&listen),
            &exp.zenoh.connect,
            &link,
        )
        .map_err(|e| (e.into(), vec![]))?;
        let connect = listen
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]");
        // The variables every engine process gets (spawned here or started by hand): protocol.md,
        // section 3. Engines may write files of their own into the run folder (the body's trials).
        let engine_env = |name: &str| {
            let mut env = vec![
                ("NEUROLOOP_RUN_ID", run_id.to_string()),
                ("NEUROLOOP_ENGINE", name.to_string()),
                ("NEUROLOOP_CONNECT", connect.clone()),
            ];
            // Low-latency transport, lease, TLS files.
            env.extend(engine_link.env_vars());
            if let Some(dir) = run_dir {
                let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                env.push(("NEUROLOOP_RUN_DIR", dir.display().to_string()));
            }
            env
        };
        let mut engines = Vec::with_capacity(exp.engines.len());
        for spec in &exp.engines {
            let (kind, process) = match (&spec.kind, spec.external) {
                (EngineKind::Builtin(k), true) => (k.clone(), None),
                (EngineKind::Executable(p), true) => (p.display().to_string(), None),
                (kind, false) => {
                    let (program, mut args, kind) = match kind {
                        EngineKind::Builtin(k) => {
                            let exe = opts
                                .engine_exe
                                .clone()
                                .map_or_else(std::env::current_exe, Ok)
                                .map_err(|e| {
                                    (
                                        RunError::Setup(format!(
                                            "cannot find the neuroloop binary: {e}"
                                        )),
                                        vec![],
                                    )
                                })?;
                            (exe, vec!["engine".to_string(), k.clone()], k.clone())
                        }
                        EngineKind::Executable(p) => (p.clone(), vec![], p.display().to_string()),
                    };
                    args.extend(spec.args.iter().cloned());
                    let env = engine_env(&spec.name);
                    let p =
                        EngineProcess::spawn(&spec.name, &program, &args, &env).map_err(|e| {
                            let err = RunError::Setup(format!(
                                "cannot start engine '{}' ({}): {e}",
                                spec.name,
                                program.display()
                            ));
                            (
                                err,
                                engines
                                    .iter_mut()
                                    .filter_map(|s: &mut EngineState| s.process.take())
                                    .collect::<Vec<_>>(),
                            )
                        })?;
                    (kind, Some(p))
                }
            };
            engines.push(EngineState {
                name: spec.name.clone(),
                kind,
                external: spec.external,
                process,
                ports: vec![],
                busy: None,
                busy_until: Step(0),
                busy_steps: 0,
                done: None,
                compute: Histogram::default(),
                joined: false,
                hello_pid: None,
                said_bye: false,
                gone: false,
                last_heard: None,
                recorded: vec![],
                recorded_inputs: vec![],
                exit: None,
            });
        }
        // External engines: the variables to start them with, as a human line on stderr, a JSON line
        // on stdout (`{"external_engine": NAME, "env": {...}}`) and, with a run folder, the file
        // `external_engines.json` (`{NAME: {VAR: VALUE}}`), written before the wait.
        let mut external = serde_json::Map::new();
        for e in engines.iter().filter(|e| e.external) {
            let env = engine_env(&e.name);
            let words: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            eprintln!(
                "waiting up to {:.0} s for external engine '{}': start it with {}",
                exp.join_timeout_ms as f64 / 1000.0,
                e.name,
                words.join(" ")
            );
            let env: serde_json::Map<String, serde_json::Value> = env
                .into_iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                .collect();
            println!(
                "{}",
                serde_json::json!({ "external_engine": e.name, "env": env })
            );
            external.insert(e.name.clone(), serde_json::Value::Object(env));
        }
        if let (Some(dir), false) = (run_dir, external.is_empty()) {
            let text = serde_json::to_string_pretty(&external).unwrap_or_default();
            if let Err(e) = std::fs::write(dir.join("external_engines.json"), text + "\n") {
                tracing::warn!("cannot write external_engines.json: {e}");
            }
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let (n, run_seed) = (engines.len(), exp.seed);
        let mut c = Coordinator {
            step_timeout: Duration::from_millis(exp.step_timeout_ms),
            realtime: opts.realtime.unwrap_or(exp.realtime),
            exp,
            hub,
            engines,
            lockstep: None,
            recorder: None,
            interrupt: opts.interrupt.clone(),
            reached: Step(0),
            wall_s: 0.0,
            overhead: Histogram::default(),
            step_wall: Histogram::default(),
            overhead_ns: opts.keep_step_times.then(Vec::new),
            late_steps: 0,
            latest: vec![Vec::new(); n],
            episode: 0,
            episode_seed: run_seed,
            steps_before: 0,
            paced_from: None,
            last_flush: Instant::now(),
            unrecorded: Vec::new(),
            taps: (0..n).map(|_| Vec::new()).collect(),
            inputs: Vec::new(),
            buf: Vec::with_capacity(256),
        };
        match c.handshake(run_dir) {
            Ok(()) => Ok(c),
            Err(e) => {
                c.stop(Some(&e.to_string()));
                let procs = c
                    .engines
                    .iter_mut()
                    .filter_map(|s| s.process.take())
                    .collect();
                Err((e, procs))
            }
        }
    }

    /// Hello -> Init -> Ready for every engine, then the port check and the link and recorder set-up.
    pub(crate) fn handshake(&mut self, run_dir: Option<&PathBuf>) -> Result<(), RunError> {
        let deadline = Instant::now() + Duration::from_millis(self.exp.join_timeout_ms);
        // Hello from everyone.
        while let Some(missing) = self.engines.iter().position(|e| !e.joined) {
            match self
                .hub
                .recv_until(deadline.min(Instant::now() + Duration::from_millis(50)))
            {
                Some(HubEvent::Message { engine, bytes }) => match self.decode(engine, &bytes)? {
                    Message::Hello { engine: name, pid } if name == self.engines[engine].name => {
                        self.engines[engine].joined = true;
                        self.engines[engine].hello_pid = (pid != 0).then_some(pid);
                    }
                    Message::Hello { engine: name, .. } => {
                        return Err(
                            self.engine_error(engine, format!("said Hello as engine '{name}'"))
                        );
                    }
                    Message::Error { message } => {
                        return Err(self.engine_error(engine, format!("failed: {message}")))
                    }
                    other => {
                        return Err(self.engine_error(
                            engine,
                            format!("sent {} before Hello", other.kind_name()),
                        ))
                    }
                },
                Some(HubEvent::Stray { key }) => {
                    tracing::warn!("ignoring a message on {key}: no such engine in this run")
                }
                Some(_) => {}
                None => {
                    self.check_alive()?;
                    if Instant::now() >= deadline {
                        let e = &self.engines[missing];
                        let how = if e.external {
                            "external engine: was it started with this run's NEUROLOOP_RUN_ID and NEUROLOOP_CONNECT?"
                        } else {
                            "its process is running but never connected"
                        };
                        return Err(self.engine_error(
                            missing,
                            format!(
                                "did not join within {} ms (run.join_timeout_ms; {how})",
                                self.exp.join_timeout_ms
                            ),
                        ));
                    }
                }
            }
        }
        // Init to everyone.
        for i in 0..self.engines.len() {
            self.wait_listening(i, deadline)?;
            let spec = &self.exp.engines[i];
            let init = Message::Init {
                base_step_ms: self.exp.base_step_ms,
                period: spec.period,
                seed: spec.seed,
                config_json: spec.config.to_string(),
            };
            self.hub.send(i, &init)?;
        }
        let initial = self.await_ready(deadline, "Init")?;
        self.check_ports()?;
        self.build_links()?;
        if let Some(dir) = run_dir {
            self.create_recorder(dir)?;
        }
        self.begin_episode(initial)?;
        Ok(())
    }

    /// Waits for `Ready` from every engine (after `Init` or `Reset`, named by `after`), taking in
    /// its ports (which must not change from one episode to the next) and returning its outputs at
    /// t = 0.
    pub(crate) fn await_ready(
        &mut self,
        deadline: Instant,
        after: &str,
    ) -> Result<Vec<Vec<DataEntry>>, RunError> {
        let mut initial: Vec<Option<Vec<DataEntry>>> = vec![None; self.engines.len()];
        while initial.iter().any(Option::is_none) {
            match self
                .hub
                .recv_until(deadline.min(Instant::now() + Duration::from_millis(50)))
            {
                Some(HubEvent::Message { engine, bytes }) => match self.decode(engine, &bytes)? {
                    Message::Ready { ports, outputs } => {
                        let known = &self.engines[engine].ports;
                        if !known.is_empty() && *known != ports {
                            return Err(self.engine_error(
                                engine,
                                format!(
                                    "answered {after} with other ports than before: {}",
                                    describe_ports(&ports)
                                ),
                            ));
                        }
                        self.engines[engine].ports = ports;
                        self.check_outputs(engine, &outputs)?;
                        initial[engine] = Some(outputs);
                    }
                    Message::Error { message } => {
                        return Err(self.engine_error(
                            engine,
                            format!("failed to initialize after {after}: {message}"),
                        ))
                    }
                    other => {
                        return Err(self.engine_error(
                            engine,
                            format!("sent {} instead of Ready", other.kind_name()),
                        ))
                    }
                },
                Some(HubEvent::Left { engine }) => {
                    return Err(self.lost(engine, "while initializing"))
                }
                Some(_) => {}
                None => {
                    self.check_alive()?;
                    if Instant::now() >= deadline {
                        let i = initial.iter().position(Option::is_none).unwrap_or(0);
                        return Err(self.engine_error(
                            i,
                            format!(
                                "did not answer {after} within {} ms",
                                self.exp.join_timeout_ms
                            ),
                        ));
                    }
                }
            }
        }
        Ok(initial.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// t = 0 of an episode: everyone's initial outputs go to the links, the recordings and the
    /// latest values.
    pub(crate) fn begin_episode(&mut self, initial: Vec<Vec<DataEntry>>) -> Result<(), RunError> {
        for (e, outs) in initial.into_iter().enumerate() {
            if let Some(l) = self.lockstep.as_mut() {
                l.push_outputs(e, Step(0), &outs);
            }
            self.record(e, Step(0), &outs)?;
            self.latest[e] = outs;
        }
        Ok(())
    }

    /// Starts the next episode: waits for the steps still running, sends every engine `Reset` with
    /// its seed for the episode (derived from the episode's run seed as the first episode's were from
    /// the run seed; a seed set in the file stays), waits for `Ready`, and rebuilds the links (empty,
    /// transfer functions seeded for the episode). The recordings go on, marked with the episode.
    pub(crate) fn reset(&mut self) -> Result<u32, RunError> {
        self.wait_for(|c, e| c.engines[e].busy.is_some())?;
        for e in &mut self.engines {
            e.done = None;
            e.busy_until = Step(0);
        }
        self.steps_before += self.reached.0;
        self.episode += 1;
        self.episode_seed = crate::episode_seed(self.exp.seed, self.episode);
        for i in 0..self.engines.len() {
            let spec = &self.exp.engines[i];
            let derived = spec.seed == derive_seed(self.exp.seed, &spec.name);
            let seed = if derived {
                derive_seed(self.episode_seed, &spec.name)
            } else {
                spec.seed
            };
            let msg = Message::Reset {
                seed,
                episode: self.episode,
            };
            self.hub.send(i, &msg)?;
        }
        let deadline = Instant::now() + Duration::from_millis(self.exp.join_timeout_ms);
        let initial = self.await_ready(deadline, "Reset")?;
        self.build_links()?;
        if let Some(rec) = self.recorder.as_mut() {
            rec.set_episode(self.episode);
        }
        self.reached = Step(0);
        self.paced_from = None;
        self.begin_episode(initial)?;
        Ok(self.episode)
    }

    pub(crate) fn wait_listening(
        &mut self,
        engine: usize,
        deadline: Instant,
    ) -> Result<(), RunError> {
        // The engine declared its subscriber before saying Hello, and zenoh keeps declarations and data
        // of one connection in order, so this is normally true at once; it is checked all the same.
        while !self.hub.is_listening(engine)? {
            if Instant::now() >= deadline {
                return Err(self.engine_error(
                    engine,
                    "said Hello but its subscriber never appeared".into(),
                ));
            }
            if let Some(HubEvent::Left { engine }) = self.hub.recv_timeout(Duration::from_millis(1))
            {
                return Err(self.lost(engine, "while joining"));
            }
        }
        Ok(())
    }

    pub(crate) fn check_ports(&self) -> Result<(), RunError> {
        let mut problems = Vec::new();
        let mut by_name = BTreeMap::new();
        for (e, spec) in self.engines.iter().zip(&self.exp.engines) {
            if let Some(declared) = &spec.declared_ports {
                if declared != &e.ports {
                    problems.push(Problem {
                        path: format!("engines.{}.ports", e.name),
                        line: None,
                        column: None,
                        message: format!(
                            "the engine declared other ports than the file: it has {}",
                            describe_ports(&e.ports)
                        ),
                    });
                }
            }
            by_name.insert(e.name.clone(), e.ports.clone());
        }
        problems.extend(check_ports(&self.exp, &by_name));
        if problems.is_empty() {
            return Ok(());
        }
        let file = self
            .exp
            .source
            .as_ref()
            .map_or("<experiment>".into(), |p| p.display().to_string());
        for p in &mut problems {
            if p.line.is_none() {
                if let Some((l, c)) = neuroloop_core::experiment::locate(&self.exp.text, &p.path) {
                    p.line = Some(l);
                    p.column = Some(c);
                }
            }
        }
        Err(RunError::Ports(ConfigError { file, problems }))
    }

    /// The index of `engine`'s port named `port`, preferring one of direction `want` (an input and an
    /// output may share a name).
    pub(crate) fn port_index(&self, engine: usize, port: &str, want: Direction) -> Option<u16> {
        let ports = &self.engines[engine].ports;
        ports
            .iter()
            .position(|p| p.name == port && p.direction == want)
            .or_else(|| ports.iter().position(|p| p.name == port))
            .map(|i| i as u16)
    }

    pub(crate) fn engine_index(&self, name: &str) -> Option<usize> {
        self.engines.iter().position(|e| e.name == name)
    }

    pub(crate) fn build_links(&mut self) -> Result<(), RunError> {
        let mut defs = Vec::new();
        for (i, link) in self.exp.links.iter().enumerate() {
            let find = |r: &neuroloop_core::experiment::PortRef, want| {
                let e = self.engine_index(&r.engine)?;
                Some((e, self.port_index(e, &r.port, want)?))
            };
            let (Some((fe, fp)), Some((te, tp))) = (
                find(&link.from, Direction::Output),
                find(&link.to, Direction::Input),
            ) else {
                return Err(RunError::Setup(format!(
                    "links[{i}]: {} -> {} does not resolve",
                    link.from, link.to
                )));
            };
            let from_kind = self.engines[fe].ports[usize::from(fp)].kind.clone();
            // Each step's random stream comes from the link's endpoints (not its place in the file).
            let transfer = match &link.transfer {
                Some(chain) => Some(
                    TransferChain::new(chain, &from_kind, |k| {
                        link.transfer_seed(self.episode_seed, k)
                    })
                    .map_err(|e| {
                        RunError::Setup(format!(
                            "links[{i}].{}: {}",
                            chain.step_key(e.step),
                            e.message
                        ))
                    })?,
                ),
                None => None,
            };
            defs.push(LinkDef {
                from_engine: fe,
                from_port: fp,
                to_engine: te,
                to_port: tp,
                from_kind,
                transfer,
                delay: link.delay,
            });
        }
        let periods = self.exp.engines.iter().map(|e| e.period).collect();
        self.lockstep = Some(Lockstep::new(
            periods,
            self.exp.duration,
            self.exp.base_step_ms,
            defs,
            self.exp.max_window,
        ));
        Ok(())
    }

    /// One recording per `[record]` entry, `<engine>.<port>.parquet`: an output port records what the
    /// engine produced, an input port what its link delivered (after the transfer chain), with the
    /// input port's own kind. An entry names the output when an input and an output share the name, so
    /// the file names cannot collide.
    pub(crate) fn create_recorder(&mut self, dir: &std::path::Path) -> Result<(), RunError> {
        let mut rec = Recorder::new(dir);
        for r in &self.exp.record {
            let Some(e) = self.engine_index(&r.engine) else {
                continue;
            };
            let Some(p) = self.port_index(e, &r.port, Direction::Output) else {
                continue;
            };
            let port = &self.engines[e].ports[usize::from(p)];
            let (kind, input) = (port.kind.clone(), port.direction == Direction::Input);
            let idx = rec
                .create(&r.engine, &r.port, &kind)
                .map_err(|err| RunError::Setup(format!("cannot record {r}: {err}")))?;
            if input {
                self.engines[e].recorded_inputs.push((p, idx));
            } else {
                self.engines[e].recorded.push((p, idx));
            }
        }
        self.recorder = Some(rec);
        Ok(())
    }
}

fn describe_ports(ports: &[PortSpec]) -> String {
    let v: Vec<String> = ports
        .iter()
        .map(|p| {
            let d = if p.direction == Direction::Input {
                "input"
            } else {
                "output"
            };
            format!("{} ({d} {})", p.name, p.kind.describe())
        })
        .collect();
    v.join(", ")
}
