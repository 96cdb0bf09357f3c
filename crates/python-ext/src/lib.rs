//! `remotemedia._native`: the Python package's extension module (internal; its Python face is
//! `Pipeline.run()` in `remotemedia.runtime`).
//!
//! It embeds the whole runtime in the calling Python process. Nodes placed on CPython run in this
//! very interpreter — on the node objects the caller built, so their state and unserializable
//! params are kept — and pure nodes where placement puts them (the embedded RustPython
//! interpreter, in parallel, free of the GIL). The GIL is released while the run goes on.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator, PyList, PyTuple};
use remotemedia_core::engine::Engine;
use remotemedia_cpython::{self as cpython_engine, CPythonSettings};
use remotemedia_cpython_bridge::CPythonEngine;
use remotemedia_cpython_bridge::convert::{self, ArrayStyle};
use remotemedia_runtime::executor::{Inputs, RunError};
use remotemedia_runtime::isolation;
use remotemedia_runtime::manifest::Manifest;
use remotemedia_runtime::pipeline::{Config, Pipeline, ProvidedEngine};
use remotemedia_runtime::placement::PlanOptions;

/// The SDK's exceptions that are raised as they are, without their type name in the message
/// (mirrors the local run's `_node_error`).
const SDK_ERRORS: [&str; 5] = [
    "RemoteMediaError",
    "NodeError",
    "PipelineError",
    "ConfigurationError",
    "SerializationError",
];

#[pymodule]
#[pyo3(name = "_native")]
fn native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // Runs started by the runtime itself in this process (e.g. a Rust caller of `Pipeline`) put
    // their CPython nodes in this interpreter too, instead of loading another libpython.
    cpython_engine::register_in_process(Box::new(|settings: &CPythonSettings| {
        Python::attach(|py| {
            CPythonEngine::new(py, settings)
                .map(|engine| Arc::new(engine) as Arc<dyn Engine>)
                .map_err(|err| remotemedia_cpython_bridge::node_error(py, &err).to_string())
        })
    }));
    module.add_function(wrap_pyfunction!(run, module)?)?;
    module.add_function(wrap_pyfunction!(plan, module)?)?;
    module.add_function(wrap_pyfunction!(main, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// The `remotemedia` command line (the package's console command): the executable's very program,
/// with `sys.argv`, CPython nodes running in this interpreter. Returns the exit code.
#[pyfunction]
fn main(py: Python<'_>) -> PyResult<u8> {
    let sys = py.import("sys")?;
    let argv: Vec<String> = sys.getattr("argv")?.extract()?;
    // Isolated nodes' workers run this same program: in this interpreter's executable, through
    // the SDK's way to this module (which also finds a module built by cargo in a checkout).
    let python: std::path::PathBuf = sys.getattr("executable")?.extract()?;
    isolation::set_worker_command(isolation::WorkerCommand {
        program: python,
        args: vec![
            "-c".into(),
            "import sys; from remotemedia.runtime import native_module; sys.exit(native_module().main())".into(),
            isolation::WORKER_SUBCOMMAND.into(),
        ],
    });
    let args: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
    let code = py.detach(move || remotemedia_cli::run(args));
    // `ExitCode` keeps its number private, but compares.
    Ok((0..=u8::MAX)
        .find(|&number| code == std::process::ExitCode::from(number))
        .unwrap_or(1))
}

/// Runs the manifest (JSON text) on `inputs` and returns the sinks' outputs in production order.
///
/// `live_nodes` maps node ids to the node objects to use for nodes placed on CPython;
/// `python_path` lists directories where RustPython may import user node modules from.
/// `audio` — `(path, frame_ms)`, the SDK's `AudioSource` — replaces `inputs` with the frames of
/// that audio file, decoded natively as the run goes (`remotemedia run --audio`).
#[pyfunction]
#[pyo3(signature = (manifest, inputs, live_nodes, python_path = Vec::new(), channel_capacity = None, cluster = None, audio = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the Python function's keyword arguments, one Rust argument each"
)]
fn run(
    py: Python<'_>,
    manifest: &str,
    inputs: &Bound<'_, PyAny>,
    live_nodes: &Bound<'_, PyDict>,
    python_path: Vec<std::path::PathBuf>,
    channel_capacity: Option<usize>,
    cluster: Option<String>,
    audio: Option<(std::path::PathBuf, u32)>,
) -> PyResult<Vec<Py<PyAny>>> {
    let mut pipeline_config = load_config(py, Some(live_nodes), python_path, channel_capacity)?;
    pipeline_config.cluster = ray_cluster(py, cluster)?;
    let pipeline = load(py, manifest, pipeline_config)?;
    let values = match audio {
        Some((path, frame_ms)) => audio_frames(py, path, frame_ms)?,
        None => input_values(py, inputs)?,
    };
    let started = pipeline
        .run(values)
        .map_err(|err| sdk_error(py, "PipelineError", &format!("{err:#}")))?;
    // The whole run goes on without the GIL: the outputs are gathered as runtime values and
    // converted once it is over (the call returns a list anyway), so the GIL is not handed back
    // and forth between this thread and the nodes' for every item.
    let run = Unchecked(started);
    let (outputs, finished) = py.detach(move || run.drain());
    finished.map_err(|err| run_error(py, err))?;
    outputs
        .into_iter()
        .map(|output| Ok(convert::to_python(py, output.value, ArrayStyle::ArrayModule)?.unbind()))
        .collect()
}

