//! `remotemedia run`: stream inputs through a manifest and write the outputs as JSON Lines.
//!
//! Inputs are JSON values: one per `--input`, or one per line of `--input-file` (`-` for stdin),
//! read lazily so an endless stdin streams. A bad line ends the input there: the lines before it
//! are processed completely and their outputs written, then `run` exits with code 2, naming the
//! file and the line.
//!
//! Or audio: `--audio FILE` (WAV, FLAC, MP3, Ogg Vorbis), or `--audio -` for stdin, is decoded
//! natively as it arrives, and its frames — the items a reader node emits, `{"samples",
//! "sample_rate", "channels", "timestamp"}` of `--frame-ms` each — are the run's inputs: they go to
//! the root nodes, so the manifest starts where a reader node would end (mix-down, resampling …)
//! and runs on any file or pipe without editing it. Audio that cannot be opened is exit code 2
//! before anything runs; audio that breaks off mid-way (truncated, corrupt, a rate change) is
//! exit code 1 once the frames before it have gone through and their outputs are written.
//!
//! Outputs are JSON Lines, written and flushed as they are produced. With one sink each line is
//! the value itself; with several, each line is `{"sink": "<node id>", "value": <value>}`.
//!
//! Exit codes: 0 success; 1 a node failed (the message names the node, the step, the error and
//! its traceback); 2 invalid manifest, input or plan; 130 interrupted by SIGINT or SIGTERM (every
//! node is cleaned up and the outputs produced so far are written; a second signal exits at once).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use remotemedia_runtime::engines::media::decode::{AudioDecoder, AudioInput};
use remotemedia_runtime::engines::media::engine::audio_frame_value;
use remotemedia_runtime::engines::rustpython::InterpreterSharing;
use remotemedia_runtime::executor::{
    Inputs, NodeMetrics, Output, Received, Run, RunError, RunHandle, RunTiming,
};
use remotemedia_runtime::pipeline::{Config, Pipeline};
use remotemedia_runtime::placement::EngineKind;
use remotemedia_runtime::value::{Value, check_json, parse_json_line};
use serde::Serialize;

use crate::common::{ClusterArgs, IsolationArgs, MachineArgs, PythonPathArgs, RemoteArgs};
use crate::exit::{EXIT_FAILURE, EXIT_INTERRUPTED, InvalidInput};

/// `--max-input-line-mib`'s default: room for a minute of 48 kHz stereo audio as JSON numbers,
/// while a line's parsed form (tens of times its size in memory) stays well under a GiB.
const DEFAULT_MAX_INPUT_LINE_MIB: u32 = 16;

