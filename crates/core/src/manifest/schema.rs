//! The manifest v1 JSON Schema: embedded from `schemas/manifest.v1.json`, compiled once, and its
//! errors turned into messages that say what to fix without echoing large values.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError, Validator};
use serde_json::Value;

use super::error::{ManifestError, join_pointer};

/// The manifest v1 JSON Schema (draft-07) as text: the single source of the contract, shared
/// with the Python SDK.
pub const SCHEMA_V1: &str = include_str!("../../../../schemas/manifest.v1.json");

struct CompiledSchema {
    document: Value,
    validator: Validator,
}

fn compiled() -> &'static CompiledSchema {
    static SCHEMA: OnceLock<CompiledSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The schema ships inside the binary and a unit test compiles it: failing here is a
        // build defect, not bad input.
        let document: Value =
            serde_json::from_str(SCHEMA_V1).expect("the embedded manifest schema is JSON");
        let validator = jsonschema::draft7::new(&document)
            .expect("the embedded manifest schema is a valid draft-07 schema");
        CompiledSchema {
            document,
            validator,
        }
    })
}

/// Every schema violation in `instance`, in document order.
pub(crate) fn schema_errors(instance: &Value) -> Vec<ManifestError> {
    let schema = compiled();
    let mut errors = Vec::new();
    for error in schema.validator.iter_errors(instance) {
        describe(&error, &schema.document, &mut errors);
    }
    // Stable: errors at one place keep the schema's order.
    errors.sort_by_cached_key(|error| document_order(&error.pointer));
    errors
}

/// Orders pointers as the document reads: parents first, array items by index.
fn document_order(pointer: &str) -> Vec<(u8, usize, String)> {
    pointer
        .split('/')
        .skip(1)
        .map(|segment| match segment.parse::<usize>() {
            Ok(index) => (0, index, String::new()),
            Err(_) => (1, 0, segment.to_owned()),
        })
        .collect()
}

/// Friendlier words for patterns, by the field they constrain.
const PATTERN_HINTS: &[(&str, &str)] = &[
    (
        "id",
        "a node id may only contain letters, digits, '_', '.' and '-'",
    ),
    (
        "host",
        "host must be 'host:port' (an IPv6 address in brackets)",
    ),
    (
        "created_at",
        "created_at must be an RFC 3339 timestamp ending in Z or +HH:MM, e.g. 2025-10-22T12:00:00Z",
    ),
    ("module", "module must be a dotted Python module path"),
];

fn describe(error: &ValidationError<'_>, schema: &Value, out: &mut Vec<ManifestError>) {
    let pointer = error.instance_path().as_str();
    let instance = error.instance();
    let message = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_fields(schema, error.schema_path().as_str());
            for field in unexpected {
                out.push(ManifestError::new(
                    join_pointer(pointer, field),
                    format!("unknown field '{field}'{}", did_you_mean(field, &known)),
                ));
            }
            return;
        }
        ValidationErrorKind::Required { property } => match property.as_str() {
            Some(name) => format!("missing required field '{name}'"),
            None => format!("missing required field {property}"),
        },
        ValidationErrorKind::Type { kind } => {
            let declared = schema.pointer(error.schema_path().as_str());
            format!(
                "expected {}, got {}",
                expected_types(declared, kind),
                summary(instance)
            )
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("must be {expected_value}, got {}", summary(instance))
        }
        ValidationErrorKind::Enum { options } => {
            let choices = match options.as_array() {
                Some(choices) => choices
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => options.to_string(),
            };
            format!("must be one of {choices}, got {}", summary(instance))
        }
        ValidationErrorKind::MinItems { limit: 1 }
        | ValidationErrorKind::MinLength { limit: 1 } => "must not be empty".to_owned(),
        ValidationErrorKind::MinItems { limit } => {
            format!("must have at least {limit} items")
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("must be at least {limit} characters long")
        }
        ValidationErrorKind::MaxLength { limit } => format!(
            "must be at most {limit} characters long, got {}",
            instance.as_str().map_or(0, |text| text.chars().count())
        ),
        ValidationErrorKind::Minimum { limit } => {
            format!("must be at least {limit}, got {}", summary(instance))
        }
        ValidationErrorKind::Pattern { pattern } => {
            let field = pointer.rsplit('/').next().unwrap_or_default();
            match PATTERN_HINTS.iter().find(|(name, _)| *name == field) {
                Some((_, hint)) => format!("{hint}, got {}", summary(instance)),
                None => format!(
                    "must match the pattern {pattern}, got {}",
                    summary(instance)
                ),
            }
        }
        // Keywords the v1 schema does not use today: the crate's own words, kept short.
        _ => truncate(&error.to_string(), 300),
    };
    out.push(ManifestError::new(pointer, message));
}

