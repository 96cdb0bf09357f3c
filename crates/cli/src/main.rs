//! `remotemedia`: validate, plan, run and serve pipeline manifests (see `remotemedia --help`).

fn main() -> std::process::ExitCode {
    remotemedia_cli::run(std::env::args_os())
}
