//! Direct conversion between runtime [`Value`]s and RustPython objects: no Python source text, no
//! JSON round trip. Typed arrays cross as `array.array`, copying the buffer once.

use std::sync::Arc;

use indexmap::IndexMap;
use malachite_bigint::BigInt as PyBigInt;
use num_bigint::BigInt;
use rustpython_stdlib::array::array::{ArrayContentType, PyArray};
use rustpython_vm::builtins::{
    PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyStr, PyTuple,
};
use rustpython_vm::protocol::PyBuffer;
use rustpython_vm::{
    AsObject, PyObject, PyObjectRef, PyPayload, TryFromBorrowedObject, VirtualMachine,
};

use remotemedia_core::engine::NodeSpec;
use remotemedia_core::value::{Array, Buffer, MAX_DEPTH, Value};

/// What every node may emit; quoted in errors.
const SUPPORTED: &str = "None, bool, int, float, str, bytes, list, tuple, dict with str keys, array.array('h', 'i', 'q', 'f' or 'd')";

/// A Python object that has no runtime value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum ConversionError {
    #[error("a {type_name} cannot flow between nodes (supported: {SUPPORTED})")]
    Unsupported { type_name: String },
    #[error("dict key {key_repr} is a {type_name}; only str keys can flow between nodes")]
    NonStrKey { key_repr: String, type_name: String },
    #[error(
        "an array.array of typecode '{typecode}' cannot flow between nodes (supported typecodes: h, i, q, f, d)"
    )]
    UnsupportedTypecode { typecode: String },
    #[error("a str holding a lone surrogate cannot flow between nodes")]
    Surrogate,
    #[error(
        "the item nests lists/dicts more than {MAX_DEPTH} levels deep (does it contain itself?)"
    )]
    TooDeep,
}

/// Makes the Python object for `value`, consuming it so owned buffers move where they can.
pub(super) fn to_python(vm: &VirtualMachine, value: Value) -> PyObjectRef {
    match value {
        Value::Null => vm.ctx.none(),
        Value::Bool(b) => vm.ctx.new_bool(b).into(),
        Value::Int(i) => vm.ctx.new_int(i).into(),
        Value::BigInt(big) => vm
            .ctx
            .new_int(PyBigInt::from_signed_bytes_le(&big.to_signed_bytes_le()))
            .into(),
        Value::Float(f) => vm.ctx.new_float(f).into(),
        Value::Str(s) => vm.ctx.new_str(&*s).into(),
        Value::Bytes(bytes) => vm.ctx.new_bytes(bytes.to_vec()).into(),
        Value::List(items) => {
            let items = items.into_iter().map(|item| to_python(vm, item)).collect();
            vm.ctx.new_list(items).into()
        }
        Value::Map(map) => {
            let dict = vm.ctx.new_dict();
            for (key, item) in map {
                let item = to_python(vm, item);
                dict.set_item(key.as_str(), item, vm)
                    .expect("a str key always hashes");
            }
            dict.into()
        }
        Value::Array(array) => {
            let content = match array {
                Array::I16(a) => ArrayContentType::SignedShort(a.to_vec()),
                Array::I32(a) => ArrayContentType::SignedInt(a.to_vec()),
                Array::I64(a) => ArrayContentType::SignedLongLong(a.to_vec()),
                Array::F32(a) => ArrayContentType::Float(a.to_vec()),
                Array::F64(a) => ArrayContentType::Double(a.to_vec()),
            };
            PyArray::from(content).into_ref(&vm.ctx).into()
        }
    }
}

/// Reads a Python object as a runtime value.
pub(super) fn from_python(vm: &VirtualMachine, obj: &PyObject) -> Result<Value, ConversionError> {
    from_python_at(vm, obj, 0)
}