/// The frames of an audio file as the run's inputs; a file that cannot be opened is an error now.
fn audio_frames(py: Python<'_>, path: std::path::PathBuf, frame_ms: u32) -> PyResult<Inputs> {
    use remotemedia_runtime::engines::media::decode::{AudioDecoder, AudioInput};
    use remotemedia_runtime::engines::media::engine::audio_frame_value;

    let decoder = AudioDecoder::open(AudioInput::File(path), frame_ms).map_err(|err| {
        sdk_error(
            py,
            "PipelineError",
            &format!("cannot read the audio source: {err}"),
        )
    })?;
    Ok(Inputs::fallible(
        decoder.map(|frame| frame.map(audio_frame_value)),
    ))
}

/// Items taken from a lazy input iterable each time the feeder thread takes the GIL: a thread
/// that is not Python's builds and tears down an interpreter thread state every time it takes it,
/// which would cost more than the item itself.
const INPUT_CHUNK: usize = 64;

/// The run's inputs. A list or tuple is converted here, at once, so the feeder thread never needs
/// the GIL; any other iterable (it may be endless) is advanced lazily, [`INPUT_CHUNK`] items at a
/// time. `run` returns the outputs only at the end, so reading ahead delays nothing it shows.
fn input_values(py: Python<'_>, inputs: &Bound<'_, PyAny>) -> PyResult<Inputs> {
    if inputs.is_instance_of::<PyList>() || inputs.is_instance_of::<PyTuple>() {
        return Ok(Inputs::fallible(take_inputs(
            py,
            &inputs.try_iter()?,
            usize::MAX,
        )));
    }
    let inputs = PyIterator::from_object(inputs)?.unbind();
    let mut ahead = std::collections::VecDeque::new();
    Ok(Inputs::fallible(std::iter::from_fn(move || {
        if ahead.is_empty() {
            ahead = Python::attach(|py| take_inputs(py, inputs.bind(py), INPUT_CHUNK)).into();
        }
        ahead.pop_front()
    })))
}

/// Up to `limit` items of `iterator` as runtime values; reading stops after the first failure,
/// as it would one item at a time.
fn take_inputs(
    py: Python<'_>,
    iterator: &Bound<'_, PyIterator>,
    limit: usize,
) -> Vec<Result<remotemedia_runtime::value::Value, remotemedia_runtime::executor::InputError>> {
    let mut taken = Vec::new();
    for item in iterator.clone().take(limit) {
        let converted = item.and_then(|item| convert::from_python(&item));
        let failed = converted.is_err();
        taken.push(converted.map_err(|err| input_error(py, &err)));
        if failed {
            break;
        }
    }
    taken
}

