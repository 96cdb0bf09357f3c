//! Value conversion into and out of the embedded interpreter (RustPython): bytes → a value (as the
//! isolation channel encodes them: every kind, typed arrays, big ints, deep nesting) → a node in
//! the interpreter that passes it through → back to a value, which must equal the first.

use std::panic::AssertUnwindSafe;

use remotemedia_core::engine::{Emitter, Engine, NodeSpec, Stopped};
use remotemedia_core::value::Value;
use remotemedia_isolate::wire;
use remotemedia_rustpython::{RustPythonConfig, RustPythonEngine};

struct Collect(Vec<Value>);

impl Emitter for Collect {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        self.0.push(item);
        Ok(())
    }
}

fn main() {
    let engine = RustPythonEngine::new(&RustPythonConfig::with_env(Vec::new()))
        .expect("the interpreter starts");
    let spec = NodeSpec {
        id: "pass".to_owned(),
        node_type: "PassThroughNode".to_owned(),
        module: None,
        params: Default::default(),
        capabilities: None,
    };
    let mut node = engine.create(&spec).expect("PassThroughNode exists");
    node.initialize().expect("PassThroughNode initializes");
    // afl::fuzz! catches a panic to report it as a crash and then ends the process, so the node is
    // never used after one: asserting unwind safety is sound here.
    let mut node = AssertUnwindSafe(node);
    afl::fuzz!(|data: &[u8]| {
        let Ok(value) = wire::decode_value(data) else {
            return;
        };
        let mut out = Collect(Vec::new());
        // A value the interpreter refuses (too deep) is an error, not a crash.
        if node.process(value.clone(), &mut out).is_err() {
            return;
        }
        // A node returning None emits nothing (how a node filters, docs of `Node.process`): a
        // None item passes through as no item.
        if value == Value::Null {
            assert!(out.0.is_empty(), "None came back as {:?}", out.0);
            return;
        }
        assert_eq!(out.0.len(), 1);
        assert!(
            same(&value, &out.0[0]),
            "{value:?} came back as {:?}",
            out.0[0]
        );
    });
}

/// Equality up to what Python cannot tell apart: an int is an int whatever its size, NaN is NaN.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::BigInt(x), Value::Int(y)) | (Value::Int(y), Value::BigInt(x)) => **x == (*y).into(),
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        (Value::Array(x), Value::Array(y)) => format!("{x:?}") == format!("{y:?}"),
        _ => a == b,
    }
}