/// SIGINT/SIGTERM received so far.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Outputs are JSON Lines, written as produced: the value itself with one sink node, \
{\"sink\": ID, \"value\": VALUE} with several. Bytes are {\"$bytes\": BASE64}, in inputs too.

Exit codes: 0 success; 1 a node failed (its id, step, error and traceback are printed); \
2 invalid manifest, input or plan; 130 interrupted by SIGINT/SIGTERM (nodes are cleaned up and \
outputs produced so far are written; a second signal exits at once).

Logs go to stderr, filtered by RUST_LOG (e.g. RUST_LOG=debug shows each node's lifecycle).")]
pub struct Args {
    /// The manifest to run.
    manifest: PathBuf,
    /// An input value, as JSON (repeatable; fed in order).
    #[arg(
        long = "input",
        value_name = "JSON",
        conflicts_with = "input_file",
        allow_hyphen_values = true
    )]
    inputs: Vec<String>,
    /// Read inputs as JSON Lines from this file, or from stdin with `-`.
    #[arg(long, value_name = "PATH|-", conflicts_with = "audio")]
    input_file: Option<PathBuf>,
    /// Stream audio into the pipeline: a file (WAV, FLAC, MP3, Ogg Vorbis) or stdin with `-`,
    /// decoded as it arrives. Its frames go to the root nodes, as a reader node's frames would.
    #[arg(long, value_name = "FILE|-", conflicts_with = "inputs")]
    audio: Option<String>,
    /// Milliseconds of audio per frame with --audio (the last frame may be shorter).
    #[arg(long, value_name = "MS", default_value_t = 20, requires = "audio",
          value_parser = clap::value_parser!(u32).range(1..))]
    frame_ms: u32,
    /// The longest line --input-file may have, in MiB: a longer one ends the input there (the lines
    /// before it are processed) and the run exits with code 2 naming it, instead of reading an
    /// endless line into memory.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_INPUT_LINE_MIB,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_input_line_mib: u32,
    /// Write outputs as JSON Lines to this file instead of stdout (`-`).
    #[arg(long, value_name = "PATH|-")]
    output: Option<PathBuf>,
    /// Hand-offs each node's input channel holds before its producers wait: one item each, or a
    /// batch of up to min(N, 8) from a node with more input waiting.
    #[arg(long, value_name = "N", default_value_t = remotemedia_runtime::executor::DEFAULT_CHANNEL_CAPACITY)]
    channel_capacity: usize,
    /// After SIGINT/SIGTERM, how long nodes get to stop before the run exits anyway (code 130),
    /// naming those still busy. CPython nodes busy in a call are interrupted (KeyboardInterrupt)
    /// and cleaned up, and so are RustPython nodes with an interpreter of their own (see
    /// --interpreters); isolated nodes are interrupted inside their worker and cleaned up there
    /// (a worker that does not answer within 1 s is ended). A RustPython node sharing an
    /// interpreter cannot be interrupted: one looping there without emitting is left behind, its
    /// `cleanup` not run.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0,
          value_parser = parse_seconds)]
    stop_timeout: f64,
    /// The longest one `process` (or `flush`) call of a node may take: past it the node fails
    /// (exit 1, naming it and the timeout) and is interrupted like on SIGINT; a node that cannot
    /// be interrupted stops the run, which then exits after --stop-timeout. No limit by default.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    node_timeout: Option<f64>,
    /// Print per-node metrics to stderr after the run: items in/out, time processing, time
    /// blocked waiting for downstream.
    #[arg(long)]
    metrics: bool,
    /// Print the metrics as JSON.
    #[arg(long, requires = "metrics")]
    json: bool,
    /// No progress indicator.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    python_path: PythonPathArgs,
    /// Which pure-Python (RustPython) nodes get an embedded interpreter of their own. Nodes in one
    /// interpreter share its modules and objects, so two CPU-bound nodes in one interpreter slow
    /// each other down; each interpreter of its own costs start-up time (built in parallel, on
    /// the node's thread) and memory, and only a node with one can be interrupted while busy
    /// (SIGINT/SIGTERM, --node-timeout). auto: nodes that declare `capabilities.cpu.cores` (SDK:
    /// `Node.get_capabilities()`) get their own, the others share one.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = Interpreters::Auto)]
    interpreters: Interpreters,
    #[command(flatten)]
    isolation: IsolationArgs,
    #[command(flatten)]
    machine: MachineArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let channel_capacity = NonZeroUsize::new(args.channel_capacity)
        .ok_or_else(|| InvalidInput(anyhow::anyhow!("--channel-capacity must be at least 1")))?;
    let mut config = Config::default();
    config.run.channel_capacity = channel_capacity;
    // Outputs are written as JSON: one JSON cannot carry (NaN, infinity) fails the node that made it.
    config.run.output_check = Some(check_json);
    config.run.node_timeout = args.node_timeout.map(Duration::from_secs_f64);
    config.python_path = args.python_path.directories()?;
    config.interpreters = args.interpreters.into();
    config.isolation = args.isolation.isolation();
    config.limits = args.isolation.limits();
    config.machine = args.machine.profile()?;
    config.hosts = Some(args.remote.connector()?);
    config.cluster = args.cluster.connector()?;
    let pipeline = Pipeline::load_with(&args.manifest, config).map_err(|err| {
        InvalidInput(
            anyhow::Error::new(err).context(format!("cannot run `{}`", args.manifest.display())),
        )
    })?;
    let inputs = match &args.audio {
        Some(audio) => audio_inputs(audio, args.frame_ms, &pipeline)?,
        None => open_inputs(&args)?,
    };
    let mut sink = OutputSink::open(args.output.as_deref(), pipeline.sinks().len() > 1)?;

    let mut run = pipeline.run(inputs)?;
    handle_signals(run.handle());
    let mut progress = Progress::new(!args.quiet && io::stderr().is_terminal());
    let stop_timeout = Duration::from_secs_f64(args.stop_timeout);
    let delivery = pump(&mut run, &mut sink, &mut progress, stop_timeout);
    progress.clear();
    let delivery = match delivery {
        Ok(delivery) => delivery,
        // Not `run.finish()`, nor dropping `run`: both wait for the nodes that do not stop.
        Err(Abandoned(busy)) => {
            let hint = sharing_hint(&busy, &pipeline, &run.handle());
            abandon(
                &busy,
                args.stop_timeout,
                run.handle().failure_message(),
                hint,
            )
        }
    };
    let (metrics, timing) = (run.metrics(), run.timing());
    let result = run.finish();
    if args.metrics {
        print_metrics(&metrics, timing, args.json)?;
    }
    match (delivery, result) {
        (Delivery::Failed(error), _) => Err(error),
        // The audio opened and frames flowed: breaking off mid-way is a failure of the run.
        (_, Err(error @ RunError::Input(_))) if args.audio.is_some() => Err(error.into()),
        (_, Err(error @ RunError::Input(_))) => Err(InvalidInput(anyhow::Error::new(error)).into()),
        (_, Err(error)) => Err(node_failure(error)),
        (Delivery::ReaderGone, Ok(_)) => Ok(ExitCode::SUCCESS),
        // A signal that came as the run was finishing anyway still means "interrupted" to the shell.
        (Delivery::Complete, Ok(report))
            if report.cancelled || SIGNALS.load(Ordering::SeqCst) > 0 =>
        {
            for skipped in &report.cleanups_skipped {
                eprintln!(
                    "node `{}` was not cleaned up: {}",
                    skipped.node, skipped.reason
                );
            }
            let others = if report.cleanups_skipped.is_empty() {
                "every node"
            } else {
                "every other node"
            };
            eprintln!(
                "interrupted: {others} was cleaned up; the outputs produced so far were written"
            );
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        (Delivery::Complete, Ok(_)) => Ok(ExitCode::SUCCESS),
    }
}

