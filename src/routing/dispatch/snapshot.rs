//! Snapshots: the whole dispatcher in bytes (fleet, settings, places, orders, vans, clock, the
//! fates not yet taken), so a restored dispatcher continues exactly as the original would have.
//! Matrices over coordinates are computed again from the places (the same arithmetic gives the
//! same values); given matrices travel in the snapshot.

use super::fleet::{Fleet, Settings};
use super::order::{Fate, Order};
use super::sites::{Sites, SitesState};
use super::state::{Dispatcher, Stats, VanState};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"FSDP";
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct State {
    fleet: Fleet,
    settings: Settings,
    sites: SitesState,
    orders: Vec<Order>,
    vans: Vec<VanState>,
    now: i64,
    improve_count: u64,
    fates: Vec<Fate>,
    stats: Stats,
}

impl Dispatcher {
    pub fn snapshot(&self) -> Vec<u8> {
        let state = State {
            fleet: self.fleet.clone(),
            settings: self.settings.clone(),
            sites: self.sites.state(),
            orders: self.orders.clone(),
            vans: self.vans.clone(),
            now: self.now,
            improve_count: self.improve_count,
            fates: self.fates.clone(),
            stats: self.stats.clone(),
        };
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        out.extend(postcard::to_stdvec(&state).expect("the state serialises"));
        out
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 5 || &bytes[..4] != MAGIC {
            return Err(Error::snapshot("not a dispatcher snapshot (bad magic)"));
        }
        if bytes[4] != VERSION {
            return Err(Error::snapshot(format!("dispatcher snapshot version {} is not supported (expected {VERSION})", bytes[4])));
        }
        let state: State = postcard::from_bytes(&bytes[5..]).map_err(|e| Error::snapshot(format!("corrupt dispatcher snapshot: {e}")))?;
        let by_id = state.orders.iter().enumerate().map(|(k, o)| (o.spec.id.clone(), k as u32)).collect();
        let dispatcher = Dispatcher {
            fleet: state.fleet,
            settings: state.settings,
            sites: Sites::from_state(state.sites)?,
            orders: state.orders,
            by_id,
            vans: state.vans,
            now: state.now,
            improve_count: state.improve_count,
            fates: state.fates,
            stats: state.stats,
        };
        dispatcher.check_invariants().map_err(|e| Error::snapshot(format!("inconsistent dispatcher snapshot: {e}")))?;
        Ok(dispatcher)
    }
}
