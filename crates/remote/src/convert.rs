//! Between the runtime's types and their wire form (`proto`).
//!
//! Values are binary: numbers as protobuf numbers, strings as UTF-8, bytes and typed arrays as raw
//! bytes (arrays little-endian, with their element type). Decoding checks everything a peer could
//! get wrong and says where, e.g. `item: [2]["gain"]: an array of 7 bytes is not a whole number of
//! f32 elements`.

use std::sync::Arc;

use indexmap::IndexMap;
use num_bigint::BigInt;
use remotemedia_core::buffer::Element;
use remotemedia_core::engine::{NodeError, NodeSpec};
use remotemedia_core::executor::Phase;
use remotemedia_core::manifest::{
    Capabilities, CpuRequirement, GpuKind, GpuRequirement, Isolation, NodeManifest, RuntimeHint,
};
use remotemedia_core::placement::{
    CpuInfo, Engines, GpuInfo, MachineCapabilities, MemoryInfo, gpu_kind_name,
};
use remotemedia_core::value::{Array, Buffer, Value};

use crate::proto;
use crate::proto::value::Kind;

/// A message from a peer that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct Malformed {
    /// Where in the message, e.g. `item: [2]["gain"]`.
    pub at: String,
    pub problem: String,
}

impl Malformed {
    pub(crate) fn new(at: impl Into<String>, problem: impl Into<String>) -> Self {
        Malformed {
            at: at.into(),
            problem: problem.into(),
        }
    }
}

/// The wire form of a value.
pub fn encode_value(value: &Value) -> proto::Value {
    let kind = match value {
        Value::Null => Kind::Null(proto::Null {}),
        Value::Bool(b) => Kind::Bool(*b),
        Value::Int(i) => Kind::Int(*i),
        Value::BigInt(big) => Kind::BigInt(big.to_signed_bytes_be()),
        Value::Float(f) => Kind::Float(*f),
        Value::Str(s) => Kind::Str(s.to_string()),
        Value::Bytes(bytes) => Kind::Bytes(bytes.to_vec()),
        Value::List(items) => Kind::List(proto::ValueList {
            items: items.iter().map(encode_value).collect(),
        }),
        Value::Map(map) => Kind::Map(proto::ValueMap {
            entries: map
                .iter()
                .map(|(key, value)| proto::MapEntry {
                    key: key.clone(),
                    value: Some(encode_value(value)),
                })
                .collect(),
        }),
        Value::Array(array) => Kind::Array(encode_array(array)),
    };
    proto::Value { kind: Some(kind) }
}

fn encode_array(array: &Array) -> proto::Array {
    fn le_bytes<T: Copy, const N: usize>(items: &[T], to_le: fn(T) -> [u8; N]) -> Vec<u8> {
        let mut data = Vec::with_capacity(items.len() * N);
        for item in items {
            data.extend_from_slice(&to_le(*item));
        }
        data
    }
    let (dtype, data) = match array {
        Array::I16(a) => (proto::Dtype::I16, le_bytes(a, i16::to_le_bytes)),
        Array::I32(a) => (proto::Dtype::I32, le_bytes(a, i32::to_le_bytes)),
        Array::I64(a) => (proto::Dtype::I64, le_bytes(a, i64::to_le_bytes)),
        Array::F32(a) => (proto::Dtype::F32, le_bytes(a, f32::to_le_bytes)),
        Array::F64(a) => (proto::Dtype::F64, le_bytes(a, f64::to_le_bytes)),
    };
    proto::Array {
        dtype: dtype.into(),
        data,
    }
}

/// The value a peer sent; `at` names it in errors (`item`, `param \`gain\``).
pub fn decode_value(value: proto::Value, at: &str) -> Result<Value, Malformed> {
    let mut path = at.to_owned();
    decode_at(value, &mut path)
}