/// The plan of the manifest: `[{"id", "node_type", "engine", "reason"}]`, as `remotemedia plan`
/// shows it, with this process's interpreter counted as CPython.
#[pyfunction]
#[pyo3(signature = (manifest, python_path = Vec::new()))]
fn plan(
    py: Python<'_>,
    manifest: &str,
    python_path: Vec<std::path::PathBuf>,
) -> PyResult<Vec<Py<PyAny>>> {
    let pipeline = load(py, manifest, load_config(py, None, python_path, None)?)?;
    pipeline
        .plan()
        .nodes
        .iter()
        .map(|node| {
            let entry = PyDict::new(py);
            entry.set_item("id", &node.id)?;
            entry.set_item("node_type", &node.node_type)?;
            entry.set_item("engine", node.engine.to_string())?;
            entry.set_item("reason", &node.reason)?;
            Ok(entry.into_any().unbind())
        })
        .collect()
}

fn load(py: Python<'_>, manifest: &str, config: Config) -> PyResult<Pipeline> {
    let manifest = Manifest::from_json_str(manifest)
        .map_err(|err| sdk_error(py, "ConfigurationError", &err.to_string()))?;
    Pipeline::new(manifest, config)
        .map_err(|err| sdk_error(py, "ConfigurationError", &format!("{err:#}")))
}

/// The Ray cluster `cluster` (else `RAY_ADDRESS`), driven by this interpreter (which has `ray`).
fn ray_cluster(
    py: Python<'_>,
    cluster: Option<String>,
) -> PyResult<Option<Arc<dyn remotemedia_runtime::cluster::ClusterConnector>>> {
    let Some(address) = cluster
        .or_else(|| std::env::var(remotemedia_cluster::RAY_ADDRESS).ok())
        .filter(|address| !address.is_empty())
    else {
        return Ok(None);
    };
    let python: std::path::PathBuf = py.import("sys")?.getattr("executable")?.extract()?;
    let worker = match remotemedia_cluster::Worker::from_env() {
        Some(worker) => worker,
        None => cluster_worker(py)?,
    };
    remotemedia_cli::ray_cluster(&address, python, worker)
        .map(Some)
        .map_err(|err| sdk_error(py, "ConfigurationError", &format!("{err:#}")))
}

/// What the cluster's actors start as node workers when `REMOTEMEDIA_CLUSTER_WORKER` does not
/// say: the `remotemedia` executable beside this module when there is one — a cargo build puts
/// both in its `target/release` — else the package the cluster's machines have installed (the
/// wheel ships this module and no separate executable; its `remotemedia` command runs this
/// module's `main`).
fn cluster_worker(py: Python<'_>) -> PyResult<remotemedia_cluster::Worker> {
    let module: std::path::PathBuf = py
        .import("remotemedia._native")?
        .getattr("__file__")?
        .extract()?;
    // A module file linked into a package elsewhere still belongs to its build.
    let beside = std::fs::canonicalize(&module)
        .unwrap_or(module)
        .with_file_name("remotemedia");
    Ok(if beside.is_file() {
        remotemedia_cluster::Worker::Executable(beside)
    } else {
        remotemedia_cluster::Worker::Package
    })
}

fn load_config(
    py: Python<'_>,
    live_nodes: Option<&Bound<'_, PyDict>>,
    python_path: Vec<std::path::PathBuf>,
    channel_capacity: Option<usize>,
) -> PyResult<Config> {
    let mut live = HashMap::new();
    if let Some(nodes) = live_nodes {
        for (id, node) in nodes.iter() {
            live.insert(id.extract::<String>()?, node.unbind());
        }
    }
    let settings = CPythonSettings {
        python_path: python_path.clone(),
        capture_stdio: false,
    };
    let engine = CPythonEngine::new(py, &settings)?.with_live_nodes(live);
    let mut options = PlanOptions::from_env()
        .map_err(|err| sdk_error(py, "ConfigurationError", &err.to_string()))?;
    options.cpython_holds_unfound_classes = true;
    let mut config = Config {
        plan: Some(options),
        python_path,
        cpython_engine: Some(ProvidedEngine(Arc::new(engine))),
        hosts: Some(remote_hosts(py)?),
        ..Config::default()
    };
    if let Some(capacity) = channel_capacity {
        config.run.channel_capacity = std::num::NonZeroUsize::new(capacity).ok_or_else(|| {
            sdk_error(
                py,
                "ConfigurationError",
                "channel_capacity must be at least 1",
            )
        })?;
    }
    Ok(config)
}

