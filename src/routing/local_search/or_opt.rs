//! Or-opt: move a string of two or three consecutive clients starting at `u` next to `v`, in its
//! orientation or reversed.

use super::{LocalSearch, Piece};

pub fn or_opt(ls: &mut LocalSearch, u: usize, v: usize) -> bool {
    let (ru, i) = ls.position(u).expect("u assigned");
    let (rv, j) = ls.position(v).expect("v assigned");
    for len in [2, 3] {
        let end = i + len - 1;
        if end >= ls.routes[ru].last() {
            break;
        }
        if ru == rv && (i..=end).contains(&j) {
            continue;
        }
        for after in [j, j - 1] {
            if ru == rv && (i - 1..=end).contains(&after) {
                continue;
            }
            for reversed in [false, true] {
                if try_move(ls, ru, i, end, rv, after, reversed) {
                    return true;
                }
            }
        }
    }
    false
}

fn try_move(
    ls: &mut LocalSearch,
    ru: usize,
    i: usize,
    end: usize,
    rv: usize,
    after: usize,
    reversed: bool,
) -> bool {
    use Piece::*;
    let string = if reversed {
        Rev(ru, i, end)
    } else {
        Mid(ru, i, end)
    };
    let vt_u = ls.routes[ru].vt;
    let delta = if ru != rv {
        let vt_v = ls.routes[rv].vt;
        let from = [Pre(ru, i - 1), Suf(ru, end + 1)];
        let into = [Pre(rv, after), string, Suf(rv, after + 1)];
        if ls.cannot_improve(&[(vt_u, &from), (vt_v, &into)], &[ru, rv]) {
            return false;
        }
        ls.price(vt_u, &from) + ls.price(vt_v, &into) - ls.routes[ru].cost - ls.routes[rv].cost
    } else {
        let pieces = if after < i {
            [Pre(ru, after), string, Mid(ru, after + 1, i - 1), Suf(ru, end + 1)]
        } else {
            [Pre(ru, i - 1), Mid(ru, end + 1, after), string, Suf(ru, after + 1)]
        };
        if ls.cannot_improve(&[(vt_u, &pieces)], &[ru]) {
            return false;
        }
        ls.price(vt_u, &pieces) - ls.routes[ru].cost
    };
    if delta >= 0 {
        return false;
    }
    let mut moved = ls.slice(ru, i, end);
    if reversed {
        moved.reverse();
    }
    if ru != rv {
        let mut a = ls.clients_of(ru).to_vec();
        a.drain(i - 1..end);
        let mut b = ls.clients_of(rv).to_vec();
        b.splice(after..after, moved);
        ls.apply_if_improving(&[(ru, a), (rv, b)], delta)
    } else {
        let mut a = ls.clients_of(ru).to_vec();
        a.drain(i - 1..end);
        let at = if after < i {
            after
        } else {
            after - (end - i + 1)
        };
        a.splice(at..at, moved);
        ls.apply_if_improving(&[(ru, a)], delta)
    }
}