/// `--interpreters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Interpreters {
    /// Nodes that declare `capabilities.cpu.cores` get their own; the others share one.
    Auto,
    /// All nodes share one interpreter.
    Shared,
    /// Every node gets its own.
    PerNode,
}

impl From<Interpreters> for InterpreterSharing {
    fn from(choice: Interpreters) -> Self {
        match choice {
            Interpreters::Auto => InterpreterSharing::Auto,
            Interpreters::Shared => InterpreterSharing::Shared,
            Interpreters::PerNode => InterpreterSharing::PerNode,
        }
    }
}

/// How writing the outputs went.
enum Delivery {
    Complete,
    /// The reader closed the pipe (`| head`): it has all it wanted.
    ReaderGone,
    Failed(anyhow::Error),
}

/// The run was stopped, and these nodes were still busy past the stop timeout.
struct Abandoned(Vec<String>);

/// Exits naming the nodes that did not stop, without waiting for them: with code 1 and the run's
/// failure when it stopped because of one (a node timeout), otherwise with code 130.
fn abandon(busy: &[String], stop_timeout: f64, failure: Option<String>, hint: String) -> ! {
    let nodes: Vec<String> = busy.iter().map(|node| format!("node `{node}`")).collect();
    let left = format!(
        "{} did not stop within {stop_timeout} s (--stop-timeout); exiting without waiting for \
         {}; the outputs produced so far were written{hint}",
        nodes.join(", "),
        if busy.len() == 1 { "it" } else { "them" }
    );
    match failure {
        Some(failure) => {
            eprintln!("error: {failure}\n{left}");
            std::process::exit(EXIT_FAILURE.into())
        }
        None => {
            eprintln!("interrupted: {left}");
            std::process::exit(EXIT_INTERRUPTED.into())
        }
    }
}

/// For busy nodes in the run's shared RustPython interpreter, which cannot be interrupted: how to
/// give them one of their own, which can. Empty when there are none.
fn sharing_hint(busy: &[String], pipeline: &Pipeline, run: &RunHandle) -> String {
    let sharing: Vec<String> = busy
        .iter()
        .filter(|node| {
            let on_rustpython = pipeline
                .plan()
                .node(node)
                .is_some_and(|plan| plan.engine == EngineKind::Rustpython);
            on_rustpython && !run.interruptible(node)
        })
        .map(|node| format!("`{node}`"))
        .collect();
    if sharing.is_empty() {
        return String::new();
    }
    format!(
        "\nhint: {} shared the run's RustPython interpreter, where a busy node cannot be \
         interrupted; a node with an interpreter of its own can, and is cleaned up: run with \
         --interpreters per-node, or have the node declare `capabilities.cpu.cores`",
        sharing.join(", ")
    )
}

