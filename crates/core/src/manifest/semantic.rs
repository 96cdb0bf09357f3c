//! The rules a JSON Schema cannot express: unique node ids, connections between existing nodes,
//! no self-loop, no cycle, host ports in 1–65535. Run on a manifest whose structure is sound.

use std::collections::HashMap;

use super::Manifest;
use super::error::ManifestError;
use crate::graph::cycles::{find_cycles, format_cycle};

/// The connections of `manifest` as edges between node positions, in connection order; or every
/// rule violation: node problems, then connection problems, then cycles.
pub(crate) fn resolve_edges(
    manifest: &Manifest,
) -> Result<Vec<(usize, usize)>, Vec<ManifestError>> {
    let mut errors = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::with_capacity(manifest.nodes.len());
    for (index, node) in manifest.nodes.iter().enumerate() {
        if let Some(&first) = position.get(node.id.as_str()) {
            errors.push(ManifestError::new(
                format!("/nodes/{index}/id"),
                format!(
                    "duplicate node id '{}' (first at /nodes/{first}/id)",
                    node.id
                ),
            ));
        } else {
            position.insert(&node.id, index);
        }
        if let Some(problem) = node.host.as_deref().and_then(host_port_problem) {
            errors.push(ManifestError::new(format!("/nodes/{index}/host"), problem));
        }
    }

    // Edges between known, distinct nodes, and the connection each came from.
    let mut edges = Vec::with_capacity(manifest.connections.len());
    let mut edge_connection = Vec::with_capacity(manifest.connections.len());
    for (index, connection) in manifest.connections.iter().enumerate() {
        let mut endpoint = |end: &str, id: &str| {
            let found = position.get(id).copied();
            if found.is_none() {
                errors.push(ManifestError::new(
                    format!("/connections/{index}/{end}"),
                    format!("no node has id '{id}'"),
                ));
            }
            found
        };
        let from = endpoint("from", &connection.from);
        let to = endpoint("to", &connection.to);
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        if from == to {
            errors.push(ManifestError::new(
                format!("/connections/{index}"),
                format!("node '{}' is connected to itself", connection.from),
            ));
        } else {
            edges.push((from, to));
            edge_connection.push(index);
        }
    }

    errors.extend(cycle_errors(manifest, &edges, &edge_connection));
    if errors.is_empty() {
        Ok(edges)
    } else {
        Err(errors)
    }
}

/// One error per cycle, naming its nodes in order, at the first connection that lies on it.
fn cycle_errors(
    manifest: &Manifest,
    edges: &[(usize, usize)],
    edge_connection: &[usize],
) -> Vec<ManifestError> {
    let cycles = find_cycles(manifest.nodes.len(), edges);
    let mut cycle_of = vec![None; manifest.nodes.len()];
    for (cycle_index, cycle) in cycles.iter().enumerate() {
        for &node in cycle {
            cycle_of[node] = Some(cycle_index);
        }
    }
    let mut first_connection = vec![None; cycles.len()];
    for (&(from, to), &connection) in edges.iter().zip(edge_connection) {
        if let (Some(a), Some(b)) = (cycle_of[from], cycle_of[to])
            && a == b
            && first_connection[a].is_none()
        {
            first_connection[a] = Some(connection);
        }
    }
    let mut errors: Vec<(usize, ManifestError)> = cycles
        .iter()
        .zip(first_connection)
        .filter_map(|(cycle, connection)| {
            // Self-loops never reach find_cycles, so every cycle has an edge inside it.
            let connection = connection?;
            let names: Vec<String> = cycle
                .iter()
                .map(|&node| manifest.nodes[node].id.clone())
                .collect();
            Some((
                connection,
                ManifestError::new(
                    format!("/connections/{connection}"),
                    format!("cycle: {}", format_cycle(&names)),
                ),
            ))
        })
        .collect();
    errors.sort_by_key(|(connection, _)| *connection);
    errors.into_iter().map(|(_, error)| error).collect()
}

