//! Relocate: move one client next to a neighbour (right after it, or right before it), in the same
//! route or another one; also into an empty vehicle.

use super::{LocalSearch, Piece};

pub fn relocate(ls: &mut LocalSearch, u: usize, v: usize) -> bool {
    let (ru, i) = ls.position(u).expect("u assigned");
    let (rv, j) = ls.position(v).expect("v assigned");
    for after in [j, j - 1] {
        if ru == rv && (after == i || after + 1 == i) {
            continue; // U is already there
        }
        if try_relocate(ls, u, ru, i, rv, after) {
            return true;
        }
    }
    false
}

/// Moves `u` (at `ru`, position `i`) to just after position `after` of route `rv`, if that improves.
pub fn try_relocate(
    ls: &mut LocalSearch,
    u: usize,
    ru: usize,
    i: usize,
    rv: usize,
    after: usize,
) -> bool {
    use Piece::*;
    let (vt_u, vt_v) = (ls.routes[ru].vt, ls.routes[rv].vt);
    let delta = if ru != rv {
        let from = [Pre(ru, i - 1), Suf(ru, i + 1)];
        let into = [Pre(rv, after), One(u), Suf(rv, after + 1)];
        if ls.cannot_improve(&[(vt_u, &from), (vt_v, &into)], &[ru, rv]) {
            return false;
        }
        ls.price(vt_u, &from) + ls.price(vt_v, &into) - ls.routes[ru].cost - ls.routes[rv].cost
    } else {
        let pieces = if after < i {
            [Pre(ru, after), One(u), Mid(ru, after + 1, i - 1), Suf(ru, i + 1)]
        } else {
            [Pre(ru, i - 1), Mid(ru, i + 1, after), One(u), Suf(ru, after + 1)]
        };
        if ls.cannot_improve(&[(vt_u, &pieces)], &[ru]) {
            return false;
        }
        ls.price(vt_u, &pieces) - ls.routes[ru].cost
    };
    if delta >= 0 {
        return false;
    }
    if ru != rv {
        let mut a = ls.clients_of(ru).to_vec();
        a.remove(i - 1);
        let mut b = ls.clients_of(rv).to_vec();
        b.insert(after, u);
        ls.apply_if_improving(&[(ru, a), (rv, b)], delta)
    } else {
        let mut a = ls.clients_of(ru).to_vec();
        a.remove(i - 1);
        let at = if after < i { after } else { after - 1 };
        a.insert(at, u);
        ls.apply_if_improving(&[(ru, a)], delta)
    }
}

/// Moves `u` into an unused vehicle (the first empty route of each vehicle type) if that improves.
pub fn to_empty_route(ls: &mut LocalSearch, u: usize) -> bool {
    let (ru, i) = ls.position(u).expect("u assigned");
    if ls.routes[ru].len() == 1 && ls.data.vehicle_types.len() == 1 {
        return false;
    }
    let removal = ls.price(
        ls.routes[ru].vt,
        &[Piece::Pre(ru, i - 1), Piece::Suf(ru, i + 1)],
    ) - ls.routes[ru].cost;
    let mut seen = vec![false; ls.data.vehicle_types.len()];
    for r in 0..ls.routes.len() {
        let route = &ls.routes[r];
        if !route.is_empty() || seen[route.vt] {
            continue;
        }
        seen[route.vt] = true;
        let delta = removal + ls.price(route.vt, &[Piece::Pre(r, 0), Piece::One(u)]);
        if delta < 0 {
            let mut a = ls.clients_of(ru).to_vec();
            a.remove(i - 1);
            return ls.apply_if_improving(&[(ru, a), (r, vec![u])], delta);
        }
    }
    false
}
