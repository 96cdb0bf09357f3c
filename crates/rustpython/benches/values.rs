//! Value conversions on the hot path of every item:
//!
//! - `json`: a JSON Lines input line into a [`Value`] and a `Value` back into a line, as
//!   `remotemedia run` reads inputs and writes outputs;
//! - `rustpython`: a `Value` into the embedded interpreter and back, through a live
//!   `PassThroughNode` (conversion in, one Python call, conversion out), as every node does.
//!
//! `cargo bench --bench values`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group};
use indexmap::IndexMap;
use remotemedia_core::engine::{Emitter, Engine, NodeSpec, Stopped};
use remotemedia_core::value::{Array, Buffer, Value};
use remotemedia_rustpython::{RustPythonConfig, RustPythonEngine};

/// The values every benchmark converts, from a bare int to a 20 ms audio frame.
fn samples() -> Vec<(&'static str, Value)> {
    let mut record = IndexMap::new();
    record.insert("id".to_owned(), Value::Int(17));
    record.insert("text".to_owned(), Value::from("the quick brown fox"));
    record.insert("score".to_owned(), Value::Float(0.25));
    record.insert(
        "tags".to_owned(),
        Value::List(vec![Value::from("a"), Value::from("b")]),
    );
    let mut frame = IndexMap::new();
    let samples: Buffer<f32> = (0..320).map(|i| (i as f32 / 320.0) - 0.5).collect();
    frame.insert("samples".to_owned(), Value::Array(Array::F32(samples)));
    frame.insert("sample_rate".to_owned(), Value::Int(16_000));
    frame.insert("channels".to_owned(), Value::Int(1));
    frame.insert("timestamp".to_owned(), Value::Float(1.5));
    vec![
        ("int", Value::Int(42)),
        ("str-64", Value::Str(Arc::from("x".repeat(64)))),
        ("record", Value::Map(record)),
        (
            "list-100-ints",
            Value::List((0..100).map(Value::Int).collect()),
        ),
        ("audio-frame-320-f32", Value::Map(frame)),
    ]
}

fn json(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    for (name, value) in samples() {
        let line = serde_json::to_string(&value).expect("serializable");
        group.bench_with_input(BenchmarkId::new("line_to_value", name), &line, |b, line| {
            b.iter(|| {
                let json: serde_json::Value = serde_json::from_str(black_box(line)).expect("json");
                Value::from_json(json).expect("a value")
            })
        });
        group.bench_with_input(
            BenchmarkId::new("value_to_line", name),
            &value,
            |b, value| b.iter(|| serde_json::to_string(black_box(value)).expect("serializable")),
        );
    }
    group.finish();
}

/// Keeps the last output, so the conversion out of Python is not optimised away.
#[derive(Default)]
struct Keep(Option<Value>);

impl Emitter for Keep {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        self.0 = Some(item);
        Ok(())
    }
}

fn rustpython(c: &mut Criterion) {
    let engine =
        RustPythonEngine::new(&RustPythonConfig::default()).expect("the interpreter starts");
    let spec = NodeSpec {
        id: "pass".to_owned(),
        node_type: "PassThroughNode".to_owned(),
        module: None,
        params: IndexMap::new(),
        capabilities: None,
    };
    let mut node = engine
        .create(&spec)
        .expect("PassThroughNode is in the catalogue");
    node.initialize().expect("initializes");
    let mut group = c.benchmark_group("rustpython");
    for (name, value) in samples() {
        let mut kept = Keep::default();
        node.process(value.clone(), &mut kept).expect("passes");
        assert_eq!(
            kept.0.as_ref(),
            Some(&value),
            "{name} survives the round trip"
        );
        group.bench_with_input(BenchmarkId::new("round_trip", name), &value, |b, value| {
            b.iter(|| {
                node.process(black_box(value.clone()), &mut kept)
                    .expect("passes");
            })
        });
    }
    group.finish();
    node.cleanup().expect("cleans up");
}

criterion_group!(benches, json, rustpython);

/// `criterion_main!`, but on a spawned thread, as the executor runs every node: entering the
/// interpreter reads the thread's stack bounds, which glibc answers cheaply for a spawned thread
/// but only by parsing /proc/self/maps for the main one (≈20 µs a call), which would swamp the
/// figures.
fn main() {
    std::thread::spawn(|| {
        benches();
        Criterion::default().configure_from_args().final_summary();
    })
    .join()
    .expect("the benchmarks ran");
}
