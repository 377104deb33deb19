//! Perturbation: SISR-style string removal (Christiaens & Vanden Berghe 2020). Strings of adjacent
//! clients are removed from the routes around a random seed client; recreate re-inserts them.

use super::local_search::LocalSearch;
use super::rng::Rng;

/// Average number of removed clients and the longest removed string.
pub struct RuinParams {
    pub avg_removed: f64,
    pub max_string: usize,
}

/// Removes strings around a random client; returns the removed client locations.
pub fn ruin(
    ls: &mut LocalSearch,
    adjacency: &[Vec<usize>],
    rng: &mut Rng,
    p: &RuinParams,
) -> Vec<usize> {
    let data = ls.data;
    let nd = data.num_depots();
    let nc = data.num_clients();
    let used: Vec<usize> = (0..ls.routes.len())
        .filter(|&r| !ls.routes[r].is_empty())
        .collect();
    if nc == 0 || used.is_empty() {
        return vec![];
    }
    let avg_len =
        used.iter().map(|&r| ls.routes[r].len()).sum::<usize>() as f64 / used.len() as f64;
    let l_max = (p.max_string as f64).min(avg_len).max(1.0);
    let k_max = (4.0 * p.avg_removed / (1.0 + l_max) - 1.0).max(1.0);
    let strings = (rng.unit() * k_max) as usize + 1;
    let seed = nd + rng.below(nc);
    let mut ruined_routes: Vec<usize> = Vec::new();
    let mut removed = Vec::new();
    for &c in std::iter::once(&seed).chain(adjacency[seed].iter()) {
        if ruined_routes.len() >= strings {
            break;
        }
        let Some((r, i)) = ls.position(c) else {
            continue;
        };
        if ruined_routes.contains(&r) {
            continue;
        }
        let route_len = ls.routes[r].len();
        let cap = l_max.min(route_len as f64);
        let len = ((rng.unit() * cap) as usize + 1).min(route_len);
        // a random string of `len` clients containing position i
        let lo = i.saturating_sub(len - 1).max(1);
        let hi = i.min(route_len + 1 - len);
        let start = lo + rng.below(hi - lo + 1);
        removed.extend_from_slice(&ls.routes[r].visits[start..start + len]);
        ruined_routes.push(r);
    }
    ls.remove_many(&removed);
    removed
}

/// SISR's orders for re-insertion: random, largest demand first, farthest from the depot first.
pub fn sort_for_recreate(ls: &LocalSearch, removed: &mut [usize], rng: &mut Rng) {
    let data = ls.data;
    match rng.below(10) {
        0..=3 => rng.shuffle(removed),
        4..=7 => {
            rng.shuffle(removed);
            removed.sort_by_key(|&c| {
                std::cmp::Reverse(
                    data.client(c)
                        .delivery
                        .iter()
                        .chain(&data.client(c).pickup)
                        .sum::<i64>(),
                )
            });
        }
        _ => {
            let prof = &data.profiles[0];
            removed.sort_by_key(|&c| std::cmp::Reverse(prof.distance.get(0, c)));
        }
    }
}
