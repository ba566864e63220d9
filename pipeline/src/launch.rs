//! Starting a pipeline: everything that can fail is tried before the first
//! record is read — the mapping compiles, ports bind, files open,
//! databases and brokers answer, the state store opens — and each failure
//! points at its line in the pipeline file. Then the tasks start: the
//! source, the mapper, the processor, the metrics server and the reload
//! watcher.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::yaml::Loc;
use mapwright_engine::{Error, Mapping};
use tokio::sync::mpsc;

use crate::breaker::Breaker;
use crate::decode::located;
use crate::metrics::{self, Metrics};
use crate::rate_limit::RateLimit;
use crate::runtime::{self, Dispatcher, Outlet};
use crate::scheduler::{self, Delivering};
use crate::sinks::{LineSink, Sink};
use crate::sources::{self, Batch, SourceSpec};
use crate::spec::PipelineSpec;
use crate::state::State;
use crate::{Stop, reload};

/// How to run a pipeline.
///
/// ```
/// let options = mapwright_pipeline::Options::default().watch(true);
/// assert!(options.watch && !options.progress);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// Hot reload even when the file does not say `watch: true`.
    pub watch: bool,
    /// Show a progress bar (file and folder sources, on a terminal).
    pub progress: bool,
    /// Accept a missing or empty state store even though the pipeline's
    /// outputs exist (every record not in the store is delivered again).
    pub fresh_state: bool,
}

impl Options {
    /// With hot reload on (or off).
    ///
    /// ```
    /// assert!(mapwright_pipeline::Options::default().watch(true).watch);
    /// ```
    pub fn watch(mut self, on: bool) -> Options {
        self.watch = on;
        self
    }

    /// With a progress bar on standard error (or without).
    ///
    /// ```
    /// assert!(mapwright_pipeline::Options::default().progress(true).progress);
    /// ```
    pub fn progress(mut self, on: bool) -> Options {
        self.progress = on;
        self
    }

    /// Accepting a missing or empty state store knowingly (or not).
    ///
    /// ```
    /// assert!(mapwright_pipeline::Options::default().fresh_state(true).fresh_state);
    /// ```
    pub fn fresh_state(mut self, on: bool) -> Options {
        self.fresh_state = on;
        self
    }
}

/// What a run did.
///
/// ```
/// let summary = mapwright_pipeline::Summary::default();
/// assert!(summary.line().starts_with("0 read, 0 delivered, 0 filtered, 0 failed, 0 duplicates skipped in "));
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
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

    /// The one-line summary: `N read, N delivered, N filtered, N failed, N
    /// duplicates skipped … in Xs`, with conflicts, warnings and reloads
    /// when there were any.
    ///
    /// ```
    /// let mut summary = mapwright_pipeline::Summary::default();
    /// summary.records_in = 3;
    /// summary.delivered = 2;
    /// summary.failed = 1;
    /// assert_eq!(summary.line(), "3 read, 2 delivered, 0 filtered, 1 failed, 0 duplicates skipped in 0.00s");
    /// ```
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

/// A pipeline file checked without touching the world: the file decodes
/// and its mapping compiles.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("mapwright-doc-check-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("m.yaml"), "mapping: m\nfields:\n  id: $.id\n").unwrap();
/// std::fs::write(dir.join("p.yaml"), "pipeline: p\nmapping: m.yaml\nsource: { kind: stdin }\nsink: { kind: stdout }\n").unwrap();
/// let checked = mapwright_pipeline::Pipeline::check(&dir.join("p.yaml"))?;
/// assert_eq!((checked.name.as_str(), checked.mapping.name()), ("p", "m"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), mapwright_engine::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// The pipeline's name.
    pub name: String,
    /// Its mapping, compiled.
    pub mapping: Mapping,
}

