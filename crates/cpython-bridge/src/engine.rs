//! [`CPythonEngine`]: creates nodes in CPython through the SDK contract
//! (`remotemedia_core::python_contract`): `load_node_class` and `NodeDriver`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;
use pyo3::types::PyList;
use remotemedia_core::engine::{
    ClassFinding, ClassProbe, Engine, NodeError, NodeInstance, NodeSpec,
};
use remotemedia_core::manifest::NodeManifest;
use remotemedia_core::python_contract;
use remotemedia_cpython::CPythonSettings;

use crate::error::node_error;
use crate::helper;
use crate::node::{CPythonNode, NodeObjects, StageThreadState};

/// The SDK contract's functions every node is created and driven through, looked up once.
pub(crate) struct Sdk {
    load_node_class: Py<PyAny>,
    /// Asked, before any node is created, whether a node's class loads here (see `ClassProbe`).
    class_engine: Py<PyAny>,
    node_driver: Py<PyAny>,
    set_node_label: Py<PyAny>,
    flush_output: Py<PyAny>,
    /// `(GeneratorType, CoroutineType, AsyncGeneratorType)`: results the driver must unfold.
    lazy_types: Py<PyAny>,
}

/// Runs nodes in the CPython interpreter of this process.
///
/// Each node lives on its executor stage thread and takes the GIL for each call, releasing it
/// while its outputs wait for room downstream; RustPython nodes of the same run are not held up
/// by the GIL at all.
pub struct CPythonEngine {
    /// Always `Some` until dropped (with the GIL held, see `Drop`).
    sdk: Option<Sdk>,
    /// Held while a node is created and while it initializes (where nodes import numpy,
    /// onnxruntime …), so two stage threads never import the same packages at once: CPython's
    /// per-module import locks can report a deadlock then. Taken before the GIL.
    setup: Arc<Mutex<()>>,
    /// Node objects the caller already built, by node id: used instead of building new ones.
    live_nodes: Mutex<HashMap<String, Py<PyAny>>>,
}

impl std::fmt::Debug for CPythonEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CPythonEngine").finish_non_exhaustive()
    }
}

impl CPythonEngine {
    /// An engine in this (initialized) interpreter: puts `settings.python_path` first on
    /// `sys.path`, routes `print` to labelled stderr lines when asked, and imports the SDK.
    pub fn new(py: Python<'_>, settings: &CPythonSettings) -> PyResult<Self> {
        let helper = helper::helper(py)?;
        let python_path: Vec<String> = settings
            .python_path
            .iter()
            .map(|dir| {
                std::path::absolute(dir)
                    .unwrap_or_else(|_| dir.clone())
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        helper.call_method1("prepend_path", (python_path,))?;
        let contract = py.import(python_contract::MODULE)?;
        if settings.capture_stdio {
            let stderr = py.import("sys")?.getattr("__stderr__")?;
            if !stderr.is_none() {
                contract.call_method1(
                    python_contract::CAPTURE_OUTPUT,
                    (helper.call_method1("line_writer", (stderr,))?,),
                )?;
            }
        }
        let function = |name: &str| contract.getattr(name).map(Bound::unbind);
        Ok(CPythonEngine {
            sdk: Some(Sdk {
                load_node_class: function(python_contract::LOAD_NODE_CLASS)?,
                class_engine: function(python_contract::CLASS_ENGINE)?,
                node_driver: function(python_contract::NODE_DRIVER)?,
                set_node_label: function(python_contract::SET_NODE_LABEL)?,
                flush_output: function(python_contract::FLUSH_OUTPUT)?,
                lazy_types: contract
                    .call_method0(python_contract::LAZY_RESULT_TYPES)?
                    .unbind(),
            }),
            setup: Arc::new(Mutex::new(())),
            live_nodes: Mutex::new(HashMap::new()),
        })
    }

    /// Runs these node objects (by node id) instead of building new ones from the manifest: the
    /// objects a Python caller built, with their state and unserializable params.
    pub fn with_live_nodes(self, nodes: HashMap<String, Py<PyAny>>) -> Self {
        *self
            .live_nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = nodes;
        self
    }

    fn sdk(&self) -> &Sdk {
        self.sdk
            .as_ref()
            .expect("the SDK entry points live until the engine is dropped")
    }

    fn build(&self, py: Python<'_>, spec: &NodeSpec) -> PyResult<NodeObjects> {
        let sdk = self.sdk();
        sdk.set_node_label.call1(py, (spec.id.as_str(),))?;
        let live = self
            .live_nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&spec.id);
        let node = match live {
            Some(node) => node.into_bound(py),
            None => {
                let class = sdk
                    .load_node_class
                    .call1(py, (spec.node_type.as_str(), spec.module.as_deref()))?;
                let kwargs = crate::convert::to_kwargs(py, spec)?;
                class.bind(py).call((), Some(&kwargs))?
            }
        };
        let driver = sdk.node_driver.bind(py).call1((&node,))?;
        Ok(NodeObjects {
            process: node.getattr("process")?.unbind(),
            outputs: driver.getattr("outputs")?.unbind(),
            initialize: driver.getattr("initialize")?.unbind(),
            flush: driver.getattr("flush")?.unbind(),
            cleanup: driver.getattr("cleanup")?.unbind(),
            lazy_types: sdk.lazy_types.clone_ref(py),
            flush_output: sdk.flush_output.clone_ref(py),
            timings: driver.getattr("timings")?.cast_into::<PyList>()?.unbind(),
        })
    }
}

impl Engine for CPythonEngine {
    fn name(&self) -> &str {
        "cpython"
    }

    fn class_probe(&self) -> Option<&dyn ClassProbe> {
        Some(self)
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        let _setting_up = self.setup.lock().unwrap_or_else(PoisonError::into_inner);
        let thread = StageThreadState::acquire();
        let objects =
            Python::attach(|py| self.build(py, spec).map_err(|err| node_error(py, &err)))?;
        Ok(Box::new(CPythonNode::new(
            &spec.id,
            objects,
            thread,
            Arc::clone(&self.setup),
        )))
    }
}

/// Whether a node's class loads in this interpreter, asked before any node is created (so a node
/// placed here whose module is missing stops the run before it starts). Answered by the SDK's
/// `class_engine`, as in RustPython; a node the caller built itself is there already.
impl ClassProbe for CPythonEngine {
    fn probe(&self, node: &NodeManifest) -> ClassFinding {
        if self
            .live_nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&node.id)
        {
            return ClassFinding::Pure;
        }
        // Loading the class imports its module: one import at a time, as when nodes are set up.
        let _setting_up = self.setup.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = Python::attach(|py| {
            let ask = || -> PyResult<(String, String)> {
                self.sdk()
                    .class_engine
                    .call1(py, (node.node_type.as_str(), node.module.as_deref()))?
                    .extract(py)
            };
            ask().map_err(|err| node_error(py, &err))
        });
        match answer {
            Ok((verdict, detail)) => ClassFinding::from_verdict(&verdict, detail),
            Err(err) => {
                tracing::warn!(node = %node.id, "cannot inspect the node's class: {err}");
                ClassFinding::Unknown
            }
        }
    }
}

impl Drop for CPythonEngine {
    fn drop(&mut self) {
        let sdk = self.sdk.take();
        let live = std::mem::take(
            &mut *self
                .live_nodes
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        // Python objects are released with the GIL held; at interpreter shutdown they are leaked.
        if Python::try_attach(|_| {
            drop(sdk);
            drop(live);
        })
        .is_none()
        {
            tracing::debug!("CPython is shutting down; the engine's objects are left to it");
        }
    }
}
