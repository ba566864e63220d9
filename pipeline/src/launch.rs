//! Starting a pipeline: everything that can fail is tried before the first
//! record is read — the mapping compiles, the state store opens, ports
//! bind, files open, databases answer — and each failure points at its
//! line in the pipeline file. Then the tasks start: the source, the
//! processor, the metrics server, the reload watcher and the signal
//! handler.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::decode::endpoint_error;
use crate::http::{self, HttpSink};
use crate::lines::LineSink;
use crate::metrics::{self, Metrics};
use crate::nats::{NatsSink, NatsSource};
use crate::postgres::{PgSink, PgSource};
use crate::runtime::{self, Halt, Processor, Sink};
use crate::sources::{self, Batch, DirSource};
use crate::spec::{PipelineSpec, SinkSpec, SourceSpec};
use crate::state::State;
use crate::{reload, Stop, StopHandle};
use mapwright_engine::spec::yaml::Loc;
use mapwright_engine::{Diagnostic, Diagnostics, SpecCode};
use mapwright_engine::{Error, Mapping};

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Hot reload even when the file does not say `watch: true`.
    pub watch: bool,
    /// Show a progress bar (file and folder sources, on a terminal).
    pub progress: bool,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Records read.
    pub records_in: u64,
    /// Records delivered.
    pub delivered: u64,
    /// Records filtered.
    pub filtered: u64,
    /// Records dead-lettered.
    pub failed: u64,
    /// Records skipped as already delivered.
    pub duplicates: u64,
    /// Drift lines.
    pub conflicts: u64,
    /// Warnings.
    pub warnings: u64,
    /// Successful hot reloads.
    pub reloads: u64,
    /// Failed hot reloads.
    pub failed_reloads: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    fn of(m: &Metrics, started: Instant) -> Summary {
        Summary {
            records_in: m.records_in.get(),
            delivered: m.records_out.get(),
            filtered: m.filtered.get(),
            failed: m.failed.get(),
            duplicates: m.duplicates.get(),
            conflicts: m.conflicts.get(),
            warnings: m.warnings.get(),
            reloads: m.reloads(true),
            failed_reloads: m.reloads(false),
            elapsed: started.elapsed(),
        }
    }

    /// The one-line summary: `N read, N delivered, N filtered, N failed, N duplicates skipped … in Xs`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} read, {} delivered, {} filtered, {} failed, {} duplicates skipped",
            self.records_in, self.delivered, self.filtered, self.failed, self.duplicates
        );
        if self.conflicts > 0 {
            s.push_str(&format!(", {} conflicts", self.conflicts));
        }
        if self.warnings > 0 {
            s.push_str(&format!(", {} warnings", self.warnings));
        }
        if self.reloads + self.failed_reloads > 0 {
            s.push_str(&format!(", {} reloads ({} failed)", self.reloads + self.failed_reloads, self.failed_reloads));
        }
        s.push_str(&format!(" in {:.2}s", self.elapsed.as_secs_f64()));
        s
    }
}

/// A pipeline ready to run: every endpoint checked, nothing read yet.
pub struct Pipeline {
    spec: Arc<PipelineSpec>,
    mapping: Arc<ArcSwap<Mapping>>,
    state: State,
    metrics: Arc<Metrics>,
    sink: Sink,
    dead_letter: LineSink,
    drift: Option<LineSink>,
    http_listener: Option<tokio::net::TcpListener>,
    metrics_listener: Option<tokio::net::TcpListener>,
    pg_source: Option<PgSource>,
    nats_source: Option<NatsSource>,
    watch: bool,
}

