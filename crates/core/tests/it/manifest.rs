//! Manifest validation through the public API, on the shared corpus in `tests/manifests/` and on
//! generated extreme inputs (very deep, very large).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use remotemedia_core::manifest::{Manifest, ManifestErrors, validate_value};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn sorted_pointers(errors: &ManifestErrors) -> Vec<String> {
    let mut pointers: Vec<String> = errors.errors().iter().map(|e| e.pointer.clone()).collect();
    pointers.sort();
    pointers
}

#[test]
fn valid_corpus_and_example_manifests_validate() {
    let root = repo_root();
    let mut files = json_files(&root.join("tests/manifests/valid"));
    files.extend(json_files(&root.join("examples/manifests")));
    assert!(files.len() >= 4, "corpus not found: {files:?}");
    for file in files {
        if let Err(errors) = Manifest::from_path(&file) {
            panic!("{} should be valid:\n{errors}", file.display());
        }
    }
}

#[test]
fn each_invalid_corpus_file_fails_at_exactly_its_expected_pointers() {
    let corpus = repo_root().join("tests/manifests");
    let dir = corpus.join("invalid");
    let expected_text = std::fs::read_to_string(corpus.join("invalid_expected_pointers.json"))
        .expect("invalid_expected_pointers.json");
    let expected: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&expected_text).expect("a map of file name -> pointers");
    let on_disk: Vec<String> = json_files(&dir)
        .iter()
        .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
        .collect();
    assert_eq!(
        on_disk,
        expected.keys().cloned().collect::<Vec<_>>(),
        "every corpus file has expectations, and only those"
    );
    for (name, pointers) in expected {
        let errors = match Manifest::from_path(dir.join(&name)) {
            Ok(_) => panic!("{name} was accepted"),
            Err(errors) => errors,
        };
        let mut pointers = pointers;
        pointers.sort();
        assert_eq!(sorted_pointers(&errors), pointers, "{name}:\n{errors}");
        assert!(
            errors
                .errors()
                .iter()
                .all(|e| !e.message.is_empty() && e.message.len() < 400),
            "{name}: messages must be present and short:\n{errors}"
        );
    }
}

#[test]
fn messages_say_what_and_where_for_representative_files() {
    let dir = repo_root().join("tests/manifests/invalid");
    let messages = |name: &str| -> Vec<String> {
        Manifest::from_path(dir.join(name))
            .expect_err(name)
            .errors()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        messages("two_cycles.json"),
        [
            "/connections/0: cycle: a -> b -> a",
            "/connections/2: cycle: x -> y -> z -> x"
        ]
    );
    assert_eq!(
        messages("unknown_node_field.json"),
        [
            "/nodes/0: missing required field 'node_type'",
            "/nodes/0/node_typ: unknown field 'node_typ' (did you mean 'node_type'?)"
        ]
    );
    assert_eq!(
        messages("host_port_too_large.json"),
        ["/nodes/1/host: port 70000 is outside 1-65535"]
    );
    let truncated = messages("malformed_truncated.json");
    assert_eq!(truncated.len(), 1);
    assert!(
        truncated[0].starts_with("(root): malformed JSON: EOF while parsing a string at line 5"),
        "{truncated:?}"
    );
}

#[test]
fn all_entry_points_agree() {
    let path = repo_root().join("tests/manifests/invalid/many_graph_errors.json");
    let text = std::fs::read_to_string(&path).expect("corpus file");
    let value: Value = serde_json::from_str(&text).expect("well-formed JSON");
    let from_path = Manifest::from_path(&path).expect_err("invalid").into_vec();
    assert_eq!(
        Manifest::from_json_str(&text)
            .expect_err("invalid")
            .into_vec(),
        from_path
    );
    assert_eq!(
        Manifest::from_reader(text.as_bytes())
            .expect_err("invalid")
            .into_vec(),
        from_path
    );
    assert_eq!(validate_value(&value), from_path);
    assert_eq!(
        Manifest::from_value(value).expect_err("invalid").into_vec(),
        from_path
    );
}

#[test]
fn a_manifest_built_in_code_is_checked_by_the_same_rules() {
    let mut manifest = Manifest::from_path(repo_root().join("tests/manifests/valid/seed.json"))
        .expect("the seed is valid")
        .into_inner();
    let valid = manifest.validate().expect("still valid");
    assert_eq!(valid.edges(), &[] as &[(usize, usize)]);
    manifest.nodes.push(manifest.nodes[0].clone());
    manifest.nodes[0].host = Some("remote-server:99999".to_owned());
    let errors = manifest.validate().expect_err("now invalid");
    assert_eq!(sorted_pointers(&errors), ["/nodes/0/host", "/nodes/1/id"]);
}