fn decode_at(value: proto::Value, path: &mut String) -> Result<Value, Malformed> {
    let Some(kind) = value.kind else {
        return Err(Malformed::new(path.clone(), "a value with no kind set"));
    };
    Ok(match kind {
        Kind::Null(_) => Value::Null,
        Kind::Bool(b) => Value::Bool(b),
        Kind::Int(i) => Value::Int(i),
        Kind::BigInt(bytes) => {
            if bytes.is_empty() {
                return Err(Malformed::new(path.clone(), "a big_int with no bytes"));
            }
            let big = BigInt::from_signed_bytes_be(&bytes);
            // The runtime keeps ints that fit in i64 as Int.
            match i64::try_from(&big) {
                Ok(small) => Value::Int(small),
                Err(_) => Value::BigInt(Arc::new(big)),
            }
        }
        Kind::Float(f) => Value::Float(f),
        Kind::Str(s) => Value::Str(s.into()),
        Kind::Bytes(bytes) => Value::Bytes(bytes.into()),
        Kind::List(list) => {
            let mut items = Vec::with_capacity(list.items.len());
            for (index, item) in list.items.into_iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                items.push(decode_at(item, path)?);
                path.truncate(len);
            }
            Value::List(items)
        }
        Kind::Map(map) => {
            let mut entries = IndexMap::with_capacity(map.entries.len());
            for entry in map.entries {
                let len = path.len();
                path.push_str(&format!("[{:?}]", entry.key));
                let value = entry
                    .value
                    .ok_or_else(|| Malformed::new(path.clone(), "a map entry with no value"))?;
                let value = decode_at(value, path)?;
                path.truncate(len);
                if entries.insert(entry.key.clone(), value).is_some() {
                    return Err(Malformed::new(
                        path.clone(),
                        format!("the key {:?} appears twice in a map", entry.key),
                    ));
                }
            }
            Value::Map(entries)
        }
        Kind::Array(array) => Value::Array(decode_array(array, path)?),
    })
}

fn decode_array(array: proto::Array, path: &str) -> Result<Array, Malformed> {
    fn from_le<T: Element>(data: &[u8], dtype: &str, path: &str) -> Result<Buffer<T>, Malformed> {
        Buffer::from_le_bytes(data).ok_or_else(|| {
            Malformed::new(
                path,
                format!(
                    "an array of {} bytes is not a whole number of {dtype} elements",
                    data.len()
                ),
            )
        })
    }
    let data = &array.data;
    Ok(match proto::Dtype::try_from(array.dtype) {
        Ok(proto::Dtype::I16) => Array::I16(from_le(data, "i16", path)?),
        Ok(proto::Dtype::I32) => Array::I32(from_le(data, "i32", path)?),
        Ok(proto::Dtype::I64) => Array::I64(from_le(data, "i64", path)?),
        Ok(proto::Dtype::F32) => Array::F32(from_le(data, "f32", path)?),
        Ok(proto::Dtype::F64) => Array::F64(from_le(data, "f64", path)?),
        Ok(proto::Dtype::Unspecified) | Err(_) => {
            return Err(Malformed::new(
                path,
                format!("an array with unknown element type {}", array.dtype),
            ));
        }
    })
}

/// A machine profile on the wire.
pub fn encode_machine(machine: &MachineCapabilities) -> proto::Machine {
    proto::Machine {
        name: machine.name.clone(),
        cpu_cores: machine.cpu.cores,
        cpu_arch: machine.cpu.arch.clone(),
        memory_total_gb: machine.memory.total_gb,
        memory_available_gb: machine.memory.available_gb,
        gpus: machine
            .gpus
            .iter()
            .map(|gpu| proto::Gpu {
                kind: gpu_kind_name(gpu.kind).to_owned(),
                name: gpu.name.clone(),
                memory_gb: gpu.memory_gb,
            })
            .collect(),
        rustpython: machine.engines.rustpython,
        cpython: machine.engines.cpython,
    }
}

