//! The values that flow between nodes.
//!
//! Engines convert [`Value`] straight into their interpreter's objects and back; JSON is only the
//! format of the CLI's inputs and outputs (see [`Value::from_json`] and the `Serialize` impl).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use indexmap::IndexMap;
use num_bigint::BigInt;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

pub use crate::buffer::Buffer;

/// The deepest lists and maps may nest in a value crossing into or out of an interpreter, or to a
/// remote node: deeper is refused rather than risking the stack (a Python list containing itself
/// would otherwise recurse forever). One limit for every engine and for the wire, so a value that
/// passes one passes all: the remote protocol's decoder allows 100 nested messages, and a map
/// level takes three of them (value, map, entry), so 32 levels fit with room to spare. Counted
/// as the engines count, from 0 for the outermost value (see [`too_deep`]).
pub const MAX_DEPTH: usize = 32;

/// Whether `value` nests lists and maps deeper than [`MAX_DEPTH`]: some value inside it lies at
/// a depth over `MAX_DEPTH`, the outermost value being at depth 0. Recurses at most
/// `MAX_DEPTH + 1` levels.
pub fn too_deep(value: &Value) -> bool {
    fn at(value: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        match value {
            Value::List(items) => items.iter().any(|item| at(item, depth + 1)),
            Value::Map(map) => map.values().any(|item| at(item, depth + 1)),
            _ => false,
        }
    }
    at(value, 0)
}

/// The key that marks a JSON object as bytes: `{"$bytes": "<base64>"}`.
pub const BYTES_KEY: &str = "$bytes";

/// One item in a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64` (Python ints are unbounded).
    BigInt(Arc<BigInt>),
    Float(f64),
    Str(Arc<str>),
    Bytes(Arc<[u8]>),
    List(Vec<Value>),
    /// String-keyed, insertion-ordered (as Python dicts are).
    Map(IndexMap<String, Value>),
    /// A typed numeric buffer, e.g. audio samples; shared, so fan-out does not copy it.
    Array(Array),
}

/// A typed numeric buffer (Python's `array.array`, numpy arrays).
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    I16(Buffer<i16>),
    I32(Buffer<i32>),
    I64(Buffer<i64>),
    F32(Buffer<f32>),
    F64(Buffer<f64>),
}

impl Array {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Array::I16(a) => a.len(),
            Array::I32(a) => a.len(),
            Array::I64(a) => a.len(),
            Array::F32(a) => a.len(),
            Array::F64(a) => a.len(),
        }
    }

    /// True when the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Python `array` typecode of the element type.
    pub fn typecode(&self) -> char {
        match self {
            Array::I16(_) => 'h',
            Array::I32(_) => 'i',
            Array::I64(_) => 'q',
            Array::F32(_) => 'f',
            Array::F64(_) => 'd',
        }
    }
}

impl Value {
    /// Converts a JSON value (a CLI input) into a stream value. `{"$bytes": "<base64>"}` becomes bytes.
    pub fn from_json(json: serde_json::Value) -> Result<Value, ValueError> {
        Ok(match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => number(&n)?,
            serde_json::Value::String(s) => Value::Str(s.into()),
            serde_json::Value::Array(items) => Value::List(
                items
                    .into_iter()
                    .map(Value::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => {
                if map.len() == 1
                    && let Some(serde_json::Value::String(encoded)) = map.get(BYTES_KEY)
                {
                    let bytes = BASE64
                        .decode(encoded)
                        .map_err(|e| ValueError::InvalidBase64(e.to_string()))?;
                    return Ok(Value::Bytes(bytes.into()));
                }
                Value::Map(
                    map.into_iter()
                        .map(|(k, v)| Ok((k, Value::from_json(v)?)))
                        .collect::<Result<_, ValueError>>()?,
                )
            }
        })
    }

    /// The JSON form of this value (the same as its `Serialize` output).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a Value always serializes to JSON")
    }

    /// A short name of the variant, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Array(_) => "array",
        }
    }
}

/// The most decimal digits an integer input may have: the limit of Python's `int()` on text
/// (`sys.get_int_max_str_digits()`), for the same reason — converting decimal text to a big integer
/// takes time quadratic in its length.
pub const MAX_INT_DIGITS: usize = 4300;