/// Writes outputs as they come, flushing whenever none is waiting. A write failure cancels the
/// run; the remaining outputs are drained unwritten. Once the run is stopping, it gets
/// `stop_timeout` to end; past it, what was written is flushed and the nodes still busy are named.
fn pump(
    run: &mut Run,
    sink: &mut OutputSink,
    progress: &mut Progress,
    stop_timeout: Duration,
) -> Result<Delivery, Abandoned> {
    let mut failure: Option<io::Error> = None;
    let mut wait = Duration::ZERO;
    let mut stopping_since: Option<Instant> = None;
    loop {
        if stopping_since.is_none() && run.handle().is_stopping() {
            stopping_since = Some(Instant::now());
        }
        if let Some(since) = stopping_since
            && since.elapsed() > stop_timeout
        {
            let busy = run.handle().busy_nodes();
            if !busy.is_empty() {
                let _ = sink.flush();
                return Err(Abandoned(busy));
            }
        }
        match run.recv_timeout(wait) {
            Received::Output(output) => {
                wait = Duration::ZERO;
                if failure.is_none() {
                    progress.clear();
                    if let Err(error) = sink.write(&output) {
                        failure = Some(error);
                        run.cancel();
                    }
                }
            }
            Received::Timeout => {
                // Nothing waiting: make what was written visible, then wait for more.
                if failure.is_none()
                    && let Err(error) = sink.flush()
                {
                    failure = Some(error);
                    run.cancel();
                }
                progress.tick(&run.metrics(), sink.written);
                wait = Progress::TICK;
            }
            Received::Ended => break,
        }
    }
    if failure.is_none()
        && let Err(error) = sink.flush()
    {
        failure = Some(error);
    }
    Ok(match failure {
        None => Delivery::Complete,
        Some(error) if error.kind() == io::ErrorKind::BrokenPipe => Delivery::ReaderGone,
        Some(error) => Delivery::Failed(sink.failed(error)),
    })
}

/// A node failure for people: the node, the step and the error, then the traceback.
fn node_failure(error: RunError) -> anyhow::Error {
    let traceback = error.traceback().map(|t| t.trim_end().to_owned());
    let error = anyhow::Error::new(error);
    match traceback {
        Some(traceback) => anyhow::anyhow!("{error:#}\n{traceback}"),
        None => error,
    }
}

/// The first SIGINT/SIGTERM cancels the run gracefully; a second one exits at once.
fn handle_signals(run: RunHandle) {
    let installed = ctrlc::set_handler(move || {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("\ninterrupted: stopping (press Ctrl-C again to exit at once)");
            run.cancel();
        } else {
            std::process::exit(EXIT_INTERRUPTED.into());
        }
    });
    if let Err(error) = installed {
        tracing::warn!("signals will not stop the run gracefully: {error}");
    }
}

/// The frames of `--audio`, decoded as they are read. The header is read now, so audio that
/// cannot be opened fails before anything runs.
fn audio_inputs(audio: &str, frame_ms: u32, pipeline: &Pipeline) -> anyhow::Result<Inputs> {
    let graph = pipeline.graph();
    let manifest = pipeline.manifest();
    let roots: Vec<&str> = graph.roots().map(|root| graph.id(root)).collect();
    if let Some(reader) = manifest.nodes.iter().find(|node| {
        roots.contains(&node.id.as_str()) && READER_NODE_TYPES.contains(&node.node_type.as_str())
    }) {
        return Err(InvalidInput(anyhow::anyhow!(
            "--audio feeds audio frames to the root nodes, but root node `{}` is a {}, which reads \
             a file path: remove it from the manifest, or give it a path with --input '\"FILE\"'",
            reader.id,
            reader.node_type
        ))
        .into());
    }
    let decoder = AudioDecoder::open(AudioInput::from_arg(audio), frame_ms)
        .map_err(|err| InvalidInput(anyhow::Error::new(err).context("cannot read --audio")))?;
    Ok(Inputs::fallible(
        decoder.map(|frame| frame.map(audio_frame_value)),
    ))
}

/// Root nodes that take a file path, not frames.
const READER_NODE_TYPES: &[&str] = &["WavReaderNode", "AudioReaderNode"];

