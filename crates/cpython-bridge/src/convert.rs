//! Direct conversion between runtime [`Value`]s and CPython objects: no source text, no JSON.
//!
//! Typed arrays go into Python **without copying** when numpy is installed: a small object owning
//! the runtime's shared buffer (a `Buffer`) exposes numpy's `__array_interface__`, and
//! `numpy.asarray` wraps it as a read-only array whose `base` keeps the buffer alive. (The buffer
//! protocol would need the limited API of CPython 3.11; the array interface works on every
//! version this abi3 build supports.) Without numpy they become `array.array`, copied. Arrays
//! coming back — numpy arrays or `array.array` — are copied once into a new shared buffer.

use std::sync::Arc;

use indexmap::IndexMap;
use num_bigint::BigInt;
use pyo3::PyTypeInfo as _;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
    PyType,
};
use remotemedia_core::buffer::Element;
use remotemedia_core::engine::NodeSpec;
use remotemedia_core::value::{Array, Buffer, MAX_DEPTH, Value};

/// What every node may emit; quoted in errors.
const SUPPORTED: &str = "None, bool, int, float, str, bytes, list, tuple, dict with str keys, \
    array.array('h', 'i', 'q', 'f' or 'd'), numpy arrays and numpy scalars";

/// How typed arrays are handed to Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayStyle {
    /// Read-only numpy arrays sharing the runtime's buffer when numpy imports, else `array.array`.
    /// What CPython nodes receive.
    NumpyIfAvailable,
    /// Always `array.array`, the SDK's own array type: what `Pipeline.run` returns, so the result
    /// has the same types whichever engine ran it.
    ArrayModule,
}

/// Owns a runtime buffer on behalf of the numpy arrays that view it.
#[pyclass(frozen, module = "remotemedia_cpython", name = "SharedArray")]
struct SharedArray {
    array: Array,
}

#[pymethods]
impl SharedArray {
    /// numpy's array interface (version 3): a read-only, C-contiguous, one-dimensional view.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (address, typestr) = match &self.array {
            Array::I16(a) => (a.as_ptr() as usize, "i2"),
            Array::I32(a) => (a.as_ptr() as usize, "i4"),
            Array::I64(a) => (a.as_ptr() as usize, "i8"),
            Array::F32(a) => (a.as_ptr() as usize, "f4"),
            Array::F64(a) => (a.as_ptr() as usize, "f8"),
        };
        let byte_order = if cfg!(target_endian = "little") {
            "<"
        } else {
            ">"
        };
        let interface = PyDict::new(py);
        interface.set_item("version", 3)?;
        interface.set_item("shape", (self.array.len(),))?;
        interface.set_item("typestr", format!("{byte_order}{typestr}"))?;
        interface.set_item("data", (address, true))?;
        Ok(interface)
    }

    fn __len__(&self) -> usize {
        self.array.len()
    }
}

/// `numpy.asarray`, or `None` when numpy does not import. Looked up once per process, on the
/// first array.
static NUMPY_ASARRAY: PyOnceLock<Option<Py<PyAny>>> = PyOnceLock::new();

fn numpy_asarray(py: Python<'_>) -> Option<&Bound<'_, PyAny>> {
    NUMPY_ASARRAY
        .get_or_init(py, || match py.import("numpy") {
            Ok(numpy) => numpy.getattr("asarray").ok().map(Bound::unbind),
            Err(err) => {
                tracing::debug!("numpy is not available, arrays cross as array.array: {err}");
                None
            }
        })
        .as_ref()
        .map(|asarray| asarray.bind(py))
}

static ARRAY_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn array_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    ARRAY_TYPE.import(py, "array", "array")
}

