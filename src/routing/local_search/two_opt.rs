//! 2-opt: reverse the part of a route between two neighbouring clients.

use super::{LocalSearch, Piece};

pub fn two_opt(ls: &mut LocalSearch, u: usize, v: usize) -> bool {
    use Piece::*;
    let (ru, i) = ls.position(u).expect("u assigned");
    let (rv, j) = ls.position(v).expect("v assigned");
    if ru != rv {
        return false;
    }
    let (a, b) = (i.min(j), i.max(j));
    if b < a + 2 {
        return false;
    }
    // Positions a+1..=b reversed: a is followed by b.
    let vt = ls.routes[ru].vt;
    let pieces = [Pre(ru, a), Rev(ru, a + 1, b), Suf(ru, b + 1)];
    if ls.cannot_improve(&[(vt, &pieces)], &[ru]) {
        return false;
    }
    let delta = ls.price(vt, &pieces) - ls.routes[ru].cost;
    if delta >= 0 {
        return false;
    }
    let mut c = ls.clients_of(ru).to_vec();
    c[a..b].reverse();
    ls.apply_if_improving(&[(ru, c)], delta)
}