/// The property names declared beside the `additionalProperties` keyword at `keyword_path`.
fn known_fields(schema: &Value, keyword_path: &str) -> Vec<String> {
    let object_schema = keyword_path
        .strip_suffix("/additionalProperties")
        .unwrap_or(keyword_path);
    schema
        .pointer(&format!("{object_schema}/properties"))
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

fn did_you_mean(field: &str, known: &[String]) -> String {
    known
        .iter()
        .map(|name| (strsim::normalized_damerau_levenshtein(field, name), name))
        .filter(|(similarity, _)| *similarity >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| format!(" (did you mean '{name}'?)"))
        .unwrap_or_default()
}

/// The accepted types, in the order the schema lists them (`declared`, the `type` keyword's value)
/// when it can be read, else as the validator reports them.
fn expected_types(declared: Option<&Value>, kind: &TypeKind) -> String {
    if let Some(names) = declared.and_then(Value::as_array) {
        let names: Option<Vec<&str>> = names
            .iter()
            .map(|name| name.as_str()?.parse::<JsonType>().ok().map(type_name))
            .collect();
        if let Some(names) = names {
            return names.join(" or ");
        }
    }
    match kind {
        TypeKind::Single(single) => type_name(*single).to_owned(),
        TypeKind::Multiple(set) => set.iter().map(type_name).collect::<Vec<_>>().join(" or "),
    }
}

fn type_name(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Array => "an array",
        JsonType::Boolean => "true or false",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

/// What a value is, short enough for a one-line message: containers by kind, scalars as written.
pub(crate) fn summary(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(_) => format!("the string {}", truncate(&value.to_string(), 80)),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars.saturating_sub(3)) {
        Some((cut, _)) if text.chars().count() > max_chars => format!("{}...", &text[..cut]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn seed() -> Value {
        json!({
            "version": "v1",
            "metadata": {"name": "pipeline-name"},
            "nodes": [{"id": "node_0", "node_type": "NodeClassName"}]
        })
    }

    #[test]
    fn the_embedded_schema_compiles_and_accepts_a_minimal_manifest() {
        assert_eq!(schema_errors(&seed()), vec![]);
    }

    #[test]
    fn an_unknown_field_is_reported_where_it_is_with_a_suggestion() {
        let mut manifest = seed();
        manifest["nodes"][0]["node_typ"] = json!("X");
        manifest["extra"] = json!(1);
        assert_eq!(
            schema_errors(&manifest),
            vec![
                ManifestError::new("/extra", "unknown field 'extra'"),
                ManifestError::new(
                    "/nodes/0/node_typ",
                    "unknown field 'node_typ' (did you mean 'node_type'?)"
                ),
            ]
        );
    }

    #[test]
    fn a_wrong_type_says_what_was_expected_and_what_was_found() {
        let mut manifest = seed();
        manifest["nodes"][0]["params"] = json!([1, 2]);
        manifest["nodes"][0]["capabilities"] = json!({"memory_gb": "8", "gpu": {"type": "tpu"}});
        manifest["metadata"]["description"] = json!(3);
        let errors = schema_errors(&manifest);
        let by_pointer = |pointer: &str| {
            errors
                .iter()
                .find(|e| e.pointer == pointer)
                .map(|e| e.message.as_str())
                .unwrap_or_else(|| panic!("no error at {pointer} in {errors:?}"))
        };
        assert_eq!(
            by_pointer("/nodes/0/params"),
            "expected an object, got an array"
        );
        assert_eq!(
            by_pointer("/nodes/0/capabilities/memory_gb"),
            "expected a number, got the string \"8\""
        );
        assert_eq!(
            by_pointer("/nodes/0/capabilities/gpu/type"),
            "must be one of \"cuda\", \"rocm\", \"metal\", \"vulkan\", \"any\", got the string \"tpu\""
        );
        assert_eq!(
            by_pointer("/metadata/description"),
            "expected a string or null, got the number 3"
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn missing_fields_version_and_empty_nodes() {
        let manifest = json!({"version": "v2", "metadata": {"name": ""}, "nodes": []});
        let mut errors = schema_errors(&manifest);
        errors.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        assert_eq!(
            errors,
            vec![
                ManifestError::new("/metadata/name", "must not be empty"),
                ManifestError::new("/nodes", "must not be empty"),
                ManifestError::new("/version", "must be \"v1\", got the string \"v2\""),
            ]
        );
        assert_eq!(
            schema_errors(&json!({"version": "v1"})),
            vec![
                ManifestError::at_root("missing required field 'metadata'"),
                ManifestError::at_root("missing required field 'nodes'"),
            ]
        );
    }

    #[test]
    fn a_host_without_port_gets_the_friendly_pattern_message() {
        let mut manifest = seed();
        manifest["nodes"][0]["host"] = json!("remote-server");
        assert_eq!(
            schema_errors(&manifest),
            vec![ManifestError::new(
                "/nodes/0/host",
                "host must be 'host:port' (an IPv6 address in brackets), got the string \"remote-server\""
            )]
        );
    }

    #[test]
    fn long_strings_are_truncated_in_messages() {
        let long = "x".repeat(10_000);
        let message = summary(&Value::String(long));
        assert!(message.len() < 100, "{message}");
        assert!(message.ends_with("..."));
        assert_eq!(truncate("short", 80), "short");
    }
}