/// A pipeline ready to run: every endpoint checked, nothing read yet.
///
/// [`Pipeline::load`] reads the pipeline file, compiles its mapping and
/// makes every start-up check; [`Pipeline::run`] runs it until its source
/// ends (a file, standard input) or the [`Stop`] fires, and sums up.
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// use mapwright_pipeline::{Options, Pipeline, Stop};
///
/// let dir = std::env::temp_dir().join(format!("mapwright-doc-pipeline-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("m.yaml"), "mapping: m\nkey: $.id\nfields:\n  id: $.id\n  total: $.price * $.qty\n").unwrap();
/// std::fs::write(dir.join("in.jsonl"), "{\"id\": 1, \"price\": 19.99, \"qty\": 3}\n").unwrap();
/// std::fs::write(
///     dir.join("p.yaml"),
///     "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\nsink: { kind: file, path: out.jsonl }\n",
/// )
/// .unwrap();
/// let pipeline = Pipeline::load(&dir.join("p.yaml"), &Options::default()).await?;
/// let (_handle, stop) = Stop::new();
/// let summary = pipeline.run(stop).await?;
/// assert_eq!(summary.delivered, 1);
/// assert_eq!(std::fs::read_to_string(dir.join("out.jsonl")).unwrap(), "{\"id\":1,\"total\":59.97}\n");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), mapwright_engine::Error>(())
/// # }).unwrap();
/// ```
pub struct Pipeline {
    spec: Arc<PipelineSpec>,
    mapping: Arc<ArcSwap<Mapping>>,
    state: State,
    metrics: Arc<Metrics>,
    sinks: Vec<Sink>,
    dead_letter: LineSink,
    drift: Option<LineSink>,
    source: sources::Opened,
    metrics_listener: Option<tokio::net::TcpListener>,
    watch: bool,
    progress: bool,
}

impl Pipeline {
    /// Decodes a pipeline file and compiles its mapping, touching nothing
    /// else: what `mapwright check` does with a pipeline file.
    pub fn check(path: &Path) -> Result<Checked, Error> {
        let spec = crate::decode::load(path)?;
        let mapping = mapping_of(&spec)?;
        Ok(Checked { name: spec.name, mapping })
    }