/// The machine a host describes.
pub fn decode_machine(machine: proto::Machine) -> Result<MachineCapabilities, Malformed> {
    let gpus = machine
        .gpus
        .into_iter()
        .enumerate()
        .map(|(index, gpu)| {
            Ok(GpuInfo {
                kind: parse_gpu_kind(&gpu.kind, &format!("machine.gpus[{index}].kind"))?,
                name: gpu.name,
                memory_gb: gpu.memory_gb,
            })
        })
        .collect::<Result<_, Malformed>>()?;
    Ok(MachineCapabilities {
        name: machine.name,
        cpu: CpuInfo {
            cores: machine.cpu_cores,
            arch: machine.cpu_arch,
        },
        memory: MemoryInfo {
            total_gb: machine.memory_total_gb,
            available_gb: machine.memory_available_gb,
        },
        gpus,
        engines: Engines {
            rustpython: machine.rustpython,
            cpython: machine.cpython,
            cpython_problem: None,
        },
    })
}

fn parse_gpu_kind(name: &str, at: &str) -> Result<GpuKind, Malformed> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| Malformed::new(at, format!("unknown GPU kind `{name}`")))
}

/// A node's requirements on the wire.
pub fn encode_requirements(capabilities: Option<&Capabilities>) -> proto::Requirements {
    let Some(capabilities) = capabilities else {
        return proto::Requirements::default();
    };
    let cpu = capabilities.cpu.clone().unwrap_or_default();
    proto::Requirements {
        gpu: capabilities.gpu.as_ref().map(|gpu| proto::GpuRequirement {
            kind: gpu_kind_name(gpu.kind).to_owned(),
            min_memory_gb: gpu.min_memory_gb,
            required: gpu.required,
        }),
        cpu_cores: cpu.cores,
        cpu_arch: cpu.arch,
        memory_gb: capabilities.memory_gb,
    }
}

/// The requirements a client sent with a node.
pub fn decode_requirements(
    requirements: Option<proto::Requirements>,
) -> Result<Option<Capabilities>, Malformed> {
    let Some(requirements) = requirements else {
        return Ok(None);
    };
    let gpu = match requirements.gpu {
        Some(gpu) => Some(GpuRequirement {
            kind: parse_gpu_kind(&gpu.kind, "open.requirements.gpu.kind")?,
            min_memory_gb: gpu.min_memory_gb,
            required: gpu.required,
        }),
        None => None,
    };
    let cpu = (requirements.cpu_cores.is_some() || requirements.cpu_arch.is_some()).then_some(
        CpuRequirement {
            cores: requirements.cpu_cores,
            arch: requirements.cpu_arch,
        },
    );
    Ok(Some(Capabilities {
        gpu,
        cpu,
        memory_gb: requirements.memory_gb,
    }))
}

pub fn encode_hint(hint: Option<RuntimeHint>) -> proto::RuntimeHint {
    match hint.unwrap_or_default() {
        RuntimeHint::Auto => proto::RuntimeHint::Auto,
        RuntimeHint::Rustpython => proto::RuntimeHint::Rustpython,
        RuntimeHint::Cpython => proto::RuntimeHint::Cpython,
        RuntimeHint::Native => proto::RuntimeHint::Native,
    }
}

pub fn decode_hint(hint: i32) -> Result<RuntimeHint, Malformed> {
    match proto::RuntimeHint::try_from(hint) {
        Ok(proto::RuntimeHint::Auto) => Ok(RuntimeHint::Auto),
        Ok(proto::RuntimeHint::Rustpython) => Ok(RuntimeHint::Rustpython),
        Ok(proto::RuntimeHint::Cpython) => Ok(RuntimeHint::Cpython),
        Ok(proto::RuntimeHint::Native) => Ok(RuntimeHint::Native),
        Err(_) => Err(Malformed::new(
            "open.runtime_hint",
            format!("unknown runtime hint {hint}"),
        )),
    }
}

