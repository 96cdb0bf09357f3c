//! The CLI's output pinned by snapshot tests: exit code, stdout and stderr of the real binary.
//!
//! A change to what users see shows up as a snapshot diff to review, not by accident:
//! `cargo insta test -p remotemedia-cli --release` then `cargo insta review` (or
//! `INSTA_UPDATE=always` and read the diff in git). The repository root is filtered to `[REPO]`.

use std::path::{Path, PathBuf};
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// The binary, run from the repository root with a clean environment for what it reads.
fn remotemedia(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_remotemedia"));
    command
        .args(args)
        .current_dir(repo())
        .env_remove("RUST_LOG")
        .env_remove("REMOTEMEDIA_PYTHON_RUNTIME")
        .env_remove("REMOTEMEDIA_PYTHON_PATH")
        .env_remove("REMOTEMEDIA_TOKEN")
        .env("NO_COLOR", "1");
    command
}

/// Snapshots with the repository's absolute path written as `[REPO]`.
macro_rules! snapshot {
    ($command:expr) => {{
        let repo = regex_escape(&repo().display().to_string());
        insta::with_settings!({filters => vec![(repo.as_str(), "[REPO]")]}, {
            assert_cmd_snapshot!($command);
        });
    }};
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$#&-~".contains(c);
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

mod help {
    use super::*;

    #[test]
    fn top_level() {
        snapshot!(remotemedia(&["--help"]));
    }

    #[test]
    fn validate() {
        snapshot!(remotemedia(&["validate", "--help"]));
    }

    #[test]
    fn run() {
        snapshot!(remotemedia(&["run", "--help"]));
    }

    #[test]
    fn plan() {
        snapshot!(remotemedia(&["plan", "--help"]));
    }

    #[test]
    fn graph() {
        snapshot!(remotemedia(&["graph", "--help"]));
    }

    #[test]
    fn nodes() {
        snapshot!(remotemedia(&["nodes", "--help"]));
    }

    #[test]
    fn serve() {
        snapshot!(remotemedia(&["serve", "--help"]));
    }
}

mod plan {
    use super::*;

    #[test]
    fn speech_pipeline_on_a_laptop_profile() {
        snapshot!(remotemedia(&[
            "plan",
            "examples/manifests/speech_vad.json",
            "--capabilities",
            "examples/profiles/laptop.json",
            "--offline",
        ]));
    }

    #[test]
    fn node_types_that_do_not_resolve() {
        snapshot!(remotemedia(&[
            "plan",
            "tests/manifests/unresolved/unknown_node_types.json",
            "--capabilities",
            "tests/profiles/no-gpu.json",
        ]));
    }

    #[test]
    fn gpu_node_goes_to_its_host_offline() {
        snapshot!(remotemedia(&[
            "plan",
            "tests/manifests/valid/seed.json",
            "--capabilities",
            "tests/profiles/no-gpu.json",
            "--offline",
            "--json",
        ]));
    }
}

mod graph {
    use super::*;

    #[test]
    fn mermaid() {
        snapshot!(remotemedia(&[
            "graph",
            "examples/manifests/fan_out_fan_in.json",
            "--format",
            "mermaid",
            "--capabilities",
            "examples/profiles/laptop.json",
        ]));
    }

    #[test]
    fn dot() {
        snapshot!(remotemedia(&[
            "graph",
            "examples/manifests/fan_out_fan_in.json",
            "--format",
            "dot",
            "--capabilities",
            "examples/profiles/laptop.json",
        ]));
    }
}

mod nodes {
    use super::*;

    #[test]
    fn catalogue() {
        snapshot!(remotemedia(&["nodes"]));
    }
}

mod validate {
    use super::*;

    #[test]
    fn schema_errors() {
        snapshot!(remotemedia(&[
            "validate",
            "tests/manifests/invalid/many_schema_errors.json",
        ]));
    }

    #[test]
    fn graph_errors() {
        snapshot!(remotemedia(&[
            "validate",
            "tests/manifests/invalid/many_graph_errors.json",
            "tests/manifests/invalid/two_cycles.json",
        ]));
    }

    #[test]
    fn node_types_that_do_not_resolve() {
        snapshot!(remotemedia(&[
            "validate",
            "--resolve",
            "tests/manifests/unresolved/unknown_node_types.json",
            "examples/manifests/calculator.json",
        ]));
    }

    #[test]
    fn valid_and_invalid_as_json() {
        snapshot!(remotemedia(&[
            "validate",
            "--json",
            "examples/manifests/calculator.json",
            "tests/manifests/invalid/malformed_truncated.json",
        ]));
    }
}
