//! One module per subcommand, each with its clap arguments and an `execute()`.

mod graph;
mod nodes;
mod plan;
mod run;
mod serve;
mod validate;
mod worker;

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check manifests against the v1 schema and the graph rules.
    Validate(validate::Args),
    /// Run a manifest, streaming inputs through it.
    Run(run::Args),
    /// Show where and on which engine each node would run, and why.
    Plan(plan::Args),
    /// Draw the pipeline as Graphviz dot or Mermaid.
    Graph(graph::Args),
    /// List the node types this binary knows.
    Nodes(nodes::Args),
    /// Run nodes on behalf of other remotemedia instances (gRPC).
    Serve(serve::Args),
    /// Serve one isolated node to the remotemedia process that started this one (internal).
    #[command(name = remotemedia_runtime::isolation::WORKER_SUBCOMMAND, hide = true)]
    IsolatedWorker(worker::Args),
}

impl Command {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Validate(args) => validate::execute(args),
            Command::Run(args) => run::execute(args),
            Command::Plan(args) => plan::execute(args),
            Command::Graph(args) => graph::execute(args),
            Command::Nodes(args) => nodes::execute(args),
            Command::Serve(args) => serve::execute(args),
            Command::IsolatedWorker(args) => worker::execute(args),
        }
    }
}