/// A non-negative number of seconds.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
        _ => Err(format!("`{text}` is not a number of seconds")),
    }
}

fn open_inputs(args: &Args) -> anyhow::Result<Inputs> {
    if let Some(path) = &args.input_file {
        return json_lines(path, u64::from(args.max_input_line_mib) << 20);
    }
    let values = args
        .inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            parse_json_line(text).map_err(|reason| {
                InvalidInput(anyhow::anyhow!(
                    "--input #{} is not valid: {reason}",
                    index + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Inputs::new(values))
}

/// Inputs read lazily, one JSON value per non-blank line of at most `max_line` bytes.
fn json_lines(path: &Path, max_line: u64) -> anyhow::Result<Inputs> {
    let (name, reader): (String, Box<dyn BufRead + Send>) = if path == Path::new("-") {
        ("stdin".to_owned(), Box::new(BufReader::new(io::stdin())))
    } else {
        let file = File::open(path).map_err(|err| {
            InvalidInput(anyhow::anyhow!(
                "cannot read input file `{}`: {err}",
                path.display()
            ))
        })?;
        (
            format!("`{}`", path.display()),
            Box::new(BufReader::new(file)),
        )
    };
    let lines = BoundedLines {
        reader,
        max_line,
        ended: false,
    };
    let lines = lines.enumerate().filter_map(move |(index, line)| {
        let number = index + 1;
        match line {
            Ok(line) if line.trim().is_empty() => None,
            Ok(line) => Some(
                parse_json_line(&line).map_err(|reason| format!("{name} line {number}: {reason}")),
            ),
            Err(reason) => Some(Err(format!("{name} line {number}: {reason}"))),
        }
    });
    Ok(Inputs::fallible(lines))
}

/// The lines of a reader, none longer than `max_line` bytes: a longer one is an error and ends
/// the lines, having read at most `max_line + 1` bytes of it.
struct BoundedLines {
    reader: Box<dyn BufRead + Send>,
    max_line: u64,
    ended: bool,
}

impl Iterator for BoundedLines {
    type Item = Result<String, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let mut line = Vec::new();
        let read = (&mut self.reader)
            .take(self.max_line + 1)
            .read_until(b'\n', &mut line);
        let failure = match read {
            Ok(0) => {
                self.ended = true;
                return None;
            }
            Ok(_) if line.last() == Some(&b'\n') => None,
            Ok(_) if line.len() as u64 > self.max_line => Some(format!(
                "longer than {} MiB (see --max-input-line-mib)",
                self.max_line >> 20
            )),
            // The last line, without a newline.
            Ok(_) => None,
            Err(err) => Some(format!("cannot read: {err}")),
        };
        if let Some(reason) = failure {
            self.ended = true;
            return Some(Err(reason));
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        Some(String::from_utf8(line).map_err(|err| {
            self.ended = true;
            format!(
                "not UTF-8 (invalid byte at column {})",
                err.utf8_error().valid_up_to() + 1
            )
        }))
    }
}

/// Where outputs go, and how each line looks.
struct OutputSink {
    writer: BufWriter<Box<dyn Write>>,
    name: String,
    tag_with_sink: bool,
    written: u64,
}

impl OutputSink {
    fn open(path: Option<&Path>, tag_with_sink: bool) -> anyhow::Result<OutputSink> {
        let (name, writer): (String, Box<dyn Write>) = match path {
            None => ("stdout".to_owned(), Box::new(io::stdout())),
            Some(path) if path == Path::new("-") => ("stdout".to_owned(), Box::new(io::stdout())),
            Some(path) => {
                let file = File::create(path).map_err(|err| {
                    InvalidInput(anyhow::anyhow!(
                        "cannot write output file `{}`: {err}",
                        path.display()
                    ))
                })?;
                (format!("`{}`", path.display()), Box::new(file))
            }
        };
        Ok(OutputSink {
            writer: BufWriter::new(writer),
            name,
            tag_with_sink,
            written: 0,
        })
    }

    fn write(&mut self, output: &Output) -> io::Result<()> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            sink: &'a str,
            value: &'a Value,
        }
        if self.tag_with_sink {
            let line = Tagged {
                sink: &output.sink,
                value: &output.value,
            };
            serde_json::to_writer(&mut self.writer, &line)?;
        } else {
            serde_json::to_writer(&mut self.writer, &output.value)?;
        }
        self.writer.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    fn failed(&self, error: io::Error) -> anyhow::Error {
        anyhow::Error::new(error).context(format!("writing outputs to {} failed", self.name))
    }
}

/// A one-line progress indicator on stderr, only when it is a terminal, and only once a run has
/// lasted long enough for one to help.
struct Progress {
    enabled: bool,
    started: Instant,
    shown: bool,
}

impl Progress {
    const TICK: Duration = Duration::from_millis(100);
    const DELAY: Duration = Duration::from_millis(500);
    const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

    fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            started: Instant::now(),
            shown: false,
        }
    }

    fn tick(&mut self, metrics: &[NodeMetrics], written: u64) {
        if !self.enabled {
            return;
        }
        let elapsed = self.started.elapsed();
        if elapsed < Self::DELAY {
            return;
        }
        let spinner = Self::SPINNER
            [(elapsed.as_millis() / Self::TICK.as_millis()) as usize % Self::SPINNER.len()];
        let processed: u64 = metrics.iter().map(|m| m.items_in).sum();
        eprint!(
            "\r\x1b[2K{spinner} running: {written} outputs, {processed} items processed by {} nodes, {:.1}s",
            metrics.len(),
            elapsed.as_secs_f64()
        );
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
    }
}