/// A JSON number as a value, exactly: integers of any size (up to [`MAX_INT_DIGITS`]) stay integers,
/// other numbers are floats, and one too large for a float is an error rather than infinity.
/// The workspace builds serde_json with `arbitrary_precision`, so the number's text is intact.
fn number(n: &serde_json::Number) -> Result<Value, ValueError> {
    if let Some(i) = n.as_i64() {
        return Ok(Value::Int(i));
    }
    let text = n.as_str();
    if !text.contains(['.', 'e', 'E']) {
        let digits = text.trim_start_matches('-').len();
        if digits > MAX_INT_DIGITS {
            return Err(ValueError::IntTooLong { digits });
        }
        let big: BigInt = text
            .parse()
            .map_err(|_| ValueError::FloatOutOfRange(excerpt(text, 40)))?;
        return Ok(Value::BigInt(Arc::new(big)));
    }
    n.as_f64()
        .map(Value::Float)
        .ok_or_else(|| ValueError::FloatOutOfRange(excerpt(text, 40)))
}

/// Checks that `value` can be written as JSON exactly: JSON has no NaN or infinity, which
/// serializers would otherwise write as `null`, silently. The error says what and where, as a
/// path: "holds NaN at `$.samples[3]`, which JSON cannot carry".
pub fn check_json(value: &Value) -> Result<(), String> {
    fn walk(value: &Value, path: &mut Vec<String>) -> Result<(), String> {
        let non_finite = |what: String, path: &[String]| {
            Err(format!(
                "holds {what} at `${}`, which JSON cannot carry",
                path.concat()
            ))
        };
        match value {
            Value::Float(f) if !f.is_finite() => non_finite(float_name(*f), path),
            Value::Array(Array::F32(items)) => match items.iter().position(|f| !f.is_finite()) {
                Some(at) => non_finite(
                    float_name(f64::from(items[at])),
                    &[path.concat(), format!("[{at}]")],
                ),
                None => Ok(()),
            },
            Value::Array(Array::F64(items)) => match items.iter().position(|f| !f.is_finite()) {
                Some(at) => non_finite(float_name(items[at]), &[path.concat(), format!("[{at}]")]),
                None => Ok(()),
            },
            Value::List(items) => items.iter().enumerate().try_for_each(|(at, item)| {
                path.push(format!("[{at}]"));
                walk(item, path)?;
                path.pop();
                Ok(())
            }),
            Value::Map(map) => map.iter().try_for_each(|(key, item)| {
                path.push(format!(".{key}"));
                walk(item, path)?;
                path.pop();
                Ok(())
            }),
            _ => Ok(()),
        }
    }
    walk(value, &mut Vec::new())
}

fn float_name(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f > 0.0 {
        "Infinity".to_owned()
    } else {
        "-Infinity".to_owned()
    }
}

/// At most `max` characters of `text`, its start and its end, with the number of characters left
/// out between them: how error messages show a value that may be megabytes long.
pub fn excerpt(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let half = max / 2;
    let head: String = text.chars().take(half).collect();
    let tail: String = text.chars().skip(count - half).collect();
    format!("{head}… ({} characters left out) …{tail}", count - 2 * half)
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.into())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Parses one JSON text (a `--input`, or a line of `--input-file`) into a value; the error says
/// where, by column (an input is one line). The CLI's input decoding, and a fuzz target's.
pub fn parse_json_line(text: &str) -> Result<Value, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|err| {
        // One value per line: the column is the useful part of serde's "at line 1 column N".
        let message = err.to_string();
        let position = format!(" at line {} column {}", err.line(), err.column());
        let reason = message.strip_suffix(&position).unwrap_or(&message);
        format!("invalid JSON at column {}: {reason}", err.column())
    })?;
    let value = Value::from_json(json).map_err(|err| err.to_string())?;
    if too_deep(&value) {
        return Err(format!(
            "arrays and objects nest more than {MAX_DEPTH} levels deep (the limit of every engine \
             and of remote nodes)"
        ));
    }
    Ok(value)
}

