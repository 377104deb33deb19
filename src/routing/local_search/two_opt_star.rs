//! 2-opt*: exchange the tails of two routes, so that `u` is followed by `v` (or by `v`'s successor).

use super::{LocalSearch, Piece};

pub fn two_opt_star(ls: &mut LocalSearch, u: usize, v: usize) -> bool {
    use Piece::*;
    let (ru, i) = ls.position(u).expect("u assigned");
    let (rv, j) = ls.position(v).expect("v assigned");
    if ru == rv {
        return false;
    }
    let (vt_u, vt_v) = (ls.routes[ru].vt, ls.routes[rv].vt);
    let old = ls.routes[ru].cost + ls.routes[rv].cost;
    // (tail of rv taken by ru starts at position t; rv keeps positions ..t-1)
    for t in [j, j + 1] {
        let a = [Pre(ru, i), Suf(rv, t)];
        let b = [Pre(rv, t - 1), Suf(ru, i + 1)];
        if ls.cannot_improve(&[(vt_u, &a), (vt_v, &b)], &[ru, rv]) {
            continue;
        }
        let delta = ls.price(vt_u, &a) + ls.price(vt_v, &b) - old;
        if delta < 0 {
            let cu = ls.clients_of(ru).to_vec();
            let cv = ls.clients_of(rv).to_vec();
            let mut a = cu[..i].to_vec();
            a.extend_from_slice(&cv[t - 1..]);
            let mut b = cv[..t - 1].to_vec();
            b.extend_from_slice(&cu[i..]);
            return ls.apply_if_improving(&[(ru, a), (rv, b)], delta);
        }
    }
    false
}
