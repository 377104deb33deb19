//! SWAP* (Vidal 2022): exchange two clients of different routes, each reinserted at its best place in
//! the other route rather than in the other's position. Candidate pairs are found with distance-only
//! estimates (three best insertion places per client and route); the best is priced exactly.

use super::{LocalSearch, Piece};

/// Tries SWAP* on every pair of routes that hold neighbouring clients and changed since the last
/// call; returns whether any move was applied.
pub fn swap_star(ls: &mut LocalSearch) -> bool {
    let nd = ls.data.num_depots();
    let mut pairs = Vec::new();
    for u in nd..ls.data.num_locations() {
        let Some((ru, _)) = ls.position(u) else { continue };
        for &v in &ls.neighbours[u] {
            if let Some((rv, _)) = ls.position(v) {
                if ru != rv {
                    pairs.push((ru.min(rv), ru.max(rv)));
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let stamp = ls.swap_star_stamp;
    let mut improved = false;
    for (r1, r2) in pairs {
        if ls.routes[r1].modified.max(ls.routes[r2].modified) <= stamp || ls.routes[r1].is_empty() || ls.routes[r2].is_empty() {
            continue;
        }
        improved |= try_pair(ls, r1, r2);
    }
    ls.swap_star_stamp = ls.counter;
    improved
}

/// The three cheapest (by distance) places to insert each client of `from` into `into`:
/// (cost, after position) sorted by cost.
fn top_three(ls: &LocalSearch, from: usize, into: usize) -> Vec<[(i64, usize); 3]> {
    let route = &ls.routes[into];
    let vt = &ls.data.vehicle_types[route.vt];
    let d = &ls.data.profiles[vt.profile].distance;
    let unit = vt.unit_distance_cost.max(1);
    let src = &ls.routes[from];
    (1..src.last())
        .map(|i| {
            let u = src.visits[i];
            let mut best = [(i64::MAX, 0usize); 3];
            for p in 0..route.last() {
                let (a, b) = (route.visits[p], route.visits[p + 1]);
                let c = unit * (d.get(a, u) + d.get(u, b) - d.get(a, b));
                if c < best[2].0 {
                    best[2] = (c, p);
                    best.sort_unstable();
                }
            }
            best
        })
        .collect()
}

fn try_pair(ls: &mut LocalSearch, r1: usize, r2: usize) -> bool {
    let top12 = top_three(ls, r1, r2); // clients of r1 into r2
    let top21 = top_three(ls, r2, r1);
    let (a, b) = (&ls.routes[r1], &ls.routes[r2]);
    let (va, vb) = (&ls.data.vehicle_types[a.vt], &ls.data.vehicle_types[b.vt]);
    let (da, db) = (&ls.data.profiles[va.profile].distance, &ls.data.profiles[vb.profile].distance);
    let (ua, ub) = (va.unit_distance_cost.max(1), vb.unit_distance_cost.max(1));
    let removal = |route: &super::LsRoute, d: &crate::routing::Matrix, unit: i64, i: usize| {
        let (p, x, n) = (route.visits[i - 1], route.visits[i], route.visits[i + 1]);
        unit * (d.get(p, x) + d.get(x, n) - d.get(p, n))
    };
    // Best insertion of the client with candidates `top` into `route` once the client at `i` is gone:
    // one of the top three away from position i, or in its place. Returns (cost, after position).
    let insert = |route: &super::LsRoute, d: &crate::routing::Matrix, unit: i64, top: &[(i64, usize); 3], x: usize, i: usize| {
        let (p, n) = (route.visits[i - 1], route.visits[i + 1]);
        let mut best = (unit * (d.get(p, x) + d.get(x, n) - d.get(p, n)), usize::MAX); // in place
        for &(c, q) in top {
            if c < best.0 && q != i - 1 && q != i && c != i64::MAX {
                best = (c, q);
            }
        }
        best
    };
    let mut best: Option<(i64, usize, usize, usize, usize)> = None; // (estimate, i, j, V after in r1, U after in r2)
    for i in 1..a.last() {
        let rem_u = removal(a, da, ua, i);
        for j in 1..b.last() {
            let rem_v = removal(b, db, ub, j);
            let (cv, pv) = insert(a, da, ua, &top21[j - 1], b.visits[j], i);
            let (cu, pu) = insert(b, db, ub, &top12[i - 1], a.visits[i], j);
            let est = cv + cu - rem_u - rem_v;
            if est < 0 && best.is_none_or(|bb| est < bb.0) {
                best = Some((est, i, j, pv, pu));
            }
        }
    }
    let Some((_, i, j, pv, pu)) = best else { return false };
    let (u, v) = (a.visits[i], b.visits[j]);
    let pieces = |r: usize, i: usize, x: usize, p: usize| -> Vec<Piece> {
        use Piece::*;
        if p == usize::MAX {
            vec![Pre(r, i - 1), One(x), Suf(r, i + 1)]
        } else if p < i {
            vec![Pre(r, p), One(x), Mid(r, p + 1, i - 1), Suf(r, i + 1)]
        } else {
            vec![Pre(r, i - 1), Mid(r, i + 1, p), One(x), Suf(r, p + 1)]
        }
    };
    let delta = ls.price(ls.routes[r1].vt, &pieces(r1, i, v, pv)) + ls.price(ls.routes[r2].vt, &pieces(r2, j, u, pu))
        - ls.routes[r1].cost
        - ls.routes[r2].cost;
    if delta >= 0 {
        return false;
    }
    let clients = |ls: &LocalSearch, r: usize, i: usize, x: usize, p: usize| -> Vec<usize> {
        let visits = &ls.routes[r].visits;
        let mut out = Vec::with_capacity(visits.len());
        if p == 0 {
            out.push(x);
        }
        for (k, &loc) in visits.iter().enumerate().take(visits.len() - 1).skip(1) {
            if k == i {
                if p == usize::MAX {
                    out.push(x);
                }
            } else {
                out.push(loc);
            }
            if k == p {
                out.push(x);
            }
        }
        out
    };
    let c1 = clients(ls, r1, i, v, pv);
    let c2 = clients(ls, r2, j, u, pu);
    ls.apply_if_improving(&[(r1, c1), (r2, c2)], delta)
}
