//! `remotemedia graph`: the pipeline as a Graphviz dot or Mermaid picture, with the planned engines.
//!
//! Each node shows its id, type and planned engine; nodes placed on the same remote host are grouped
//! in a box named after the host. Node types are not checked (a picture of a manifest still being
//! written, or of node classes not at hand): `plan` and `run` check them.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use remotemedia_runtime::placement::EngineKind;

use remotemedia_runtime::pipeline::{self, Config};

use crate::common::{MachineArgs, Planned, load_and_plan, write_stdout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest to draw.
    manifest: PathBuf,
    /// Graphviz dot (render with `dot -Tsvg`) or Mermaid (Markdown, GitHub, mermaid.live).
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    format: Format,
    #[command(flatten)]
    machine: MachineArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Dot,
    Mermaid,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let planned = load_and_plan(
        &args.manifest,
        &args.machine,
        &Config::default(),
        pipeline::place_manifest,
    )?;
    let picture = match args.format {
        Format::Dot => dot(&planned),
        Format::Mermaid => mermaid(&planned),
    };
    write_stdout(&picture)?;
    Ok(ExitCode::SUCCESS)
}

/// Fill colours by engine, shared by both formats so the pictures agree.
fn fill(engine: &EngineKind) -> &'static str {
    match engine {
        EngineKind::Native => "#dcfce7",
        EngineKind::Rustpython => "#dbeafe",
        EngineKind::Cpython => "#fef3c7",
        EngineKind::Remote { .. } => "#fee2e2",
        EngineKind::Cluster => "#dcfce7",
    }
}

/// The remote hosts, in order of first use, each with its nodes' positions.
fn hosts(planned: &Planned) -> Vec<(&str, Vec<usize>)> {
    let mut hosts: Vec<(&str, Vec<usize>)> = Vec::new();
    for (index, node) in planned.plan.nodes.iter().enumerate() {
        if let EngineKind::Remote { host } = &node.engine {
            match hosts.iter_mut().find(|(name, _)| name == host) {
                Some((_, members)) => members.push(index),
                None => hosts.push((host, vec![index])),
            }
        }
    }
    hosts
}

/// Each distinct edge once, as (from, to) node positions.
fn edges(planned: &Planned) -> Vec<(usize, usize)> {
    let graph = &planned.graph;
    (0..graph.len())
        .flat_map(|from| graph.successors(from).iter().map(move |&to| (from, to)))
        .collect()
}

fn dot(planned: &Planned) -> String {
    let quoted = |text: &str| format!("\"{}\"", dot_escape(text));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "digraph {} {{",
        quoted(&planned.manifest.metadata.name)
    );
    out.push_str("  rankdir=LR;\n");
    out.push_str("  graph [fontname=\"Helvetica\"];\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n");
    let node_line = |index: usize| {
        let node = &planned.plan.nodes[index];
        let label = format!(
            "{}\\n{}\\n{}",
            dot_escape(&node.id),
            dot_escape(&node.node_type),
            dot_escape(&node.engine.to_string())
        );
        format!(
            "{} [label=\"{label}\", fillcolor=\"{}\"];",
            quoted(&node.id),
            fill(&node.engine)
        )
    };
    for (index, node) in planned.plan.nodes.iter().enumerate() {
        if node.engine.is_local() {
            let _ = writeln!(out, "  {}", node_line(index));
        }
    }
    for (cluster, (host, members)) in hosts(planned).iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_remote_{cluster} {{");
        let _ = writeln!(out, "    label={};", quoted(&format!("remote {host}")));
        out.push_str("    style=dashed;\n");
        for &index in members {
            let _ = writeln!(out, "    {}", node_line(index));
        }
        out.push_str("  }\n");
    }
    for (from, to) in edges(planned) {
        let _ = writeln!(
            out,
            "  {} -> {};",
            quoted(planned.graph.id(from)),
            quoted(planned.graph.id(to))
        );
    }
    out.push_str("}\n");
    out
}

/// Escapes text for a double-quoted dot string, keeping it on one line.
fn dot_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

fn mermaid(planned: &Planned) -> String {
    // Mermaid ids are positional (`n0`, `n1`…): manifest ids may hold characters or keywords
    // (`end`) that Mermaid would misread; the real ids are in the labels.
    let mut out = String::from("flowchart LR\n");
    let node_line = |index: usize| {
        let node = &planned.plan.nodes[index];
        format!(
            "n{index}[\"{}<br/>{}<br/>{}\"]",
            mermaid_escape(&node.id),
            mermaid_escape(&node.node_type),
            mermaid_escape(&node.engine.to_string())
        )
    };
    for (index, node) in planned.plan.nodes.iter().enumerate() {
        if node.engine.is_local() {
            let _ = writeln!(out, "  {}", node_line(index));
        }
    }
    for (cluster, (host, members)) in hosts(planned).iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph host{cluster}[\"remote {}\"]",
            mermaid_escape(host)
        );
        for &index in members {
            let _ = writeln!(out, "    {}", node_line(index));
        }
        out.push_str("  end\n");
    }
    for (from, to) in edges(planned) {
        let _ = writeln!(out, "  n{from} --> n{to}");
    }
    for engine in [
        EngineKind::Native,
        EngineKind::Rustpython,
        EngineKind::Cpython,
        EngineKind::Remote {
            host: String::new(),
        },
        EngineKind::Cluster,
    ] {
        let members: Vec<String> = planned
            .plan
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.engine.name() == engine.name())
            .map(|(index, _)| format!("n{index}"))
            .collect();
        if !members.is_empty() {
            let _ = writeln!(
                out,
                "  classDef {} fill:{},stroke:#555",
                engine.name(),
                fill(&engine)
            );
            let _ = writeln!(out, "  class {} {}", members.join(","), engine.name());
        }
    }
    out
}

/// Escapes text for a quoted Mermaid label with its entity codes, so quotes, markup and `#` show
/// as themselves.
fn mermaid_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => escaped.push_str("#35;"),
            '"' => escaped.push_str("#quot;"),
            '<' => escaped.push_str("#lt;"),
            '>' => escaped.push_str("#gt;"),
            '\n' | '\r' => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_break_the_syntax() {
        assert_eq!(dot_escape(r#"a "b" \c"#), r#"a \"b\" \\c"#);
        assert_eq!(mermaid_escape(r#"a<"b">#1"#), "a#lt;#quot;b#quot;#gt;#35;1");
    }
}