fn from_python_at(
    vm: &VirtualMachine,
    obj: &PyObject,
    depth: usize,
) -> Result<Value, ConversionError> {
    if depth > MAX_DEPTH {
        return Err(ConversionError::TooDeep);
    }
    // Most frequent first; `bool` before `int`, which it subclasses.
    if vm.is_none(obj) {
        return Ok(Value::Null);
    }
    let class = obj.class();
    if class.is(vm.ctx.types.bool_type) {
        return Ok(Value::Bool(obj.is(&vm.ctx.true_value)));
    }
    if let Some(int) = obj.downcast_ref::<PyInt>() {
        return Ok(int_value(int.as_bigint()));
    }
    if let Some(float) = obj.downcast_ref::<PyFloat>() {
        return Ok(Value::Float(float.to_f64()));
    }
    if let Some(s) = obj.downcast_ref::<PyStr>() {
        return s
            .to_str()
            .map(|s| Value::Str(Arc::from(s)))
            .ok_or(ConversionError::Surrogate);
    }
    if let Some(bytes) = obj.downcast_ref::<PyBytes>() {
        return Ok(Value::Bytes(Arc::from(bytes.as_bytes())));
    }
    if let Some(list) = obj.downcast_ref::<PyList>() {
        return sequence_value(vm, &list.borrow_vec(), depth);
    }
    if let Some(tuple) = obj.downcast_ref::<PyTuple>() {
        return sequence_value(vm, tuple.as_slice(), depth);
    }
    if let Some(dict) = obj.downcast_ref::<PyDict>() {
        let mut map = IndexMap::with_capacity(dict.__len__());
        for (key, item) in dict {
            let Some(key_str) = key.downcast_ref::<PyStr>() else {
                return Err(ConversionError::NonStrKey {
                    key_repr: key
                        .repr(vm)
                        .map(|r| r.to_string_lossy().into_owned())
                        .unwrap_or_else(|_| "<unprintable>".to_owned()),
                    type_name: key.class().name().to_string(),
                });
            };
            let key = key_str.to_str().ok_or(ConversionError::Surrogate)?;
            map.insert(key.to_owned(), from_python_at(vm, &item, depth + 1)?);
        }
        return Ok(Value::Map(map));
    }
    if obj.downcast_ref::<PyArray>().is_some() {
        return array_value(vm, obj);
    }
    if let Some(bytes) = obj.downcast_ref::<PyByteArray>() {
        return Ok(Value::Bytes(Arc::from(&*bytes.borrow_buf())));
    }
    if class.is(vm.ctx.types.memoryview_type) {
        let buffer = PyBuffer::try_from_borrowed_object(vm, obj).map_err(|_| unsupported(obj))?;
        return Ok(Value::Bytes(
            buffer.contiguous_or_collect(|bytes: &[u8]| Arc::from(bytes)),
        ));
    }
    Err(unsupported(obj))
}

fn unsupported(obj: &PyObject) -> ConversionError {
    ConversionError::Unsupported {
        type_name: obj.class().name().to_string(),
    }
}

fn int_value(int: &PyBigInt) -> Value {
    match i64::try_from(int) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::BigInt(Arc::new(BigInt::from_signed_bytes_le(
            &int.to_signed_bytes_le(),
        ))),
    }
}

fn sequence_value(
    vm: &VirtualMachine,
    items: &[PyObjectRef],
    depth: usize,
) -> Result<Value, ConversionError> {
    items
        .iter()
        .map(|item| from_python_at(vm, item, depth + 1))
        .collect::<Result<_, _>>()
        .map(Value::List)
}

/// Copies an `array.array`'s buffer once into a shared typed array.
fn array_value(vm: &VirtualMachine, obj: &PyObject) -> Result<Value, ConversionError> {
    let buffer = PyBuffer::try_from_borrowed_object(vm, obj).map_err(|_| unsupported(obj))?;
    let typecode = buffer.desc.format.to_string();
    let array = buffer.contiguous_or_collect(|bytes| {
        Some(match typecode.as_str() {
            "h" => Array::I16(Buffer::from_ne_bytes(bytes)?),
            "i" => Array::I32(Buffer::from_ne_bytes(bytes)?),
            "q" => Array::I64(Buffer::from_ne_bytes(bytes)?),
            "f" => Array::F32(Buffer::from_ne_bytes(bytes)?),
            "d" => Array::F64(Buffer::from_ne_bytes(bytes)?),
            _ => return None,
        })
    });
    array
        .map(Value::Array)
        .ok_or(ConversionError::UnsupportedTypecode { typecode })
}

/// The node's constructor keyword arguments ([`NodeSpec::constructor_args`]) as Python objects.
pub(super) fn to_kwargs(vm: &VirtualMachine, spec: &NodeSpec) -> rustpython_vm::function::KwArgs {
    spec.constructor_args()
        .map(|(param, value)| (param, to_python(vm, value)))
        .collect()
}

/// Whether `obj` needs the SDK's driver to turn it into outputs (generators, coroutines, async
/// generators); anything else is one output as it is.
pub(super) fn is_lazy_result(obj: &PyObject) -> bool {
    use rustpython_vm::builtins::{PyAsyncGen, PyCoroutine, PyGenerator};
    obj.downcast_ref::<PyGenerator>().is_some()
        || obj.downcast_ref::<PyCoroutine>().is_some()
        || obj.downcast_ref::<PyAsyncGen>().is_some()
}
