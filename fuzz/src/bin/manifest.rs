//! Manifest bytes → parse and validate (JSON Schema, graph rules) → graph → placement plan.
//! Any error is fine; a panic, a hang or an abort is a finding.

use remotemedia_core::machine::MachineCapabilities;
use remotemedia_core::manifest::Manifest;
use remotemedia_core::placement;

fn main() {
    // Two machines: one with a GPU, one without (tests/profiles).
    let machines = [
        MachineCapabilities::from_json(
            include_str!("../../../tests/profiles/cuda-8gb.json"),
            "cuda-8gb.json",
        ),
        MachineCapabilities::from_json(
            include_str!("../../../tests/profiles/no-gpu.json"),
            "no-gpu.json",
        ),
    ]
    .map(|machine| machine.expect("the test profiles are valid"));
    afl::fuzz!(|data: &[u8]| {
        let Ok(manifest) = Manifest::from_json_slice(data) else {
            return;
        };
        // What passed validation writes out and validates back to itself.
        let text = serde_json::to_string(&*manifest).expect("a manifest serializes");
        let again = Manifest::from_json_str(&text).expect("a valid manifest re-validates");
        assert_eq!(again, manifest);
        let graph = manifest.graph();
        assert_eq!(graph.topological_order().len(), manifest.nodes.len());
        for machine in &machines {
            let _ = placement::plan(&manifest, machine);
        }
    });
}
