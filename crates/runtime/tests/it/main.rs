//! The runtime's integration tests: one binary, one module per topic.

mod manifest;