    /// Loads a pipeline file and checks everything it names: the mapping
    /// compiles (and reads one source), the source's port binds or its
    /// server answers, the sink can be reached, the state store and the
    /// output files open. Needs a tokio runtime (ports are bound here).
    /// Outputs and the state store are created last, so a pipeline that
    /// cannot start leaves nothing behind.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let err = mapwright_pipeline::Pipeline::load(std::path::Path::new("no/such/pipeline.yaml"), &Default::default())
    ///     .await
    ///     .err()
    ///     .unwrap();
    /// assert!(err.to_string().contains("no/such/pipeline.yaml"));
    /// # });
    /// ```
    pub async fn load(path: &Path, options: &Options) -> Result<Pipeline, Error> {
        let spec = Arc::new(crate::decode::load(path)?);
        let mapping = mapping_of(&spec)?;
        let metrics = Arc::new(Metrics::new(&spec.name));
        metrics.set_mapping(mapping.name(), mapping.content_hash());
        let source = sources::open(&spec.source, &spec.file, &spec.name).await?;
        let metrics_listener = match &spec.metrics {
            Some(m) => Some(listen(&spec.file, &m.value, m.loc).await?),
            None => None,
        };
        // Files last: a pipeline that cannot start leaves no empty outputs.
        let state = open_state(&spec, options.fresh_state)?;
        metrics.inbox_moved(1, state.inbox_size().unwrap_or_default());
        if matches!(spec.source, SourceSpec::Http(_)) {
            // Every connection is a file descriptor: take what the system
            // allows, so that max_connections is the limit that bites.
            if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
                tracing::debug!(error = %e, "cannot raise the open-file limit");
            }
        }
        let mut sinks = Vec::with_capacity(spec.sinks.len());
        for s in &spec.sinks {
            sinks.push(Sink::open(s, &spec.file, &spec.name).await?);
        }
        let dead_letter = LineSink::open(&spec.dead_letter, &spec.file, "dead_letter", &spec.name)?;
        let drift = spec.drift.as_ref().map(|d| LineSink::open(d, &spec.file, "drift", &spec.name)).transpose()?;
        let watch = options.watch || spec.watch;
        Ok(Pipeline {
            mapping: Arc::new(ArcSwap::from_pointee(mapping)),
            spec,
            state,
            metrics,
            sinks,
            dead_letter,
            drift,
            source,
            metrics_listener,
            watch,
            progress: options.progress,
        })
    }

    /// The pipeline's name (`pipeline:`).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let dir = std::env::temp_dir().join(format!("mapwright-doc-name-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("m.yaml"), "mapping: m\nfields:\n  id: $.id\n").unwrap();
    /// std::fs::write(dir.join("p.yaml"), "pipeline: orders\nmapping: m.yaml\nsource: { kind: stdin }\nsink: { kind: stdout }\n").unwrap();
    /// let pipeline = mapwright_pipeline::Pipeline::load(&dir.join("p.yaml"), &Default::default()).await?;
    /// assert_eq!(pipeline.name(), "orders");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), mapwright_engine::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The address the webhook endpoint listens on (`kind: http` sources):
    /// with `listen: 127.0.0.1:0`, the port the system chose.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let dir = std::env::temp_dir().join(format!("mapwright-doc-addr-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("m.yaml"), "mapping: m\nfields:\n  id: $.id\n").unwrap();
    /// let file = "pipeline: p\nmapping: m.yaml\nsource: { kind: http, listen: 127.0.0.1:0 }\nsink: { kind: stdout }\nmetrics: { listen: 127.0.0.1:0 }\n";
    /// std::fs::write(dir.join("p.yaml"), file).unwrap();
    /// let pipeline = mapwright_pipeline::Pipeline::load(&dir.join("p.yaml"), &Default::default()).await?;
    /// assert_ne!(pipeline.http_addr().unwrap().port(), 0);
    /// assert_ne!(pipeline.metrics_addr().unwrap().port(), 0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), mapwright_engine::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.source {
            sources::Opened::Http(l) => l.local_addr().ok(),
            _ => None,
        }
    }

    /// The address the metrics server listens on ([`Pipeline::http_addr`]
    /// shows both).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs until the source is exhausted (file, stdin) or `stop` fires,
    /// then sums up. The batch in flight at a stop is finished or left to
    /// the next start; an error means the sink, the dead letter or the
    /// state store failed, and the run stopped.
    pub async fn run(self, stop: Stop) -> Result<Summary, Error> {
        let started = Instant::now();
        let Pipeline {
            spec,
            mapping,
            state,
            metrics,
            sinks,
            dead_letter,
            drift,
            source,
            metrics_listener,
            watch,
            progress,
        } = self;
        // The run's own stop: the caller's, or the end of the input.
        let (handle, inner) = Stop::new();
        let handle = Arc::new(handle);
        let forward = {
            let (handle, stop) = (handle.clone(), stop);
            tokio::spawn(async move {
                stop.wait().await;
                handle.stop();
            })
        };
        let stop = inner;
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
        let taken: sources::dir::Taken = Arc::new(Mutex::new(HashSet::new()));
        // Sources build only the parts of a record the mapping reads; after a
        // reload that reads more, the processor parses records whole.
        let read_with = current.projection().cloned();
        let cx = sources::Context {
            pipeline: spec.name.clone(),
            state: state.clone(),
            metrics: metrics.clone(),
            stop: stop.clone(),
            projection: read_with.clone().map(Arc::new),
            taken: taken.clone(),
        };
        let running = sources::start(&spec.source, source, cx, tx).map_err(Error::Usage)?;
        servers.extend(running.server);
        let (dir_targets, batch_run) = match &spec.source {
            SourceSpec::Dir(d) => (Some((d.done.clone(), d.failed.clone())), true),
            SourceSpec::File(_) => (None, true),
            _ => (None, false),
        };
        let bar = (progress && batch_run).then(progress_bar);
        // Each sink's scheduler: its queue, requests in flight, retries,
        // breaker and rate limit.
        let (report_tx, reports) = mpsc::unbounded_channel();
        let mut outlets = Vec::with_capacity(sinks.len());
        let mut schedulers = Vec::with_capacity(sinks.len());
        let mut in_flight = 0;
        let mut watched = Vec::with_capacity(sinks.len());
        let one = spec.sinks.len() == 1;
        for (index, (s, sink)) in spec.sinks.iter().zip(sinks).enumerate() {
            let sink_metrics = Arc::new(metrics.sink(&s.name));
            let breaker = Arc::new(Breaker::new(&s.name, s.retry.breaker_after, s.retry, sink_metrics.clone()));
            metrics.watch_breaker(&s.name, breaker.clone());
            watched.push((s.name.clone(), breaker.clone(), sink_metrics.clone()));
            in_flight += s.concurrency * s.batch.max_records;
            let delivering = Arc::new(Delivering {
                index,
                name: s.name.clone(),
                sink,
                concurrency: s.concurrency,
                batch: s.batch,
                retry: s.retry,
                breaker,
                rate: s.rate.map(RateLimit::new),
                metrics: sink_metrics,
            });
            let (jobs, queue) = mpsc::unbounded_channel();
            schedulers.push(tokio::spawn(scheduler::run(delivering, queue, report_tx.clone(), stop.clone())));
            let ns = if one && !s.named { String::new() } else { format!("{}\u{1f}", s.name) };
            outlets.push(Outlet { name: s.name.clone(), ns, jobs: Some(jobs) });
        }
        drop(report_tx);
        let status = tokio::spawn(keep_status(state.clone(), watched, spec.keep, stop.clone()));
        let routes: runtime::Routes = Arc::new(spec.sinks.iter().map(|s| s.when.clone()).collect());
        // Mapping runs ahead of delivery, on its own thread: the
        // dispatcher hands batch n to the sinks while batch n + 1 is mapped.
        let (mapped_tx, mapped_rx) = mpsc::channel::<runtime::Mapped>(1);
        let mapper = {
            let (mapping, metrics, stop) = (mapping.clone(), metrics.clone(), stop.clone());
            tokio::spawn(async move {
                while let Some(batch) = stop.recv(&mut rx).await {
                    // One mapping for the whole batch: no record sees half of a reload.
                    let (mapping, metrics, read_with, routes) =
                        (mapping.load_full(), metrics.clone(), read_with.clone(), routes.clone());
                    // A few records (webhooks as they come) are mapped here, in
                    // well under a millisecond; a thread hop would cost more.
                    // Larger batches go to a blocking thread.
                    let small = batch.records.len() <= MAP_INLINE;
                    let job = move || runtime::map_batch(mapping, read_with.as_ref(), &routes, &metrics, batch);
                    let mapped = if small { Ok(job()) } else { tokio::task::spawn_blocking(job).await };
                    let Ok(mapped) = mapped else {
                        tracing::error!("internal: mapping a batch failed");
                        break;
                    };
                    if mapped_tx.send(mapped).await.is_err() {
                        break;
                    }
                }
            })
        };
        let dispatcher = Dispatcher {
            state,
            metrics: metrics.clone(),
            outlets,
            dead_letter,
            drift,
            taken,
            dir_targets,
            progress: bar.clone(),
            max_pending: (4 * in_flight).clamp(MAX_PENDING_FLOOR, MAX_PENDING_CEILING),
        };
        let result = dispatcher.run(mapped_rx, reports, stop.clone(), handle.clone()).await.map_err(|message| {
            tracing::error!("{message}");
            Error::Usage(message)
        });
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        handle.stop();
        forward.abort();
        let _ = mapper.await;
        let _ = running.reader.await;
        for s in schedulers {
            let _ = s.await;
        }
        let _ = status.await;
        for s in servers {
            let _ = s.await;
        }
        result.map(|()| Summary::of(&metrics, started))
    }
}

