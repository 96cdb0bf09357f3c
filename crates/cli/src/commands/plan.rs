//! `remotemedia plan`: where and on which engine each node would run, and why.

use std::path::PathBuf;
use std::process::ExitCode;

use remotemedia_runtime::pipeline::{self, Config};
use remotemedia_runtime::placement;
use serde::Serialize;

use crate::common::{
    ClusterArgs, Machine, MachineArgs, Planned, PythonPathArgs, RemoteArgs, load_and_plan,
    write_stdout,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest to plan.
    manifest: PathBuf,
    #[command(flatten)]
    machine: MachineArgs,
    #[command(flatten)]
    python_path: PythonPathArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Do not contact the hosts nodes are placed on: place by requirements alone (to plan for
    /// hosts that are not up, or not reachable from here).
    #[arg(long)]
    offline: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config {
        python_path: args.python_path.directories()?,
        hosts: if args.offline {
            None
        } else {
            Some(args.remote.connector()?)
        },
        cluster: if args.offline {
            None
        } else {
            args.cluster.connector()?
        },
        ..Config::default()
    };
    let planned = load_and_plan(
        &args.manifest,
        &args.machine,
        &config,
        pipeline::plan_manifest,
    )?;
    let output = if args.json {
        serde_json::to_string_pretty(&json_report(&planned))? + "\n"
    } else {
        table(&planned)
    };
    write_stdout(&output)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    pipeline: &'a str,
    machine: &'a Machine,
    nodes: &'a [placement::NodePlan],
}

fn json_report(planned: &Planned) -> JsonReport<'_> {
    JsonReport {
        pipeline: &planned.manifest.metadata.name,
        machine: &planned.machine,
        nodes: &planned.plan.nodes,
    }
}

/// The machine in a sentence, then one aligned row per node.
fn table(planned: &Planned) -> String {
    let header = ["NODE", "TYPE", "ENGINE", "REASON"];
    let rows: Vec<[String; 4]> = planned
        .plan
        .nodes
        .iter()
        .map(|node| {
            [
                node.id.clone(),
                node.node_type.clone(),
                node.engine.to_string(),
                node.reason.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(widths[index] - cell.chars().count() + 2));
            }
        }
        text.push('\n');
        text
    };
    let mut out = format!(
        "Pipeline `{}` on {}: {}\n\n",
        planned.manifest.metadata.name,
        planned.machine.label(),
        planned.machine.capabilities
    );
    out.push_str(&line(header));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out
}
