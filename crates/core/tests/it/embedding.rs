//! The smallest embedding example (examples/embed_rust_node.rs) runs as documented.

#[path = "../../../../examples/embed_rust_node.rs"]
mod example;

#[test]
fn the_rust_node_embedding_example_runs() {
    example::main().expect("examples/embed_rust_node.rs runs");
}