#[test]
fn one_hundred_thousand_nested_arrays_are_one_clear_error() {
    let depth = 100_000;
    let as_root = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let in_params = format!(
        r#"{{"version": "v1", "metadata": {{"name": "p"}},
            "nodes": [{{"id": "a", "node_type": "T", "params": {{"deep": {as_root}}}}}]}}"#
    );
    for text in [as_root, in_params] {
        let errors = Manifest::from_json_str(&text).expect_err("too deep");
        assert_eq!(errors.len(), 1, "{errors}");
        assert_eq!(errors.errors()[0].pointer, "");
        assert!(
            errors.errors()[0]
                .message
                .contains("nested more than 127 arrays and objects deep"),
            "{errors}"
        );
    }
}

/// A chain of `count` nodes, each with `padding` bytes of params.
fn large_chain(count: usize, padding: usize) -> Value {
    let filler = "x".repeat(padding);
    let nodes: Vec<Value> = (0..count)
        .map(|i| json!({"id": format!("n{i}"), "node_type": "PassThroughNode", "params": {"filler": filler}}))
        .collect();
    let connections: Vec<Value> = (1..count)
        .map(|i| json!({"from": format!("n{}", i - 1), "to": format!("n{i}")}))
        .collect();
    json!({"version": "v1", "metadata": {"name": "large"}, "nodes": nodes, "connections": connections})
}

#[test]
fn a_fifty_megabyte_manifest_of_100_000_nodes_validates() {
    let text = serde_json::to_string(&large_chain(100_000, 440)).expect("serializable");
    assert!(text.len() > 50_000_000, "{} bytes", text.len());
    let manifest = Manifest::from_json_str(&text).expect("a long chain is valid");
    assert_eq!(manifest.nodes.len(), 100_000);
    assert_eq!(manifest.connections.len(), 99_999);
}

#[test]
fn large_invalid_manifests_report_every_error() {
    // Closing the chain into a ring: one cycle through all 100 000 nodes.
    let mut ring = large_chain(100_000, 0);
    ring["connections"]
        .as_array_mut()
        .expect("connections")
        .push(json!({"from": "n99999", "to": "n0"}));
    let errors = Manifest::from_value(ring).expect_err("a ring is a cycle");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors.errors()[0].pointer, "/connections/0");
    assert!(
        errors.errors()[0]
            .message
            .ends_with("n99998 -> n99999 -> n0")
    );

    // A typo in every node: one error each, all reported.
    let mut typos = large_chain(100_000, 0);
    for node in typos["nodes"].as_array_mut().expect("nodes") {
        node["parms"] = json!({});
    }
    let errors = Manifest::from_value(typos).expect_err("unknown fields");
    assert_eq!(errors.len(), 100_000);
    assert_eq!(errors.errors()[99_999].pointer, "/nodes/99999/parms");
}

#[test]
fn a_node_in_the_upstream_remote_form_loads_as_the_node_it_runs() {
    let path = repo_root().join("tests/manifests/valid/upstream_remote_node.json");
    let manifest = Manifest::from_path(&path).expect("the corpus file is valid");
    let calc = &manifest.nodes[1];
    assert_eq!(calc.node_type, "CalculatorNode");
    assert_eq!(
        serde_json::to_value(&calc.params).unwrap(),
        json!({"operation": "add", "operand": 5})
    );
    assert_eq!(calc.host.as_deref(), Some("gpu-server:50051"));
    assert_eq!(
        calc.rewritten_from.as_deref(),
        Some(
            "written as RemoteExecutionNode (the upstream SDK's remote form), runs as CalculatorNode"
        )
    );
    let pass = &manifest.nodes[2];
    assert_eq!(pass.node_type, "PassThroughNode");
    assert!(pass.params.is_empty());
    // The rewritten manifest is an ordinary one: validating it again changes nothing but the note.
    let again = manifest.validate().expect("still valid");
    assert_eq!(again.nodes[1].node_type, "CalculatorNode");
    assert_eq!(again.nodes[1].rewritten_from, None);
    assert_eq!(manifest.nodes[0].rewritten_from, None);
}

#[test]
fn an_upstream_remote_node_that_cannot_be_rewritten_says_how_to_write_it() {
    let errors = Manifest::from_value(json!({
        "version": "v1", "metadata": {"name": "x"},
        "nodes": [{"id": "r", "node_type": "RemoteExecutionNode", "params": {}, "host": "gpu:1"}]
    }))
    .unwrap_err();
    let [error] = errors.errors() else {
        panic!("one error expected: {errors}")
    };
    assert_eq!(error.pointer, "/nodes/0");
    assert!(
        error
            .message
            .contains("RemoteExecutionNode needs params.node_to_execute")
            && error.message.contains(
                r#"{"node_type": "CalculatorNode", "params": {...}, "host": "host:port"}"#
            ),
        "{}",
        error.message
    );
    // A user's own class of that name, in a module of theirs, is theirs.
    Manifest::from_value(json!({
        "version": "v1", "metadata": {"name": "x"},
        "nodes": [{"id": "r", "node_type": "RemoteExecutionNode", "module": "my_nodes"}]
    }))
    .expect("a module-qualified RemoteExecutionNode is an ordinary node");
}