/// Until the stop (and once more then): writes each sink's state to the
/// state store every few seconds, for `mapwright state`, and prunes old
/// delivered marks every hour.
async fn keep_status(
    state: State,
    sinks: Vec<(String, Arc<Breaker>, Arc<metrics::SinkMetrics>)>,
    keep: Option<Duration>,
    stop: Stop,
) {
    let mut last_prune = Instant::now();
    loop {
        let stopped = stop.sleep(Duration::from_secs(5)).await;
        let rows: Vec<crate::state::SinkRow> =
            sinks.iter().map(|(name, breaker, m)| sink_row(name, breaker, m)).collect();
        let prune = keep.filter(|_| last_prune.elapsed() >= Duration::from_secs(3600));
        if prune.is_some() {
            last_prune = Instant::now();
        }
        let st = state.clone();
        let written = tokio::task::spawn_blocking(move || -> Result<(), crate::state::StateError> {
            for row in &rows {
                st.set_sink(row)?;
            }
            if let Some(keep) = prune {
                st.prune(keep)?;
            }
            Ok(())
        })
        .await;
        if let Ok(Err(e)) = written {
            tracing::warn!("cannot write the sinks' state: {e}");
        }
        if stopped {
            return;
        }
    }
}

fn sink_row(name: &str, breaker: &Breaker, m: &metrics::SinkMetrics) -> crate::state::SinkRow {
    let status = breaker.status();
    let at = |t: std::time::SystemTime| mapwright_dsl::jiff::Timestamp::try_from(t).ok().map(|t| t.to_string());
    let last_success = m.last_success.get();
    crate::state::SinkRow {
        name: name.to_string(),
        open: status.open,
        since: status.since.and_then(at),
        last_error: status.last_error,
        queued: m.queued.get().max(0) as u64,
        in_flight: m.in_flight.get().max(0) as u64,
        delivered: m.delivered.get(),
        last_success: (last_success > 0)
            .then(|| mapwright_dsl::jiff::Timestamp::from_second(last_success).ok().map(|t| t.to_string()))
            .flatten(),
    }
}

