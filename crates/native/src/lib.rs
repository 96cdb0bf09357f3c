//! `remotemedia._native`: the Python package's extension module (internal; its Python face is
//! `Pipeline.run()` in `remotemedia.core.native_run`).
//!
//! It embeds the whole runtime in the calling Python process. Nodes placed on CPython run in this
//! very interpreter — on the node objects the caller built, so their state and unserializable
//! params are kept — and pure nodes where placement puts them (the embedded RustPython
//! interpreter, in parallel, free of the GIL). The GIL is released while the run goes on.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator};
use remotemedia_cpython::CPythonEngine;
use remotemedia_cpython::convert::{self, ArrayStyle};
use remotemedia_runtime::engine::Engine;
use remotemedia_runtime::engines::cpython::{self as cpython_engine, CPythonSettings};
use remotemedia_runtime::executor::{Inputs, RunError};
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
                .map_err(|err| remotemedia_cpython::node_error(py, &err).to_string())
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
    let argv: Vec<String> = py.import("sys")?.getattr("argv")?.extract()?;
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
#[pyfunction]
#[pyo3(signature = (manifest, inputs, live_nodes, python_path = Vec::new(), channel_capacity = None))]
fn run(
    py: Python<'_>,
    manifest: &str,
    inputs: &Bound<'_, PyAny>,
    live_nodes: &Bound<'_, PyDict>,
    python_path: Vec<std::path::PathBuf>,
    channel_capacity: Option<usize>,
) -> PyResult<Vec<Py<PyAny>>> {
    let pipeline = load(
        py,
        manifest,
        Some(live_nodes),
        python_path,
        channel_capacity,
    )?;
    let inputs = PyIterator::from_object(inputs)?.unbind();
    let values = Inputs::fallible(std::iter::from_fn(move || {
        Python::attach(|py| match inputs.bind(py).clone().next()? {
            Ok(item) => Some(convert::from_python(&item).map_err(|err| input_error(py, &err))),
            Err(err) => Some(Err(input_error(py, &err))),
        })
    }));
    let mut started = pipeline
        .run(values)
        .map_err(|err| sdk_error(py, "PipelineError", &format!("{err:#}")))?;
    let mut outputs = Vec::new();
    loop {
        let next = {
            let mut run = Unchecked(&mut started);
            py.detach(move || run.next())
        };
        match next {
            Some(output) => outputs
                .push(convert::to_python(py, output.value, ArrayStyle::ArrayModule)?.unbind()),
            None => break,
        }
    }
    let finished = Unchecked(started);
    match py.detach(move || finished.finish()) {
        Ok(_) => Ok(outputs),
        Err(err) => Err(run_error(py, err)),
    }
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
    let pipeline = load(py, manifest, None, python_path, None)?;
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

fn load(
    py: Python<'_>,
    manifest: &str,
    live_nodes: Option<&Bound<'_, PyDict>>,
    python_path: Vec<std::path::PathBuf>,
    channel_capacity: Option<usize>,
) -> PyResult<Pipeline> {
    let manifest = Manifest::from_json_str(manifest)
        .map_err(|err| sdk_error(py, "ConfigurationError", &err.to_string()))?;
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
    Pipeline::new(manifest, config)
        .map_err(|err| sdk_error(py, "ConfigurationError", &format!("{err:#}")))
}

/// The remote engine, as `remotemedia run` has it: nodes placed on a `host` run there, with the
/// token from `REMOTEMEDIA_TOKEN`.
fn remote_hosts(py: Python<'_>) -> PyResult<Arc<dyn remotemedia_runtime::hosts::HostConnector>> {
    let config_error = |message: String| sdk_error(py, "ConfigurationError", &message);
    let token = match std::env::var(remotemedia_runtime::env_vars::TOKEN) {
        Ok(text) => Some(
            remotemedia_remote::Token::new(
                &text,
                &format!("in {}", remotemedia_runtime::env_vars::TOKEN),
            )
            .map_err(|err| config_error(err.to_string()))?,
        ),
        Err(_) => None,
    };
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
    let error = remotemedia_cpython::node_error(py, err);
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

impl Iterator for Unchecked<&mut remotemedia_runtime::executor::Run> {
    type Item = remotemedia_runtime::executor::Output;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl Unchecked<remotemedia_runtime::executor::Run> {
    fn finish(self) -> Result<remotemedia_runtime::executor::RunReport, RunError> {
        self.0.finish()
    }
}
