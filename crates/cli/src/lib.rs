//! The `remotemedia` command line as a library (internal): the Python package's native module runs
//! the very same program for its `remotemedia` console command, so the CLI lives in one place.

#[path = "main.rs"]
#[allow(dead_code)] // `main` itself is the binary's
mod program;

pub use program::run;