/// Makes the Python object for `value`.
pub fn to_python<'py>(
    py: Python<'py>,
    value: Value,
    arrays: ArrayStyle,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::BigInt(big) => PyInt::type_object(py).call1((big.to_string(),))?,
        Value::Float(f) => PyFloat::new(py, f).into_any(),
        Value::Str(s) => PyString::new(py, &s).into_any(),
        Value::Bytes(bytes) => PyBytes::new(py, &bytes).into_any(),
        Value::List(items) => {
            let items = items
                .into_iter()
                .map(|item| to_python(py, item, arrays))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Map(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_python(py, item, arrays)?)?;
            }
            dict.into_any()
        }
        Value::Array(array) => array_to_python(py, array, arrays)?,
    })
}

fn array_to_python(py: Python<'_>, array: Array, style: ArrayStyle) -> PyResult<Bound<'_, PyAny>> {
    if style == ArrayStyle::NumpyIfAvailable
        && let Some(asarray) = numpy_asarray(py)
    {
        let shared = Bound::new(py, SharedArray { array })?;
        return asarray.call1((shared,));
    }
    let typecode = array.typecode().to_string();
    let bytes = match &array {
        Array::I16(a) => PyBytes::new(py, as_bytes(a)),
        Array::I32(a) => PyBytes::new(py, as_bytes(a)),
        Array::I64(a) => PyBytes::new(py, as_bytes(a)),
        Array::F32(a) => PyBytes::new(py, as_bytes(a)),
        Array::F64(a) => PyBytes::new(py, as_bytes(a)),
    };
    array_type(py)?.call1((typecode, bytes))
}

/// The bytes of a slice of plain numbers.
fn as_bytes<T: Copy>(items: &[T]) -> &[u8] {
    // SAFETY: `T` is one of i16/i32/i64/f32/f64: no padding, every byte initialized.
    unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items)) }
}

/// The node's constructor keyword arguments ([`NodeSpec::constructor_args`]) as a Python dict.
pub fn to_kwargs<'py>(py: Python<'py>, spec: &NodeSpec) -> PyResult<Bound<'py, PyDict>> {
    let kwargs = PyDict::new(py);
    for (name, value) in spec.constructor_args() {
        kwargs.set_item(name, to_python(py, value, ArrayStyle::ArrayModule)?)?;
    }
    Ok(kwargs)
}

/// Reads a Python object as a runtime value; an unsupported object is a `TypeError` saying what
/// is supported.
pub fn from_python(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_python_at(obj, 0)
}

fn from_python_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "the item nests lists/dicts more than {MAX_DEPTH} levels deep (does it contain itself?)"
        )));
    }
    let py = obj.py();
    // Most frequent first; `bool` before `int`, which it subclasses.
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(int) = obj.cast::<PyInt>() {
        return Ok(match int.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => {
                let text = int.str()?.to_string_lossy().into_owned();
                let big: BigInt = text
                    .parse()
                    .map_err(|_| PyValueError::new_err(format!("not an integer: {text}")))?;
                Value::BigInt(Arc::new(big))
            }
        });
    }
    if let Ok(float) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(float.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Str(Arc::from(s.to_str().map_err(|_| {
            PyValueError::new_err("a str holding a lone surrogate cannot flow between nodes")
        })?)));
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(Arc::from(bytes.as_bytes())));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|item| from_python_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| from_python_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = IndexMap::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            let Ok(key_str) = key.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!(
                    "dict key {} is a {}; only str keys can flow between nodes",
                    key.repr()?,
                    key.get_type().name()?
                )));
            };
            let key = key_str.to_str()?.to_owned();
            map.insert(key, from_python_at(&item, depth + 1)?);
        }
        return Ok(Value::Map(map));
    }
    if obj.is_instance(array_type(py)?)? {
        return array_module_value(obj);
    }
    if let Some(numpy) = loaded_numpy(py)? {
        if obj.is_instance(&numpy.getattr("ndarray")?)? {
            return numpy_value(&numpy, obj, depth);
        }
        if obj.is_instance(&numpy.getattr("generic")?)? {
            // A numpy scalar (float32, int64, bool_ …): its Python equivalent.
            return from_python_at(&obj.call_method0("item")?, depth + 1);
        }
    }
    if obj.cast::<PyByteArray>().is_ok() || obj.cast::<PyMemoryView>().is_ok() {
        let bytes = PyBytes::type_object(py).call1((obj,))?;
        return from_python_at(&bytes, depth);
    }
    Err(PyTypeError::new_err(format!(
        "a {} cannot flow between nodes (supported: {SUPPORTED})",
        obj.get_type().name()?
    )))
}

