//! Grouping supported nodes into maximal fused subgraphs that never create a cycle through
//! nodes left to other EPs. Pure graph logic over node indices, tested without ORT.
//!
//! Every node belongs to a cluster: supported nodes to groups that grow, each unsupported
//! node to a cluster of its own. The invariant is that the graph of clusters (an edge where
//! a node of one reads a value of another) stays acyclic, which is exactly what fusing each
//! group into one node requires. Visiting nodes in topological order, a supported node may
//! join group G only if none of the clusters it reads from is reachable from G (that would
//! close a cycle through G). It prefers the group of a predecessor, then recent groups, so
//! independent branches fuse too and the number of OpenVINO subgraphs stays small.

/// How many recent groups an unconnected node may try to join (bounds the work on huge
/// graphs; more only merges more unrelated islands).
const RECENT_GROUPS: usize = 8;

struct Clusters {
    /// Successor clusters of each cluster (deduplicated).
    succ: Vec<Vec<usize>>,
}

impl Clusters {
    fn add(&mut self) -> usize {
        self.succ.push(Vec::new());
        self.succ.len() - 1
    }

    fn link(&mut self, from: usize, to: usize) {
        if from != to && !self.succ[from].contains(&to) {
            self.succ[from].push(to);
        }
    }

    /// Whether any of `targets` is reachable from `start` (not counting `start` itself).
    fn reaches_any(&self, start: usize, targets: &[usize]) -> bool {
        let mut seen = vec![false; self.succ.len()];
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(c) = stack.pop() {
            for &s in &self.succ[c] {
                if targets.contains(&s) {
                    return true;
                }
                if !seen[s] {
                    seen[s] = true;
                    stack.push(s);
                }
            }
        }
        false
    }
}

/// Group supported nodes. `preds[v]` lists the nodes whose outputs `v` reads (including
/// implicit inputs of control-flow bodies); nodes are indexed in topological order, so every
/// predecessor index is smaller. Returns groups of node indices, each sorted, in order of
/// their first node.
pub fn group_nodes(supported: &[bool], preds: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = supported.len();
    let mut clusters = Clusters { succ: Vec::new() };
    let mut cluster_of: Vec<usize> = vec![usize::MAX; n];
    // Groups as (cluster id, members).
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut group_of_cluster: Vec<Option<usize>> = Vec::new();

    for v in 0..n {
        let mut from: Vec<usize> = preds[v].iter().map(|&p| cluster_of[p]).collect();
        debug_assert!(from.iter().all(|&c| c != usize::MAX), "predecessors must come first");
        from.sort_unstable();
        from.dedup();
        let mut chosen = None;
        if supported[v] {
            let direct = from.iter().filter_map(|&c| group_of_cluster[c]);
            let recent = (0..groups.len()).rev().take(RECENT_GROUPS);
            for g in direct.chain(recent) {
                let c = groups[g].0;
                let others: Vec<usize> = from.iter().copied().filter(|&x| x != c).collect();
                if !clusters.reaches_any(c, &others) {
                    chosen = Some(g);
                    break;
                }
            }
        }
        let c = match chosen {
            Some(g) => {
                groups[g].1.push(v);
                groups[g].0
            }
            None => {
                let c = clusters.add();
                group_of_cluster.push(None);
                if supported[v] {
                    groups.push((c, vec![v]));
                    group_of_cluster[c] = Some(groups.len() - 1);
                }
                c
            }
        };
        for f in from {
            clusters.link(f, c);
        }
        cluster_of[v] = c;
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// True if fusing each group into one node leaves the graph acyclic.
    fn acyclic_after_fusion(preds: &[Vec<usize>], groups: &[Vec<usize>]) -> bool {
        let n = preds.len();
        let mut id: Vec<usize> = (0..n).collect();
        for (gi, g) in groups.iter().enumerate() {
            for &v in g {
                id[v] = n + gi;
            }
        }
        let m = n + groups.len();
        let mut adj = vec![Vec::new(); m];
        let mut indeg = vec![0usize; m];
        for v in 0..n {
            for &p in &preds[v] {
                let (a, b) = (id[p], id[v]);
                if a != b {
                    adj[a].push(b);
                    indeg[b] += 1;
                }
            }
        }
        let live: Vec<bool> = (0..m).map(|x| x >= n || id[x] == x).collect();
        let mut stack: Vec<usize> = (0..m).filter(|&x| live[x] && indeg[x] == 0).collect();
        let mut seen = 0;
        while let Some(x) = stack.pop() {
            seen += 1;
            for &y in &adj[x] {
                indeg[y] -= 1;
                if indeg[y] == 0 {
                    stack.push(y);
                }
            }
        }
        seen == live.iter().filter(|l| **l).count()
    }

    #[test]
    fn chain_fuses_into_one_group() {
        let preds = vec![vec![], vec![0], vec![1], vec![2]];
        assert_eq!(group_nodes(&[true; 4], &preds), vec![vec![0, 1, 2, 3]]);
    }

    #[test]
    fn unsupported_node_between_splits_the_chain() {
        // 0 -> 1(unsupported) -> 2
        let preds = vec![vec![], vec![0], vec![1]];
        assert_eq!(group_nodes(&[true, false, true], &preds), vec![vec![0], vec![2]]);
    }

    #[test]
    fn diamond_through_outside_node_is_not_fused() {
        // 0 -> 1(unsupported) -> 3 ; 0 -> 2 -> 3. Fusing {0,2,3} would make a cycle via 1.
        let preds = vec![vec![], vec![0], vec![0], vec![1, 2]];
        let supported = [true, false, true, true];
        let groups = group_nodes(&supported, &preds);
        assert!(acyclic_after_fusion(&preds, &groups), "{groups:?}");
        assert_eq!(groups, vec![vec![0, 2], vec![3]]);
    }

    #[test]
    fn independent_branches_share_a_group() {
        // 0 and 1 are independent inputs' consumers; 2 unsupported reads 0.
        let preds = vec![vec![], vec![], vec![0]];
        assert_eq!(group_nodes(&[true, true, false], &preds), vec![vec![0, 1]]);
    }

    #[test]
    fn random_graphs_stay_acyclic_and_cover_supported_nodes() {
        // A small deterministic generator (xorshift) over many random DAGs.
        let mut s: u64 = 0x9E3779B97F4A7C15;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..500 {
            let n = 2 + (rnd() % 24) as usize;
            let preds: Vec<Vec<usize>> = (0..n).map(|v| (0..v).filter(|_| rnd() % 4 == 0).collect()).collect();
            let supported: Vec<bool> = (0..n).map(|_| rnd() % 3 != 0).collect();
            let groups = group_nodes(&supported, &preds);
            assert!(acyclic_after_fusion(&preds, &groups), "{preds:?} {supported:?} {groups:?}");
            let covered: usize = groups.iter().map(Vec::len).sum();
            assert_eq!(covered, supported.iter().filter(|s| **s).count());
            for g in &groups {
                assert!(g.iter().all(|&v| supported[v]));
            }
        }
    }
}
