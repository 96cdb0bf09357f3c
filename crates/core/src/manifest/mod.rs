//! Pipeline manifests: the data model, parsing and validation.
//!
//! A manifest is accepted in three steps, and every problem found is reported at once, each with
//! the JSON pointer of where it is:
//!
//! 1. the JSON is parsed (malformed text is one error, with its line and column);
//! 2. it is checked against the v1 JSON Schema ([`SCHEMA_V1`], `schemas/manifest.v1.json`);
//! 3. if its structure is sound, the rules a schema cannot express are checked: unique node ids,
//!    connections between existing nodes, no self-loop, no cycle, host ports in 1–65535; a node in
//!    the upstream SDK's remote form (`"node_type": "RemoteExecutionNode"`, the node to run in its
//!    params) is rewritten to the node itself with its `host`, or reported if it cannot be.
//!
//! ```
//! use remotemedia_core::manifest::Manifest;
//!
//! let manifest = Manifest::from_json_str(r#"{
//!     "version": "v1",
//!     "metadata": {"name": "example"},
//!     "nodes": [
//!         {"id": "input_0", "node_type": "DataSourceNode"},
//!         {"id": "calc_1", "node_type": "CalculatorNode", "params": {"operation": "add", "operand": 5}}
//!     ],
//!     "connections": [{"from": "input_0", "to": "calc_1"}]
//! }"#)?;
//! assert_eq!(manifest.nodes[1].params["operand"], 5);
//!
//! let errors = Manifest::from_json_str(r#"{"version": "v1", "metadata": {"name": "x"},
//!     "nodes": [{"id": "a", "node_typ": "PassThroughNode"}]}"#).unwrap_err();
//! assert_eq!(errors.errors()[0].pointer, "/nodes/0");
//! assert_eq!(errors.errors()[0].message, "missing required field 'node_type'");
//! assert_eq!(errors.errors()[1].pointer, "/nodes/0/node_typ");
//! # Ok::<(), remotemedia_core::manifest::ManifestErrors>(())
//! ```

mod error;
mod nesting;
mod schema;
mod semantic;
mod types;
mod upstream;
mod valid;

use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

pub use error::{ManifestError, ManifestErrors};
pub use nesting::MAX_NESTING_DEPTH;
pub use schema::SCHEMA_V1;
pub use types::*;
pub use upstream::UPSTREAM_REMOTE_NODE;
pub use valid::ValidManifest;

/// The largest manifest read from a file or stream, so that a device or an endless pipe given by
/// mistake ends with an error instead of exhausting memory. Real manifests are kilobytes.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

impl Manifest {
    /// Parses and validates a manifest from JSON text.
    pub fn from_json_str(json: &str) -> Result<ValidManifest, ManifestErrors> {
        Self::from_json_slice(json.as_bytes())
    }

    /// Parses and validates a manifest from JSON bytes (UTF-8).
    pub fn from_json_slice(json: &[u8]) -> Result<ValidManifest, ManifestErrors> {
        let value = parse(json).map_err(ManifestErrors::single)?;
        Self::from_value(value)
    }

    /// Reads, parses and validates the manifest file at `path`.
    ///
    /// A file that cannot be read is reported as one error naming the path.
    pub fn from_path(path: impl AsRef<Path>) -> Result<ValidManifest, ManifestErrors> {
        let path = path.as_ref();
        let unreadable = |reason: String| {
            ManifestErrors::single(ManifestError::at_root(format!(
                "cannot read '{}': {reason}",
                path.display()
            )))
        };
        let file = std::fs::File::open(path).map_err(|err| unreadable(err.to_string()))?;
        let bytes = read_limited(file, MAX_MANIFEST_BYTES).map_err(unreadable)?;
        Self::from_json_slice(&bytes)
    }

    /// Reads a manifest from `reader` (standard input, a socket ...) to its end, then parses and
    /// validates it. Reading stops with an error past [`MAX_MANIFEST_BYTES`].
    pub fn from_reader(reader: impl Read) -> Result<ValidManifest, ManifestErrors> {
        let bytes = read_limited(reader, MAX_MANIFEST_BYTES).map_err(|reason| {
            ManifestErrors::single(ManifestError::at_root(format!(
                "cannot read the manifest: {reason}"
            )))
        })?;
        Self::from_json_slice(&bytes)
    }

    /// Validates an already parsed JSON document and converts it into a manifest.
    pub fn from_value(value: Value) -> Result<ValidManifest, ManifestErrors> {
        let checked = check(&value);
        if checked.is_err() && nesting::too_deep(&value).is_some() {
            nesting::drop_iteratively(value);
        }
        checked.map_err(|errors| {
            ManifestErrors::from_vec(errors).expect("check() fails only with errors")
        })
    }

