//! The run's JSON Lines input decoding (`remotemedia run --input-file`): every line through the
//! decoder `run` uses. A value that decodes writes out (as `run` writes outputs) and decodes back
//! to itself.

use remotemedia_core::value::{Value, parse_json_line};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let Ok(value) = parse_json_line(line) else {
                continue;
            };
            let written = serde_json::to_string(&value).expect("a value serializes");
            let again: Value = parse_json_line(&written).expect("written output parses back");
            assert!(same(&value, &again), "{value:?} came back as {again:?}");
        }
    });
}

/// Equality, with floats compared by what JSON can tell apart.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        _ => a == b,
    }
}