impl Pipeline {
    /// Loads a pipeline file and checks everything it names. Needs a tokio
    /// runtime (ports are bound here).
    pub async fn start(path: &Path, options: &Options) -> Result<Pipeline, Error> {
        let spec = Arc::new(crate::decode::load(path)?);
        let mapping = match Mapping::load(&spec.mapping.value) {
            Ok(m) => m,
            Err(Error::Io { message, .. }) => {
                return Err(located(
                    &spec,
                    SpecCode::MissingFile,
                    spec.mapping.loc,
                    format!("cannot read the mapping {}: {message}", spec.mapping.value.display()),
                    "the path is relative to the pipeline file; check it",
                ))
            }
            Err(e) => return Err(e),
        };
        if !mapping.sources().is_empty() {
            return Err(located(
                &spec,
                SpecCode::BadEndpoint,
                spec.mapping.loc,
                format!("mapping `{}` joins several sources; a pipeline reads one", mapping.name()),
                "run multi-source mappings with `mapwright map --source NAME=FILE …`",
            ));
        }
        let metrics = Arc::new(Metrics::new(&spec.name));
        metrics.set_mapping(mapping.name(), mapping.content_hash());
        let http_listener = match &spec.source {
            SourceSpec::Http(h) => Some(bind(&spec, &h.listen.value, h.listen.loc).await?),
            _ => None,
        };
        let metrics_listener = match &spec.metrics {
            Some(m) => Some(bind(&spec, &m.value, m.loc).await?),
            None => None,
        };
        let pg_source = match &spec.source {
            SourceSpec::Postgres(p) => Some(PgSource::connect(p, &spec.file).await.map_err(one)?),
            _ => None,
        };
        let nats_source = match &spec.source {
            SourceSpec::Nats(n) => Some(NatsSource::connect(n, &spec.file, &spec.name).await.map_err(one)?),
            _ => None,
        };
        if let SourceSpec::File { path, .. } = &spec.source {
            if let Err(message) = sources::expand(&path.value) {
                return Err(located(
                    &spec,
                    SpecCode::MissingFile,
                    path.loc,
                    message,
                    "check the path; it is relative to the pipeline file",
                ));
            }
        }
        // Files last: a pipeline that cannot start leaves no empty outputs.
        let state = State::open(&spec.state).map_err(|e| Error::Io { path: e.path.clone(), message: e.message })?;
        metrics.inbox.set(state.inbox_len().unwrap_or(0) as i64);
        let sink = match &spec.sink {
            SinkSpec::Http(h) => Sink::Http(Box::new(HttpSink::new(h, metrics.clone()).map_err(|e| {
                located(&spec, SpecCode::BadEndpoint, h.url.loc, e, "check the sink's url and headers")
            })?)),
            SinkSpec::Postgres(p) => Sink::Postgres(Box::new(PgSink::connect(p, &spec.file).await.map_err(one)?)),
            SinkSpec::Nats(n) => Sink::Nats(Box::new(NatsSink::connect(n, &spec.file).await.map_err(one)?)),
            other => Sink::Lines(open_lines(&spec, other, "sink")?),
        };
        let dead_letter = open_lines(&spec, &spec.dead_letter, "dead_letter")?;
        let drift = spec.drift.as_ref().map(|d| open_lines(&spec, d, "drift")).transpose()?;
        let watch = options.watch || spec.watch;
        Ok(Pipeline {
            mapping: Arc::new(ArcSwap::from_pointee(mapping)),
            spec,
            state,
            metrics,
            sink,
            dead_letter,
            drift,
            http_listener,
            metrics_listener,
            pg_source,
            nats_source,
            watch,
        })
    }

