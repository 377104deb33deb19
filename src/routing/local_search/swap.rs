//! Swap: exchange two clients, in the same route or between routes.

use super::{LocalSearch, Piece};

pub fn swap(ls: &mut LocalSearch, u: usize, v: usize) -> bool {
    use Piece::*;
    let (ru, i) = ls.position(u).expect("u assigned");
    let (rv, j) = ls.position(v).expect("v assigned");
    if ru != rv {
        let (vt_u, vt_v) = (ls.routes[ru].vt, ls.routes[rv].vt);
        let a = [Pre(ru, i - 1), One(v), Suf(ru, i + 1)];
        let b = [Pre(rv, j - 1), One(u), Suf(rv, j + 1)];
        if ls.cannot_improve(&[(vt_u, &a), (vt_v, &b)], &[ru, rv]) {
            return false;
        }
        let delta = ls.price(vt_u, &a) + ls.price(vt_v, &b) - ls.routes[ru].cost - ls.routes[rv].cost;
        if delta >= 0 {
            return false;
        }
        let mut a = ls.clients_of(ru).to_vec();
        a[i - 1] = v;
        let mut b = ls.clients_of(rv).to_vec();
        b[j - 1] = u;
        return ls.apply_if_improving(&[(ru, a), (rv, b)], delta);
    }
    let (i, j) = (i.min(j), i.max(j));
    let (x, y) = (ls.routes[ru].visits[i], ls.routes[ru].visits[j]);
    let vt = ls.routes[ru].vt;
    let adjacent = [Pre(ru, i - 1), One(y), One(x), Suf(ru, j + 1)];
    let apart = [Pre(ru, i - 1), One(y), Mid(ru, i + 1, j - 1), One(x), Suf(ru, j + 1)];
    let pieces: &[Piece] = if j == i + 1 { &adjacent } else { &apart };
    if ls.cannot_improve(&[(vt, pieces)], &[ru]) {
        return false;
    }
    let cost = ls.price(vt, pieces);
    let delta = cost - ls.routes[ru].cost;
    if delta >= 0 {
        return false;
    }
    let mut a = ls.clients_of(ru).to_vec();
    a.swap(i - 1, j - 1);
    ls.apply_if_improving(&[(ru, a)], delta)
}