/// Why the port of a `host:port` (already shaped by the schema) is unusable, if it is.
fn host_port_problem(host: &str) -> Option<String> {
    let Some((_, port)) = host.rsplit_once(':') else {
        return Some("host must be 'host:port'".to_owned());
    };
    match port.parse::<u16>() {
        Ok(1..) => None,
        _ => {
            let digits = port.trim_start_matches('0');
            let shown = if digits.is_empty() { "0" } else { digits };
            Some(format!("port {shown} is outside 1-65535"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn manifest(nodes: &[&str], connections: &[(&str, &str)]) -> Manifest {
        let nodes: Vec<_> = nodes
            .iter()
            .map(|id| json!({"id": id, "node_type": "PassThroughNode"}))
            .collect();
        let connections: Vec<_> = connections
            .iter()
            .map(|(from, to)| json!({"from": from, "to": to}))
            .collect();
        serde_json::from_value(json!({
            "version": "v1",
            "metadata": {"name": "t"},
            "nodes": nodes,
            "connections": connections,
        }))
        .expect("a well-formed manifest")
    }

    fn semantic_errors(manifest: &Manifest) -> Vec<ManifestError> {
        resolve_edges(manifest).err().unwrap_or_default()
    }

    fn pointers(errors: &[ManifestError]) -> Vec<&str> {
        errors.iter().map(|e| e.pointer.as_str()).collect()
    }

    #[test]
    fn a_dag_with_fan_out_and_fan_in_is_fine() {
        let dag = manifest(
            &["a", "b", "c", "d"],
            &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
        );
        assert_eq!(
            resolve_edges(&dag),
            Ok(vec![(0, 1), (0, 2), (1, 3), (2, 3)])
        );
    }

    #[test]
    fn a_duplicate_id_points_at_the_second_use() {
        let errors = semantic_errors(&manifest(&["a", "b", "a"], &[]));
        assert_eq!(
            errors,
            vec![ManifestError::new(
                "/nodes/2/id",
                "duplicate node id 'a' (first at /nodes/0/id)"
            )]
        );
    }

    #[test]
    fn dangling_endpoints_and_self_loops_point_at_their_connection() {
        let errors = semantic_errors(&manifest(
            &["a", "b"],
            &[("a", "b"), ("a", "ghost"), ("nobody", "b"), ("b", "b")],
        ));
        assert_eq!(
            errors,
            vec![
                ManifestError::new("/connections/1/to", "no node has id 'ghost'"),
                ManifestError::new("/connections/2/from", "no node has id 'nobody'"),
                ManifestError::new("/connections/3", "node 'b' is connected to itself"),
            ]
        );
    }

    #[test]
    fn every_cycle_is_named_at_its_first_connection() {
        let errors = semantic_errors(&manifest(
            &["src", "a", "b", "c", "x", "y"],
            &[
                ("src", "a"),
                ("x", "y"),
                ("a", "b"),
                ("b", "c"),
                ("y", "x"),
                ("c", "a"),
            ],
        ));
        assert_eq!(
            errors,
            vec![
                ManifestError::new("/connections/1", "cycle: x -> y -> x"),
                ManifestError::new("/connections/2", "cycle: a -> b -> c -> a"),
            ]
        );
    }

    #[test]
    fn host_ports_must_be_in_range() {
        assert_eq!(host_port_problem("remote-server:50051"), None);
        assert_eq!(host_port_problem("[::1]:1"), None);
        assert_eq!(host_port_problem("h:65535"), None);
        assert_eq!(
            host_port_problem("h:0").as_deref(),
            Some("port 0 is outside 1-65535")
        );
        assert_eq!(
            host_port_problem("h:70000").as_deref(),
            Some("port 70000 is outside 1-65535")
        );
        assert_eq!(
            host_port_problem("h:000099999999999999999999").as_deref(),
            Some("port 99999999999999999999 is outside 1-65535")
        );
    }

    #[test]
    fn all_problems_are_reported_together() {
        let mut broken = manifest(&["a", "a", "b"], &[("a", "zz"), ("b", "b")]);
        broken.nodes[2].host = Some("h:0".to_owned());
        assert_eq!(
            pointers(&semantic_errors(&broken)),
            [
                "/nodes/1/id",
                "/nodes/2/host",
                "/connections/0/to",
                "/connections/1"
            ]
        );
    }

    #[test]
    fn a_ring_of_100_000_nodes_is_one_cycle() {
        let ids: Vec<String> = (0..100_000).map(|i| format!("n{i}")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut links: Vec<(&str, &str)> = id_refs.windows(2).map(|w| (w[0], w[1])).collect();
        links.push((id_refs[id_refs.len() - 1], id_refs[0]));
        let errors = semantic_errors(&manifest(&id_refs, &links));
        assert_eq!(pointers(&errors), ["/connections/0"]);
        assert!(errors[0].message.starts_with("cycle: n0 -> n1 -> n2 -> "));
        assert!(errors[0].message.ends_with(" -> n99999 -> n0"));
    }
}