    /// The counters, live.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The address of the HTTP source, once bound.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http_listener.as_ref().and_then(metrics::local)
    }

    /// The address of the metrics server, once bound.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_listener.as_ref().and_then(metrics::local)
    }

    /// Runs until the source is exhausted (file, stdin) or `stop` fires.
    pub async fn run(self, options: &Options, stop: Stop, handle: Arc<StopHandle>) -> Result<Summary, Error> {
        let started = Instant::now();
        let Pipeline {
            spec,
            mapping,
            state,
            metrics,
            sink,
            dead_letter,
            drift,
            http_listener,
            metrics_listener,
            pg_source,
            nats_source,
            watch,
        } = self;
        let current = mapping.load_full();
        tracing::info!(pipeline = %spec.name, mapping = current.name(), hash = current.content_hash(), "starting");
        let _reloader = if watch {
            match reload::watch(spec.mapping.value.clone(), mapping.clone(), metrics.clone()) {
                Ok(r) => Some(r),
                Err(e) => return Err(Error::Usage(e)),
            }
        } else {
            None
        };
        let mut servers = Vec::new();
        if let Some(l) = metrics_listener {
            servers.push(tokio::spawn(metrics::serve(l, metrics.clone(), stop.clone())));
        }
        let (tx, mut rx) = mpsc::channel::<Batch>(2);
        let taken = Arc::new(Mutex::new(HashSet::new()));
        // Sources build only the parts of a record the mapping reads; after a
        // reload that reads more, the processor parses records whole.
        let read_with = current.projection().cloned();
        let projection = read_with.clone().map(Arc::new);
        let mut dir_targets = None;
        let mut progress = false;
        let source_task = match &spec.source {
            SourceSpec::File { path, format } => {
                progress = true;
                let (pattern, format, stop) = (path.value.clone(), *format, stop.clone());
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = sources::read_files(&pattern, format, projection, &tx, &stop) {
                        tracing::error!("{e}");
                    }
                })
            }
            SourceSpec::Stdin { format } => {
                let (format, stop) = (*format, stop.clone());
                tokio::task::spawn_blocking(move || sources::read_stdin(format, projection, &tx, &stop))
            }
            SourceSpec::Dir { path, format, done, failed, poll, settle } => {
                progress = true;
                dir_targets = Some((done.clone(), failed.clone()));
                let source = DirSource {
                    dir: path.value.clone(),
                    format: *format,
                    poll: *poll,
                    settle: *settle,
                    projection,
                    taken: taken.clone(),
                };
                let stop = stop.clone();
                tokio::task::spawn_blocking(move || source.run(&tx, &stop))
            }
            SourceSpec::Http(h) => {
                let wake = Arc::new(tokio::sync::Notify::new());
                if let Some(l) = http_listener {
                    let server = http::serve_source(
                        l,
                        Arc::new(h.clone()),
                        state.clone(),
                        metrics.clone(),
                        wake.clone(),
                        stop.clone(),
                    );
                    servers.push(tokio::spawn(server));
                }
                tokio::spawn(sources::feed_inbox(state.clone(), wake, tx, stop.clone()))
            }
            SourceSpec::Postgres(p) => {
                let Some(pg) = pg_source else {
                    return Err(Error::Usage("the postgres source was not connected".into()));
                };
                let name = format!("{}:postgres", spec.name);
                let after = state.cursor(&name).map_err(|e| Error::Usage(e.to_string()))?;
                tokio::spawn(sources::poll_postgres(pg, name, after, p.poll, tx, stop.clone()))
            }
            SourceSpec::Nats(_) => {
                let Some(source) = nats_source else {
                    return Err(Error::Usage("the nats source was not connected".into()));
                };
                let wake = Arc::new(tokio::sync::Notify::new());
                let (st, m, w, sp) = (state.clone(), metrics.clone(), wake.clone(), stop.clone());
                servers.push(tokio::spawn(async move {
                    crate::nats::serve_source(source, st, m, w, sp).await;
                    Ok(())
                }));
                tokio::spawn(sources::feed_inbox(state.clone(), wake, tx, stop.clone()))
            }
        };
        let bar = (options.progress && progress).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {human_pos} records, {per_sec} [{elapsed}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        // Mapping runs one batch ahead of delivery, on its own thread: the
        // processor delivers and commits batch n while batch n + 1 is mapped.
        let (mapped_tx, mut mapped_rx) = mpsc::channel::<runtime::Mapped>(1);
        let mapper = {
            let (mapping, metrics, stop) = (mapping.clone(), metrics.clone(), stop.clone());
            tokio::spawn(async move {
                while let Some(batch) = stop.recv(&mut rx).await {
                    // One mapping for the whole batch: no record sees half of a reload.
                    let (mapping, metrics, read_with) = (mapping.load_full(), metrics.clone(), read_with.clone());
                    let job = move || runtime::map_batch(mapping, read_with.as_ref(), &metrics, batch);
                    let Ok(mapped) = tokio::task::spawn_blocking(job).await else {
                        tracing::error!("internal: mapping a batch failed");
                        break;
                    };
                    if mapped_tx.send(mapped).await.is_err() {
                        break;
                    }
                }
            })
        };
        let mut processor = Processor {
            state,
            metrics: metrics.clone(),
            sink,
            dead_letter,
            drift,
            taken,
            dir_targets,
            dir_failed: HashSet::new(),
            progress: bar.clone(),
        };
        let mut result = Ok(());
        while let Some(mapped) = stop.recv(&mut mapped_rx).await {
            match processor.finish(mapped, &stop).await {
                Ok(()) => {}
                Err(Halt::Stopped) => break,
                Err(Halt::Failed(message)) => {
                    tracing::error!("{message}");
                    result = Err(Error::Usage(message));
                    break;
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        handle.stop();
        // Mapped batches not delivered are read again after a restart.
        drop(mapped_rx);
        let _ = mapper.await;
        let _ = source_task.await;
        for s in servers {
            let _ = s.await;
        }
        result.map(|()| Summary::of(&metrics, started))
    }
}

/// Binds a listening socket, or says which line asked for it and why it failed.
async fn bind(spec: &PipelineSpec, addr: &str, loc: Loc) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "another program listens there: stop it, or choose another port".to_string()
        } else {
            "write `host:port`, such as 127.0.0.1:8088".to_string()
        };
        endpoint_error(spec, loc, format!("cannot listen on {addr}: {e}"), hint)
    })
}

fn located(spec: &PipelineSpec, code: SpecCode, loc: Loc, message: impl Into<String>, hint: &str) -> Error {
    Error::Spec(Diagnostics(vec![Diagnostic::spec(&spec.file, code, loc, message).with_hint(hint)]))
}

fn open_lines(spec: &PipelineSpec, sink: &SinkSpec, what: &str) -> Result<LineSink, Error> {
    let prefix = &spec.name;
    let opened = match sink {
        SinkSpec::File { path, format } => {
            LineSink::file(&path.value, *format).map_err(|e| (path.loc, path.value.display().to_string(), e))
        }
        SinkSpec::Dir { path, format } => {
            LineSink::dir(&path.value, *format, prefix).map_err(|e| (path.loc, path.value.display().to_string(), e))
        }
        SinkSpec::Stdout => Ok(LineSink::Stdout),
        _ => {
            return Err(Error::Usage(format!("`{what}:` must be a file, a folder or stdout")));
        }
    };
    opened.map_err(|(loc, p, e)| {
        located(spec, SpecCode::BadEndpoint, loc, format!("cannot open {p}: {e}"), "check the path and its permissions")
    })
}

fn one(d: Diagnostic) -> Error {
    Error::Spec(Diagnostics(vec![d]))
}
