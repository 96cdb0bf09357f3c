//! The runtime's integration tests: one binary, a module per topic.

mod placement;