/// The remote engine, as `remotemedia run` has it: nodes placed on a `host` run there, with the
/// token from `REMOTEMEDIA_TOKEN`.
fn remote_hosts(py: Python<'_>) -> PyResult<Arc<dyn remotemedia_runtime::hosts::HostConnector>> {
    let config_error = |message: String| sdk_error(py, "ConfigurationError", &message);
    let token =
        remotemedia_remote::Token::from_env().map_err(|err| config_error(err.to_string()))?;
    let options = remotemedia_remote::ClientOptions {
        token,
        ..Default::default()
    };
    let hosts = remotemedia_remote::RemoteHosts::new(options)
        .map_err(|err| config_error(err.to_string()))?;
    Ok(Arc::new(hosts))
}

/// An input that cannot become a runtime value, or a failing input iterator.
fn input_error(py: Python<'_>, err: &PyErr) -> remotemedia_runtime::executor::InputError {
    let error = remotemedia_cpython_bridge::node_error(py, err);
    format!("reading the pipeline's inputs failed: {error}").into()
}

/// The SDK's `NodeError` for a failed node — message as the local run words it, plus the node's
/// exception type and traceback text — or `PipelineError` for any other failure.
fn run_error(py: Python<'_>, err: RunError) -> PyErr {
    let RunError::Node { node, phase, error } = &err else {
        return sdk_error(py, "PipelineError", &format!("{err:#}"));
    };
    let kind = error.kind.clone().unwrap_or_else(|| "Exception".to_owned());
    let detail = if SDK_ERRORS.contains(&kind.as_str()) || error.kind.is_none() {
        error.message.clone()
    } else {
        format!("{kind}: {}", error.message)
    };
    let stage = phase.to_string();
    let message = format!("node '{node}' failed in {stage}: {detail}");
    let built = (|| -> PyResult<PyErr> {
        let exceptions = py.import("remotemedia.core.exceptions")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("node_id", node)?;
        kwargs.set_item("stage", stage)?;
        kwargs.set_item("exception_type", &kind)?;
        kwargs.set_item("traceback", error.traceback.as_deref())?;
        let value = exceptions
            .getattr("NodeError")?
            .call((message.clone(),), Some(&kwargs))?;
        Ok(PyErr::from_value(value))
    })();
    built.unwrap_or_else(|failure| failure)
}

/// `remotemedia.core.exceptions.<class_name>(message)`.
fn sdk_error(py: Python<'_>, class_name: &str, message: &str) -> PyErr {
    let built = py
        .import("remotemedia.core.exceptions")
        .and_then(|exceptions| exceptions.getattr(class_name))
        .and_then(|class| class.call1((message,)));
    match built {
        Ok(value) => PyErr::from_value(value),
        Err(_) => PyRuntimeError::new_err(message.to_owned()),
    }
}

/// Runtime values moved across a GIL release on the thread that owns them. PyO3 asks for `Send`
/// there only to keep Python references out of GIL-free code; these hold none.
struct Unchecked<T>(T);

// SAFETY: `detach` runs its closure on the calling thread; nothing crosses to another thread.
unsafe impl<T> Send for Unchecked<T> {}

impl Unchecked<remotemedia_runtime::executor::Run> {
    /// Every output of the run, in production order, and how it ended.
    fn drain(
        self,
    ) -> (
        Vec<remotemedia_runtime::executor::Output>,
        Result<remotemedia_runtime::executor::RunReport, RunError>,
    ) {
        let mut run = self.0;
        let outputs = run.by_ref().collect();
        (outputs, run.finish())
    }
}