    /// Checks a manifest built in code by the same rules as one read from JSON.
    pub fn validate(&self) -> Result<ValidManifest, ManifestErrors> {
        let value = serde_json::to_value(self).map_err(|err| {
            ManifestErrors::single(ManifestError::at_root(format!(
                "the manifest cannot be written as JSON: {err}"
            )))
        })?;
        Self::from_value(value)
    }
}

/// Every problem in `value`, a parsed manifest document; empty when it is valid.
///
/// Use this to report on a document without keeping it; [`Manifest::from_value`] applies the
/// same checks and returns the typed manifest.
pub fn validate_value(value: &Value) -> Vec<ManifestError> {
    check(value).err().unwrap_or_default()
}

/// Schema first; the semantic rules only on a document whose structure is sound.
fn check(value: &Value) -> Result<ValidManifest, Vec<ManifestError>> {
    // Everything below recurses into the document: refuse what could exhaust the stack.
    if let Some(pointer) = nesting::too_deep(value) {
        return Err(vec![ManifestError::new(
            pointer,
            format!("nested more than {MAX_NESTING_DEPTH} arrays and objects deep"),
        )]);
    }
    let schema_errors = schema::schema_errors(value);
    if !schema_errors.is_empty() {
        return Err(schema_errors);
    }
    let mut manifest =
        Manifest::deserialize(value).map_err(|err| vec![type_mismatch(value, err)])?;
    let rewritten = upstream::normalise(&mut manifest);
    match (rewritten, semantic::resolve_edges(&manifest)) {
        (Ok(()), Ok(edges)) => Ok(ValidManifest::new(manifest, edges)),
        (rewritten, edges) => Err(rewritten
            .err()
            .into_iter()
            .flatten()
            .chain(edges.err().into_iter().flatten())
            .collect()),
    }
}

/// The schema and the serde types describe the same format; where they disagree (a number too
/// large for its field), say so at the node concerned rather than panic.
fn type_mismatch(value: &Value, err: serde_json::Error) -> ManifestError {
    let nodes = value.get("nodes").and_then(Value::as_array);
    let failing_node = nodes
        .into_iter()
        .flatten()
        .enumerate()
        .find_map(|(index, node)| {
            NodeManifest::deserialize(node)
                .err()
                .map(|node_err| (index, node_err))
        });
    match failing_node {
        Some((index, node_err)) => {
            ManifestError::new(format!("/nodes/{index}"), node_err.to_string())
        }
        None => ManifestError::at_root(err.to_string()),
    }
}

/// Parses JSON text, explaining failures with their line and column. A UTF-8 byte order mark,
/// which some Windows editors write, is skipped.
fn parse(json: &[u8]) -> Result<Value, ManifestError> {
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    serde_json::from_slice(json).map_err(|err| {
        let message = if json.iter().all(u8::is_ascii_whitespace) {
            "the manifest is empty; expected a JSON object".to_owned()
        } else if err.to_string().starts_with("recursion limit exceeded") {
            format!(
                "malformed JSON: nested more than {MAX_NESTING_DEPTH} arrays and objects deep \
                 at line {} column {}",
                err.line(),
                err.column()
            )
        } else {
            format!("malformed JSON: {err}")
        };
        ManifestError::at_root(message)
    })
}

/// Reads `reader` to its end, refusing more than `limit` bytes.
fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| err.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "larger than the {} a manifest may have",
            byte_size(limit)
        ));
    }
    Ok(bytes)
}