pub fn encode_isolation(isolation: Option<Isolation>) -> proto::Isolation {
    match isolation.unwrap_or_default() {
        Isolation::None => proto::Isolation::None,
        Isolation::Process => proto::Isolation::Process,
        Isolation::Sandbox => proto::Isolation::Sandbox,
    }
}

pub fn decode_isolation(isolation: i32, at: &str) -> Result<Isolation, Malformed> {
    match proto::Isolation::try_from(isolation) {
        Ok(proto::Isolation::None) => Ok(Isolation::None),
        Ok(proto::Isolation::Process) => Ok(Isolation::Process),
        Ok(proto::Isolation::Sandbox) => Ok(Isolation::Sandbox),
        Err(_) => Err(Malformed::new(at, format!("unknown isolation {isolation}"))),
    }
}

/// The node a client asks a server to open: its manifest entry (what placement and isolation
/// look at) and its spec (what its engine creates it from).
pub fn decode_open(open: proto::OpenNode) -> Result<(NodeManifest, NodeSpec), Malformed> {
    if open.node_type.is_empty() {
        return Err(Malformed::new("open", "node_type is empty"));
    }
    let mut params = IndexMap::new();
    for param in open.params {
        let at = format!("open: param `{}`", param.name);
        let value = param
            .value
            .ok_or_else(|| Malformed::new(at.clone(), "no value"))?;
        let value = decode_value(value, &at)?;
        params.insert(param.name, value);
    }
    let node = NodeManifest {
        id: open.node_id.clone(),
        node_type: open.node_type.clone(),
        module: open.module.clone(),
        // For placement, which asks whether a native implementation takes these params.
        params: params
            .iter()
            .map(|(name, value)| (name.clone(), value.to_json()))
            .collect(),
        capabilities: decode_requirements(open.requirements)?,
        host: None,
        runtime_hint: Some(decode_hint(open.runtime_hint)?),
        is_streaming: None,
        placement: None,
        isolation: Some(decode_isolation(open.isolation, "open.isolation")?),
        // The client's executor times the node's calls (it waits on them); the host does not.
        timeout_s: None,
        rewritten_from: None,
    };
    let spec = NodeSpec {
        id: open.node_id,
        node_type: open.node_type,
        module: open.module,
        params,
        capabilities: node.capabilities.clone(),
    };
    Ok((node, spec))
}

/// A node's failure on the wire.
pub fn encode_failure(phase: Phase, error: &NodeError) -> proto::NodeFailure {
    let phase = match phase {
        Phase::Create => proto::Phase::Create,
        Phase::Initialize => proto::Phase::Initialize,
        Phase::Process => proto::Phase::Process,
        Phase::Flush => proto::Phase::Flush,
        Phase::Cleanup => proto::Phase::Cleanup,
    };
    proto::NodeFailure {
        phase: phase.into(),
        message: error.message.clone(),
        kind: error.kind.clone(),
        traceback: error.traceback.clone(),
    }
}