/// numpy, if some code already imported it (an object cannot be a numpy array otherwise).
fn loaded_numpy(py: Python<'_>) -> PyResult<Option<Bound<'_, PyAny>>> {
    let modules = py.import("sys")?.getattr("modules")?;
    Ok(modules.get_item("numpy").ok())
}

/// Copies an `array.array`'s buffer once into a shared typed array.
fn array_module_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let typecode: String = obj.getattr("typecode")?.extract()?;
    let (address, length): (usize, usize) = obj.call_method0("buffer_info")?.extract()?;
    // SAFETY (each arm): `buffer_info` gives the address and element count of the array's own
    // buffer, which the GIL keeps unchanged while it is copied.
    let array = unsafe {
        match typecode.as_str() {
            "h" => Array::I16(copy_from(address, length)),
            "i" if std::mem::size_of::<std::ffi::c_int>() == 4 => {
                Array::I32(copy_from(address, length))
            }
            "q" => Array::I64(copy_from(address, length)),
            "f" => Array::F32(copy_from(address, length)),
            "d" => Array::F64(copy_from(address, length)),
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "an array.array of typecode '{typecode}' cannot flow between nodes (supported typecodes: h, i, q, f, d)"
                )));
            }
        }
    };
    Ok(Value::Array(array))
}

/// A numpy array: one copy for a one-dimensional array of a supported dtype, nested lists
/// (`tolist()`) for anything else — the JSON form either way.
fn numpy_value(numpy: &Bound<'_, PyAny>, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    let ndim: usize = obj.getattr("ndim")?.extract()?;
    let dtype: String = obj.getattr("dtype")?.getattr("str")?.extract()?;
    let native = if cfg!(target_endian = "little") {
        '<'
    } else {
        '>'
    };
    let kind = dtype.strip_prefix(native).unwrap_or("");
    if ndim != 1 || !matches!(kind, "i2" | "i4" | "i8" | "f4" | "f8") {
        return from_python_at(&obj.call_method0("tolist")?, depth + 1);
    }
    let contiguous = numpy.call_method1("ascontiguousarray", (obj,))?;
    let interface = contiguous.getattr("__array_interface__")?;
    let (address, _read_only): (usize, bool) = interface.get_item("data")?.extract()?;
    let length: usize = contiguous.len()?;
    // SAFETY (each arm): a C-contiguous array of `length` elements of this dtype starts at
    // `address`; `contiguous` is alive and the GIL is held while it is copied.
    let array = unsafe {
        match kind {
            "i2" => Array::I16(copy_from(address, length)),
            "i4" => Array::I32(copy_from(address, length)),
            "i8" => Array::I64(copy_from(address, length)),
            "f4" => Array::F32(copy_from(address, length)),
            _ => Array::F64(copy_from(address, length)),
        }
    };
    Ok(Value::Array(array))
}

/// Copies `length` numbers starting at `address` (which may be unaligned, or null when empty).
///
/// # Safety
/// `address` must point to `length` readable, initialized values of `T`.
unsafe fn copy_from<T: Element>(address: usize, length: usize) -> Buffer<T> {
    if length == 0 {
        return Vec::new().into();
    }
    // SAFETY: the caller guarantees `length` readable elements at `address`.
    let bytes =
        unsafe { std::slice::from_raw_parts(address as *const u8, length * size_of::<T>()) };
    Buffer::from_ne_bytes(bytes).expect("whole elements")
}
