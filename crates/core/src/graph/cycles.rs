//! Finding cycles, without recursion, and naming them in edge order.

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// `a -> b -> a`: the cycle's nodes in order, closed.
pub fn format_cycle(cycle: &[String]) -> String {
    let mut text = cycle.join(" -> ");
    if let Some(first) = cycle.first() {
        text.push_str(" -> ");
        text.push_str(first);
    }
    text
}

/// Every cycle among `node_count` nodes joined by `edges`, each as its nodes in edge order,
/// starting from its lowest index. A self-loop is a cycle of one node.
///
/// Linear in nodes plus edges and free of recursion (Kosaraju's algorithm runs on an explicit
/// stack), so a 100 000-node chain or ring cannot exhaust the stack.
pub fn find_cycles(node_count: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let digraph = to_digraph(node_count, edges);
    let mut component = vec![usize::MAX; node_count];
    let cyclic: Vec<Vec<usize>> = kosaraju_scc(&digraph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || digraph.contains_edge(scc[0], scc[0]))
        .map(|scc| scc.into_iter().map(NodeIndex::index).collect())
        .collect();
    for (index, members) in cyclic.iter().enumerate() {
        for &member in members {
            component[member] = index;
        }
    }
    let mut successors = vec![Vec::new(); node_count];
    for &(from, to) in edges {
        successors[from].push(to);
    }
    let mut on_path = vec![false; node_count];
    let mut cycles: Vec<Vec<usize>> = cyclic
        .iter()
        .map(|members| walk_cycle(members, &component, &successors, &mut on_path))
        .collect();
    cycles.sort();
    cycles
}

/// Orders a strongly connected component along its edges, so `a -> b -> c` reads as the loop it is.
/// `on_path` is scratch space shared between components, which are disjoint.
fn walk_cycle(
    members: &[usize],
    component: &[usize],
    successors: &[Vec<usize>],
    on_path: &mut [bool],
) -> Vec<usize> {
    let start = *members.iter().min().expect("a component is never empty");
    let mut path = vec![start];
    on_path[start] = true;
    let mut current = start;
    loop {
        let next = successors[current]
            .iter()
            .copied()
            .filter(|&to| component[to] == component[start])
            .find(|&to| to == start || !on_path[to]);
        match next {
            Some(to) if to != start => {
                path.push(to);
                on_path[to] = true;
                current = to;
            }
            // Back at the start, or a dead end inside a tangled component: the members found so far
            // still name the loop; add the rest so none is hidden.
            _ => break,
        }
    }
    let mut rest: Vec<usize> = members.iter().copied().filter(|&m| !on_path[m]).collect();
    rest.sort_unstable();
    path.extend(rest);
    path
}

pub(crate) fn to_digraph(node_count: usize, edges: &[(usize, usize)]) -> DiGraph<(), ()> {
    let mut graph = DiGraph::with_capacity(node_count, edges.len());
    for _ in 0..node_count {
        graph.add_node(());
    }
    for &(from, to) in edges {
        graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_cycle_in_edge_order() {
        // 0 -> 1 -> 2 -> 0, and 3 -> 3, and 4 alone.
        let edges = [(0, 1), (1, 2), (2, 0), (3, 3), (2, 4)];
        assert_eq!(find_cycles(5, &edges), vec![vec![0, 1, 2], vec![3]]);
    }

    #[test]
    fn long_chains_and_rings_do_not_exhaust_the_stack() {
        // Test threads have small stacks: a recursive search would overflow long before 100 000.
        let count = 100_000;
        let chain: Vec<(usize, usize)> = (1..count).map(|i| (i - 1, i)).collect();
        assert!(find_cycles(count, &chain).is_empty());
        let mut ring = chain;
        ring.push((count - 1, 0));
        let cycles = find_cycles(count, &ring);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0], (0..count).collect::<Vec<_>>());
    }

    #[test]
    fn a_dag_has_no_cycle() {
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3)];
        assert!(find_cycles(4, &edges).is_empty());
    }
}
