//! `remotemedia plan`: where and on which engine each node would run, and why.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use remotemedia_runtime::graph::Graph;
use remotemedia_runtime::manifest::Manifest;
use remotemedia_runtime::pipeline::Config;
use remotemedia_runtime::placement::{self, MachineCapabilities, Plan};
use serde::Serialize;

use super::InvalidInput;
use super::cluster_args::ClusterArgs;
use super::remote_args::RemoteArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest to plan.
    manifest: PathBuf,
    #[command(flatten)]
    machine: MachineArgs,
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

/// The machine to plan for: this one, or one described by a profile.
#[derive(Debug, clap::Args)]
pub struct MachineArgs {
    /// Plan for the machine described by this JSON profile instead of detecting this one
    /// (see examples/profiles/).
    #[arg(long, value_name = "FILE")]
    capabilities: Option<PathBuf>,
}

impl MachineArgs {
    /// The profile given with `--capabilities`, if any.
    pub fn profile(&self) -> anyhow::Result<Option<MachineCapabilities>> {
        match &self.capabilities {
            Some(path) => Ok(Some(
                MachineCapabilities::from_path(path).map_err(|err| InvalidInput(err.into()))?,
            )),
            None => Ok(None),
        }
    }

    fn load(&self) -> anyhow::Result<Machine> {
        match &self.capabilities {
            Some(path) => Ok(Machine {
                capabilities: MachineCapabilities::from_path(path)
                    .map_err(|err| InvalidInput(err.into()))?,
                profile: Some(path.clone()),
            }),
            None => Ok(Machine {
                capabilities: remotemedia_runtime::pipeline::detect_machine(),
                profile: None,
            }),
        }
    }
}

/// The capabilities planned for, and where they came from.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// The profile file; `None` when detected.
    pub profile: Option<PathBuf>,
    pub capabilities: MachineCapabilities,
}

impl Machine {
    /// `this machine`, `` `gpu-box` (profile p.json)`` or `profile p.json`.
    fn label(&self) -> String {
        match (&self.profile, &self.capabilities.name) {
            (None, _) => "this machine".to_owned(),
            (Some(path), Some(name)) => format!("`{name}` (profile {})", path.display()),
            (Some(path), None) => format!("profile {}", path.display()),
        }
    }
}

/// A manifest and its plan, ready to show.
#[derive(Debug)]
pub struct Planned {
    pub manifest: Manifest,
    pub graph: Graph,
    pub machine: Machine,
    pub plan: Plan,
}

/// Loads the manifest and the machine, and plans; bad input of any kind is [`InvalidInput`].
pub fn load_and_plan(manifest_path: &Path, machine: &MachineArgs) -> anyhow::Result<Planned> {
    load_and_plan_with(manifest_path, machine, &Config::default())
}

/// [`load_and_plan`] with `config`: with [`Config::hosts`], the hosts nodes are placed on are
/// asked what they offer (short timeouts), as `run` does.
pub fn load_and_plan_with(
    manifest_path: &Path,
    machine: &MachineArgs,
    config: &Config,
) -> anyhow::Result<Planned> {
    let (manifest, graph) = load_manifest(manifest_path)?;
    let machine = machine.load()?;
    // Asks the embedded interpreter what the classes of `auto` nodes need, as `run` does.
    let plan =
        remotemedia_runtime::pipeline::plan_manifest(&manifest, &machine.capabilities, config)
            .map_err(|err| {
                InvalidInput(anyhow::Error::new(err).context(format!(
                    "cannot plan `{}` on {} [{}]",
                    manifest_path.display(),
                    machine.label(),
                    machine.capabilities
                )))
            })?;
    Ok(Planned {
        manifest,
        graph,
        machine,
        plan,
    })
}

/// Reads and validates a manifest and builds its graph.
fn load_manifest(path: &Path) -> anyhow::Result<(Manifest, Graph)> {
    let context = || format!("cannot plan `{}`", path.display());
    let manifest = Manifest::from_path(path)
        .map_err(|errors| InvalidInput(anyhow::Error::new(errors).context(context())))?;
    // Validation already rejected unknown endpoints and cycles; kept as an error, not a panic.
    let graph = Graph::new(&manifest)
        .map_err(|err| InvalidInput(anyhow::Error::new(err).context(context())))?;
    Ok((manifest, graph))
}

pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config {
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
    let planned = load_and_plan_with(&args.manifest, &args.machine, &config)?;
    let output = if args.json {
        serde_json::to_string_pretty(&json_report(&planned))? + "\n"
    } else {
        table(&planned)
    };
    write_stdout(&output)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to stdout; a reader that went away (`plan … | head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("failed to write to stdout"))
        }
        _ => Ok(()),
    }
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