/// The node error a host reported, as the node's own error.
pub fn decode_failure(failure: proto::NodeFailure) -> NodeError {
    NodeError {
        message: failure.message,
        kind: failure.kind,
        traceback: failure.traceback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn round_trip(value: &Value) -> Value {
        let bytes = encode_value(value).encode_to_vec();
        let decoded = proto::Value::decode(bytes.as_slice()).unwrap();
        decode_value(decoded, "item").unwrap()
    }

    #[test]
    fn every_kind_survives_the_wire() {
        let big: BigInt = "-123456789012345678901234567890".parse().unwrap();
        let mut map = IndexMap::new();
        map.insert("z".to_owned(), Value::Float(-0.5));
        map.insert("a".to_owned(), Value::Bytes(vec![0u8, 255, 7].into()));
        let value = Value::List(vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::BigInt(Arc::new(big)),
            Value::Float(f64::INFINITY),
            Value::Str("hé ✓".into()),
            Value::Map(map),
            Value::Array(Array::I16(vec![i16::MIN, 0, i16::MAX].into())),
            Value::Array(Array::I32(vec![-1, 1 << 30].into())),
            Value::Array(Array::I64(vec![i64::MAX].into())),
            Value::Array(Array::F32(vec![0.25f32, -3.5].into())),
            Value::Array(Array::F64(vec![1e300, -0.0].into())),
            Value::Array(Array::F32(Vec::<f32>::new().into())),
        ]);
        assert_eq!(round_trip(&value), value);
    }

    #[test]
    fn arrays_travel_as_raw_little_endian_bytes() {
        let samples: Vec<f32> = (0..480).map(|i| i as f32 / 480.0).collect();
        let encoded = encode_value(&Value::Array(Array::F32(samples.clone().into())));
        let Some(Kind::Array(array)) = &encoded.kind else {
            panic!("an array")
        };
        assert_eq!(array.data.len(), samples.len() * 4);
        assert_eq!(&array.data[4..8], &samples[1].to_le_bytes());
        // Tag, lengths and dtype are the only overhead.
        assert!(encoded.encoded_len() < samples.len() * 4 + 16);
    }

    #[test]
    fn malformed_values_say_where() {
        let bad_array = proto::Value {
            kind: Some(Kind::Array(proto::Array {
                dtype: proto::Dtype::F32.into(),
                data: vec![0; 7],
            })),
        };
        let nested = proto::Value {
            kind: Some(Kind::List(proto::ValueList {
                items: vec![
                    encode_value(&Value::Int(1)),
                    proto::Value {
                        kind: Some(Kind::Map(proto::ValueMap {
                            entries: vec![proto::MapEntry {
                                key: "gain".into(),
                                value: Some(bad_array),
                            }],
                        })),
                    },
                ],
            })),
        };
        let error = decode_value(nested, "item").unwrap_err();
        assert_eq!(
            error.to_string(),
            "item[1][\"gain\"]: an array of 7 bytes is not a whole number of f32 elements"
        );
        let empty = decode_value(proto::Value { kind: None }, "item").unwrap_err();
        assert_eq!(empty.to_string(), "item: a value with no kind set");
        let unknown = proto::Value {
            kind: Some(Kind::Array(proto::Array {
                dtype: 99,
                data: vec![],
            })),
        };
        assert!(
            decode_value(unknown, "item")
                .unwrap_err()
                .to_string()
                .contains("unknown element type 99")
        );
    }

    #[test]
    fn small_big_ints_become_ints() {
        let wire = proto::Value {
            kind: Some(Kind::BigInt(vec![0x01, 0x00])),
        };
        assert_eq!(decode_value(wire, "item").unwrap(), Value::Int(256));
    }

    #[test]
    fn machines_and_requirements_survive_the_wire() {
        let machine = MachineCapabilities::from_json(
            r#"{"name": "gpu-box", "cpu": {"cores": 16, "arch": "x86_64"},
                "memory": {"total_gb": 64, "available_gb": 48},
                "gpus": [{"kind": "cuda", "name": "RTX", "memory_gb": 24}],
                "engines": {"rustpython": true, "cpython": true}}"#,
            "gpu-box.json",
        )
        .unwrap();
        assert_eq!(decode_machine(encode_machine(&machine)).unwrap(), machine);
        let capabilities = Capabilities {
            gpu: Some(GpuRequirement {
                kind: GpuKind::Any,
                min_memory_gb: Some(8.0),
                required: false,
            }),
            cpu: Some(CpuRequirement {
                cores: Some(4),
                arch: None,
            }),
            memory_gb: Some(2.5),
        };
        let wire = encode_requirements(Some(&capabilities));
        assert_eq!(decode_requirements(Some(wire)).unwrap(), Some(capabilities));
    }
}