/// A value that cannot be made from its input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ValueError {
    #[error("invalid base64 in a `$bytes` object: {0}")]
    InvalidBase64(String),
    /// A number beyond a float's range (`1e400`), which would otherwise become infinity.
    #[error("the number {0} is too large for a float")]
    FloatOutOfRange(String),
    /// An integer with more digits than [`MAX_INT_DIGITS`].
    #[error("an integer of {digits} digits (at most {MAX_INT_DIGITS})")]
    IntTooLong { digits: usize },
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::BigInt(big) => {
                // Written as a bare JSON number of any length, as Python's json module does.
                let raw = serde_json::value::RawValue::from_string(big.to_string())
                    .map_err(serde::ser::Error::custom)?;
                raw.serialize(serializer)
            }
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::Str(s) => serializer.serialize_str(s),
            Value::Bytes(bytes) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(BYTES_KEY, &BASE64.encode(bytes))?;
                map.end()
            }
            Value::List(items) => items.serialize(serializer),
            Value::Map(map) => map.serialize(serializer),
            Value::Array(array) => match array {
                Array::I16(a) => serialize_slice(a, serializer),
                Array::I32(a) => serialize_slice(a, serializer),
                Array::I64(a) => serialize_slice(a, serializer),
                Array::F32(a) => serialize_slice(a, serializer),
                Array::F64(a) => serialize_slice(a, serializer),
            },
        }
    }
}

fn serialize_slice<T: Serialize, S: Serializer>(
    items: &[T],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(items.len()))?;
    for item in items {
        seq.serialize_element(item)?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_keeps_every_kind() {
        let input = json!({"n": null, "b": true, "i": -3, "f": 1.5, "s": "hé", "l": [1, [2]], "bytes": {"$bytes": "AAEC"}});
        let value = Value::from_json(input.clone()).unwrap();
        let Value::Map(map) = &value else {
            panic!("expected a map")
        };
        assert_eq!(map["bytes"], Value::Bytes(vec![0u8, 1, 2].into()));
        assert_eq!(value.to_json(), input);
    }

    #[test]
    fn big_ints_are_written_exactly() {
        let big: BigInt = "123456789012345678901234567890".parse().unwrap();
        let text = serde_json::to_string(&Value::List(vec![Value::BigInt(Arc::new(big))])).unwrap();
        assert_eq!(text, "[123456789012345678901234567890]");
    }

    #[test]
    fn arrays_are_written_as_lists() {
        let value = Value::Array(Array::F32(vec![0.5f32, -1.0].into()));
        assert_eq!(value.to_json(), json!([0.5, -1.0]));
    }

    #[test]
    fn integers_of_any_size_parse_exactly() {
        let big = "18446744073709551617";
        assert_eq!(
            parse_json_line(big).unwrap(),
            Value::BigInt(Arc::new(big.parse().unwrap()))
        );
        let huge = format!("-1{}", "0".repeat(400));
        assert_eq!(
            serde_json::to_string(&parse_json_line(&huge).unwrap()).unwrap(),
            huge
        );
        assert_eq!(parse_json_line("1.5").unwrap(), Value::Float(1.5));
        assert_eq!(
            parse_json_line("1e400").unwrap_err(),
            "the number 1e+400 is too large for a float"
        );
        assert_eq!(
            parse_json_line(&"9".repeat(MAX_INT_DIGITS + 1)).unwrap_err(),
            format!(
                "an integer of {} digits (at most {MAX_INT_DIGITS})",
                MAX_INT_DIGITS + 1
            )
        );
    }

    #[test]
    fn json_check_names_the_non_finite_float_and_where_it_is() {
        let mut frame = IndexMap::new();
        frame.insert(
            "samples".to_owned(),
            Value::Array(Array::F32(vec![0.0, f32::NEG_INFINITY].into())),
        );
        let value = Value::List(vec![Value::Float(1.0), Value::Map(frame)]);
        assert_eq!(
            check_json(&value).unwrap_err(),
            "holds -Infinity at `$[1].samples[1]`, which JSON cannot carry"
        );
        assert_eq!(
            check_json(&Value::Float(f64::NAN)).unwrap_err(),
            "holds NaN at `$`, which JSON cannot carry"
        );
        assert_eq!(check_json(&Value::Float(f64::MAX)), Ok(()));
    }

    #[test]
    fn excerpts_keep_both_ends() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(
            excerpt(&"ab".repeat(10), 6),
            "aba… (14 characters left out) …bab"
        );
    }

    #[test]
    fn bad_base64_is_an_error() {
        assert!(matches!(
            Value::from_json(json!({"$bytes": "***"})),
            Err(ValueError::InvalidBase64(_))
        ));
    }
}