fn byte_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Issue 2's seed manifest, verbatim.
    const SEED: &str = include_str!("../../../../tests/manifests/valid/seed.json");

    fn pointers(errors: &ManifestErrors) -> Vec<&str> {
        errors.errors().iter().map(|e| e.pointer.as_str()).collect()
    }

    #[test]
    fn the_seed_manifest_is_valid_and_typed() {
        let manifest = Manifest::from_json_str(SEED).expect("the seed validates");
        let node = &manifest.nodes[0];
        assert_eq!(node.host.as_deref(), Some("remote-server:50051"));
        let gpu = node
            .capabilities
            .as_ref()
            .and_then(|c| c.gpu.as_ref())
            .expect("gpu");
        assert_eq!((gpu.kind, gpu.required), (GpuKind::Cuda, false));
        assert_eq!(validate_value(&serde_json::from_str(SEED).unwrap()), vec![]);
        manifest
            .validate()
            .expect("a valid manifest stays valid after a round trip");
    }

    #[test]
    fn malformed_json_is_one_error_with_line_and_column() {
        let errors =
            Manifest::from_json_str("{\n  \"version\": \"v1\",\n  \"nodes\": [").unwrap_err();
        assert_eq!(pointers(&errors), [""]);
        assert_eq!(
            errors.errors()[0].message,
            "malformed JSON: EOF while parsing a list at line 3 column 12"
        );
        let empty = Manifest::from_json_str(" \n").unwrap_err();
        assert_eq!(
            empty.errors()[0].message,
            "the manifest is empty; expected a JSON object"
        );
    }

    #[test]
    fn a_non_object_root_says_what_it_is() {
        for (text, found) in [
            ("[]", "an array"),
            ("42", "the number 42"),
            ("null", "null"),
        ] {
            let errors = Manifest::from_json_str(text).unwrap_err();
            assert_eq!(
                errors.errors(),
                [ManifestError::at_root(format!(
                    "expected an object, got {found}"
                ))]
            );
        }
    }

    #[test]
    fn semantic_rules_wait_for_a_sound_structure() {
        // A duplicate id alone is reported...
        let duplicate = json!({"version": "v1", "metadata": {"name": "x"},
            "nodes": [{"id": "a", "node_type": "T"}, {"id": "a", "node_type": "T"}]});
        assert_eq!(
            pointers(&Manifest::from_value(duplicate.clone()).unwrap_err()),
            ["/nodes/1/id"]
        );
        // ...but not beside a schema error, since the rules assume the structure they check.
        let mut both = duplicate;
        both["nodes"][0]["colour"] = json!("red");
        assert_eq!(
            pointers(&Manifest::from_value(both).unwrap_err()),
            ["/nodes/0/colour"]
        );
    }

    #[test]
    fn deep_params_built_in_code_are_refused_without_overflowing() {
        let mut deep = json!({"version": "v1", "metadata": {"name": "x"},
            "nodes": [{"id": "a", "node_type": "T", "params": {}}]});
        deep["nodes"][0]["params"]["p"] = nesting::nested_arrays(100_000);
        let errors = validate_value(&deep);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].pointer.starts_with("/nodes/0/params/p/0/0/0"));
        assert_eq!(
            errors[0].message,
            "nested more than 127 arrays and objects deep"
        );
        // from_value owns the value and must also drop it without recursion.
        assert_eq!(Manifest::from_value(deep).unwrap_err().len(), 1);
    }

    #[test]
    fn values_the_schema_allows_but_the_types_cannot_hold_are_errors_not_panics() {
        let with_cores = |cores: Value| {
            json!({"version": "v1", "metadata": {"name": "x"},
                "nodes": [{"id": "a", "node_type": "T"},
                          {"id": "b", "node_type": "T", "capabilities": {"cpu": {"cores": cores}}}]})
        };
        // JSON Schema counts 2.0 as an integer; so does the runtime.
        let manifest = Manifest::from_value(with_cores(json!(2.0))).expect("2.0 cores");
        let cpu = manifest.nodes[1]
            .capabilities
            .as_ref()
            .and_then(|c| c.cpu.as_ref());
        assert_eq!(cpu.and_then(|cpu| cpu.cores), Some(2));
        let errors = Manifest::from_value(with_cores(json!(5_000_000_000_u64))).unwrap_err();
        assert_eq!(
            errors.errors(),
            [ManifestError::new(
                "/nodes/1",
                "cores must be a whole number up to 4294967295, got 5000000000"
            )]
        );
    }

    #[test]
    fn deep_json_text_is_a_parse_error() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let errors = Manifest::from_json_str(&text).unwrap_err();
        assert_eq!(
            errors.errors()[0].message,
            "malformed JSON: nested more than 127 arrays and objects deep at line 1 column 128"
        );
    }

    #[test]
    fn an_unreadable_file_names_its_path() {
        let errors = Manifest::from_path("/nonexistent/dir/m.json").unwrap_err();
        assert_eq!(pointers(&errors), [""]);
        assert!(
            errors.errors()[0]
                .message
                .starts_with("cannot read '/nonexistent/dir/m.json': "),
            "{errors}"
        );
    }

    #[test]
    fn reading_stops_past_the_size_limit() {
        let endless = std::io::repeat(b' ');
        assert_eq!(
            read_limited(endless, 1000),
            Err("larger than the 1000 bytes a manifest may have".to_owned())
        );
        assert_eq!(byte_size(MAX_MANIFEST_BYTES), "256 MiB");
        assert_eq!(read_limited(&b"{}"[..], 2), Ok(b"{}".to_vec()));
    }
}