/// Batches of at most this many records are mapped on the mapper's own
/// task.
const MAP_INLINE: usize = 16;

/// Records read and not yet committed, at least and at most: four times
/// what the sinks can have in flight, within these bounds.
const MAX_PENDING_FLOOR: usize = 10_000;
const MAX_PENDING_CEILING: usize = 100_000;

/// Opens the state store, refusing a missing or unused one when the
/// pipeline's outputs already exist: that store was lost or moved, and
/// starting afresh would deliver every record again — only with
/// `--fresh-state`. Then it is claimed (created when, by which pipeline
/// and process) and its old delivered marks pruned.
fn open_state(spec: &PipelineSpec, fresh_state: bool) -> Result<State, Error> {
    let io = |e: crate::state::StateError| Error::Io { path: e.path.clone(), message: e.message };
    let state = if spec.state.exists() { Some(State::open(&spec.state).map_err(io)?) } else { None };
    let unused = match &state {
        Some(s) => s.is_unused().map_err(io)?,
        None => true,
    };
    if unused && !fresh_state {
        let outputs = existing_outputs(spec);
        if !outputs.is_empty() {
            let shown: Vec<String> = outputs.iter().map(|p| p.display().to_string()).collect();
            let what = if state.is_some() { "is empty" } else { "does not exist" };
            return Err(Error::Usage(format!(
                "the state store {} {what}, but this pipeline's outputs already exist ({}): starting afresh would \
                 deliver every record again. If the store was lost or moved, put it back (or point `state:` at it); \
                 to start afresh knowingly — every record is sent again, with the same idempotency keys — run with \
                 --fresh-state",
                spec.state.display(),
                shown.join(", ")
            )));
        }
    }
    let state = match state {
        Some(s) => s,
        None => State::open(&spec.state).map_err(io)?,
    };
    state.claim(&spec.name).map_err(io)?;
    if let Some(keep) = spec.keep {
        let pruned = state.prune(keep).map_err(io)?;
        if pruned > 0 {
            tracing::info!(pruned, keep_days = keep.as_secs() / 86_400, "delivered marks older than `keep` pruned");
        }
    }
    Ok(state)
}

/// The pipeline's outputs on this machine that exist and are not empty:
/// file and folder sinks, the dead letter, the drift report.
fn existing_outputs(spec: &PipelineSpec) -> Vec<std::path::PathBuf> {
    use crate::sinks::SinkKind;
    let kinds = spec.sinks.iter().map(|s| &s.kind).chain([&spec.dead_letter]).chain(spec.drift.as_ref());
    let mut out = Vec::new();
    for kind in kinds {
        let (path, has) = match kind {
            SinkKind::File(f) => (&f.path.value, std::fs::metadata(&f.path.value).is_ok_and(|m| m.len() > 0)),
            SinkKind::Dir(d) => (&d.path.value, std::fs::read_dir(&d.path.value).is_ok_and(|mut r| r.next().is_some())),
            _ => continue,
        };
        if has && !out.contains(path) {
            out.push(path.clone());
        }
    }
    out
}

/// The compiled mapping of a pipeline: one source; a file that cannot be
/// read is located at `mapping:`.
fn mapping_of(spec: &PipelineSpec) -> Result<Mapping, Error> {
    let mapping = match Mapping::load(&spec.mapping.value) {
        Ok(m) => m,
        Err(Error::Io { message, .. }) => {
            return Err(located(
                &spec.file,
                SpecCode::MissingFile,
                spec.mapping.loc,
                format!("cannot read the mapping {}: {message}", spec.mapping.value.display()),
                "the path is relative to the pipeline file; check it",
            ));
        }
        Err(e) => return Err(e),
    };
    if !mapping.sources().is_empty() {
        return Err(located(
            &spec.file,
            SpecCode::BadEndpoint,
            spec.mapping.loc,
            format!("mapping `{}` joins several sources; a pipeline reads one", mapping.name()),
            "run multi-source mappings with `mapwright map --source NAME=FILE …`",
        ));
    }
    Ok(mapping)
}

/// Binds a listening socket, or says which line of `file` asked for it and
/// why it failed.
pub(crate) async fn listen(file: &SourceFile, addr: &str, loc: Loc) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "another program listens there: stop it, or choose another port".to_string()
        } else {
            "write `host:port`, such as 127.0.0.1:8088".to_string()
        };
        located(file, SpecCode::BadEndpoint, loc, format!("cannot listen on {addr}: {e}"), hint)
    })
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {human_pos} records, {per_sec} [{elapsed}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
