//! Exit codes, and how an error picks one.

use std::process::ExitCode;

/// Exit code for bad input: an invalid manifest, input or plan.
pub const EXIT_INVALID: u8 = 2;
/// Exit code for a failure while running.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code after SIGINT/SIGTERM, as shells report a process ended by SIGINT (128 + 2).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Marks an error as caused by the user's input, so the process exits with [`EXIT_INVALID`].
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct InvalidInput(#[from] pub anyhow::Error);

/// The exit code for an error returned by a command.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|cause| cause.is::<InvalidInput>()) {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}
