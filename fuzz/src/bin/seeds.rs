//! Writes the seed corpus of every target into the directory given (`fuzz/run.sh` calls it):
//! the manifests of tests/manifests and examples/manifests, JSON Lines inputs, and protocol and
//! isolation messages made by the real encoders, so the fuzzers start from what peers send.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use prost::Message as _;
use remotemedia_core::value::{Array, Value};
use remotemedia_isolate::shm::{ArenaWriter, memfd};
use remotemedia_isolate::wire::{FromWorker, Sender, ToWorker};
use remotemedia_remote::convert;
use remotemedia_remote::proto::{self, NodeRequest, node_request::Kind};

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: seeds DIR"));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    let manifests = out.join("manifest");
    fs::create_dir_all(&manifests)?;
    for dir in [
        "tests/manifests/valid",
        "tests/manifests/invalid",
        "examples/manifests",
    ] {
        for entry in fs::read_dir(repo.join(dir))? {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let name = format!(
                    "{}-{}",
                    dir.replace('/', "_"),
                    path.file_name().unwrap().to_string_lossy()
                );
                fs::copy(&path, manifests.join(name))?;
            }
        }
    }

    let values = sample_values();
    let jsonl = out.join("jsonl_input");
    fs::create_dir_all(&jsonl)?;
    for (i, value) in values.iter().enumerate() {
        fs::write(
            jsonl.join(format!("value-{i}.jsonl")),
            format!("{}\n", serde_json::to_string(value).unwrap()),
        )?;
    }
    fs::write(
        jsonl.join("lines.jsonl"),
        "1\n\n\"two\"\n{\"$bytes\": \"AAEC\"}\n[1, 2.5, null, true]\n",
    )?;

    let protocol = out.join("protocol");
    fs::create_dir_all(&protocol)?;
    for (i, value) in values.iter().enumerate() {
        let item = NodeRequest {
            kind: Some(Kind::Item(convert::encode_value(value))),
        };
        fs::write(protocol.join(format!("item-{i}.bin")), item.encode_to_vec())?;
    }
    let open = NodeRequest {
        kind: Some(Kind::Open(proto::OpenNode {
            node_id: "calc".into(),
            node_type: "CalculatorNode".into(),
            module: None,
            params: vec![proto::Param {
                name: "operand".into(),
                value: Some(convert::encode_value(&Value::Int(5))),
            }],
            // A pipelining client's request (issue 15): up to 4 items in flight.
            window: 4,
            requirements: Some(convert::encode_requirements(None)),
            runtime_hint: 0,
            isolation: 1,
        })),
    };
    fs::write(protocol.join("open.bin"), open.encode_to_vec())?;

    let wire = out.join("isolate_wire");
    let interpreter = out.join("interpreter_values");
    fs::create_dir_all(&wire)?;
    fs::create_dir_all(&interpreter)?;
    for (i, value) in values.iter().enumerate() {
        // Values below the shared-memory threshold: the whole value is in the message.
        let to_worker = frame(|sender| sender.send_to_worker(&ToWorker::Process(value.clone())))?;
        let from_worker = frame(|sender| sender.send_to_parent(&FromWorker::Emit(value.clone())))?;
        fs::write(wire.join(format!("process-{i}.bin")), &to_worker)?;
        fs::write(wire.join(format!("emit-{i}.bin")), &from_worker)?;
        // A bare value is the message without its tag.
        fs::write(interpreter.join(format!("value-{i}.bin")), &to_worker[1..])?;
    }
    Ok(())
}

/// One message as a sender writes it, without its length prefix.
fn frame(
    send: impl FnOnce(&mut Sender<Vec<u8>>) -> std::io::Result<()>,
) -> std::io::Result<Vec<u8>> {
    let mut sender = Sender::new(Vec::new(), ArenaWriter::new(memfd("seeds")?));
    send(&mut sender)?;
    Ok(sender.get_ref()[4..].to_vec())
}

fn sample_values() -> Vec<Value> {
    let mut map = IndexMap::new();
    map.insert("gain".to_owned(), Value::Float(0.5));
    map.insert("name".to_owned(), Value::Str("speech".into()));
    vec![
        Value::Null,
        Value::Bool(true),
        Value::Int(-42),
        Value::BigInt(Arc::new("123456789012345678901234567890".parse().unwrap())),
        Value::Float(1.5e-3),
        Value::Str("héllo".into()),
        Value::Bytes(vec![0u8, 1, 2, 255].into()),
        Value::List(vec![Value::Int(1), Value::List(vec![Value::Null])]),
        Value::Map(map),
        Value::Array(Array::I16(vec![1i16, -2, 3].into())),
        Value::Array(Array::F32(vec![0.25f32; 16].into())),
        Value::Array(Array::F64(vec![1.0f64, f64::MIN_POSITIVE].into())),
        Value::Array(Array::I64(vec![i64::MAX].into())),
        Value::Array(Array::I32(vec![7i32; 3].into())),
    ]
}