/// The metrics as a table, or as JSON, on stderr (stdout carries the outputs).
fn print_metrics(metrics: &[NodeMetrics], timing: RunTiming, json: bool) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Row<'a> {
        node: &'a str,
        items_in: u64,
        items_out: u64,
        process_seconds: f64,
        blocked_seconds: f64,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        timings: Vec<Timing<'a>>,
    }
    /// A node's own timing samples under one name (`Emitter::record_timing`), summarised.
    #[derive(Serialize)]
    struct Timing<'a> {
        name: &'a str,
        count: usize,
        median_seconds: f64,
        p90_seconds: f64,
        max_seconds: f64,
    }
    let millis = |seconds: f64| seconds * 1e3;
    let rows: Vec<Row> = metrics
        .iter()
        .map(|m| Row {
            node: &m.node,
            items_in: m.items_in,
            items_out: m.items_out,
            process_seconds: m.process_time.as_secs_f64(),
            blocked_seconds: m.blocked_time.as_secs_f64(),
            timings: m
                .timings
                .iter()
                .map(|t| Timing {
                    name: &t.name,
                    count: t.count,
                    median_seconds: t.median.as_secs_f64(),
                    p90_seconds: t.p90.as_secs_f64(),
                    max_seconds: t.max.as_secs_f64(),
                })
                .collect(),
        })
        .collect();
    let mut stderr = io::stderr().lock();
    let seconds = |phase: Option<Duration>| phase.map(|phase| phase.as_secs_f64());
    let (startup, streaming) = (seconds(timing.startup), seconds(timing.streaming));
    if json {
        let metrics = serde_json::json!({
            "startup_seconds": startup,
            "streaming_seconds": streaming,
            "nodes": rows,
        });
        serde_json::to_writer(&mut stderr, &metrics)?;
        writeln!(stderr)?;
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|r| r.node.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        stderr,
        "{:<width$}  {:>10}  {:>10}  {:>12}  {:>12}",
        "NODE", "ITEMS IN", "ITEMS OUT", "PROCESS ms", "BLOCKED ms"
    )
    .context("writing metrics")?;
    for row in &rows {
        writeln!(
            stderr,
            "{:<width$}  {:>10}  {:>10}  {:>12.3}  {:>12.3}",
            row.node,
            row.items_in,
            row.items_out,
            millis(row.process_seconds),
            millis(row.blocked_seconds)
        )?;
    }
    for row in &rows {
        for t in &row.timings {
            writeln!(
                stderr,
                "{} {}: {} samples, median {:.3} ms, p90 {:.3} ms, max {:.3} ms",
                row.node,
                t.name,
                t.count,
                millis(t.median_seconds),
                millis(t.p90_seconds),
                millis(t.max_seconds)
            )?;
        }
    }
    let phase = |seconds: Option<f64>| {
        seconds.map_or_else(
            || "not reached".to_owned(),
            |s| format!("{:.3} ms", millis(s)),
        )
    };
    writeln!(
        stderr,
        "start-up {}, streaming {}",
        phase(startup),
        phase(streaming)
    )?;
    Ok(())
}
