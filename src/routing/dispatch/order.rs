//! Orders: what arrives (`OrderSpec`), what the dispatcher keeps (`Order`), and each order's fate.
//!
//! An order is in exactly one state at any time: planned on one van, unassigned (with the reason no
//! van can take it now), served, failed, or cancelled. Served, failed and cancelled are final.

use super::sites::Place;
use serde::{Deserialize, Serialize};

/// A new order as given (by an Arrow row or a Kafka message), in model units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderSpec {
    pub id: String,
    pub place: Place,
    pub delivery: Vec<i64>,
    pub pickup: Vec<i64>,
    pub service: i64,
    /// When service may start: sorted, disjoint; empty means any time.
    pub windows: Vec<(i64, i64)>,
    /// When its goods reach the depot (0: already there): the van bringing them leaves no earlier.
    /// A pickup-only order has no goods at the depot: its release binds nothing.
    pub release: i64,
    pub required: bool,
    /// For optional orders: what serving it is worth (internal cost units).
    pub prize: i64,
    pub skills: u64,
}

impl OrderSpec {
    /// Why the spec cannot be an order (None when it can). Places are checked by `Sites::check`.
    pub fn problem(&self, dims: usize) -> Option<String> {
        if self.id.is_empty() {
            return Some("order_id is empty".into());
        }
        if self.delivery.len() > dims || self.pickup.len() > dims {
            return Some(format!(
                "demand has {} dimensions, the fleet's capacity {dims}",
                self.delivery.len().max(self.pickup.len())
            ));
        }
        if self.delivery.iter().chain(&self.pickup).any(|&q| q < 0) {
            return Some("demand and pickup must be >= 0".into());
        }
        if self.service < 0 || self.release < 0 || self.prize < 0 {
            return Some("service, release and prize must be >= 0".into());
        }
        for (k, w) in self.windows.iter().enumerate() {
            if w.0 > w.1 {
                return Some(format!("time window {k} opens at {} after it closes at {}", w.0, w.1));
            }
            if k > 0 && w.0 <= self.windows[k - 1].1 {
                return Some("time windows must be sorted and disjoint".into());
            }
        }
        None
    }

    pub fn has_goods_at_depot(&self) -> bool {
        self.delivery.iter().any(|&q| q > 0)
    }

    /// When the van bringing its goods may leave the depot: its release, for an order with goods
    /// at the depot (a pickup brings none: its window says when it can be done).
    pub fn depot_release(&self) -> i64 {
        if self.has_goods_at_depot() {
            self.release
        } else {
            0
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderState {
    Planned { van: u32 },
    /// No van can take it now; it is tried again at every `improve`.
    Unassigned { reason: String },
    Served { van: u32, at: i64 },
    Failed { van: u32, at: i64, reason: String },
    Cancelled { at: i64 },
}

impl OrderState {
    pub fn name(&self) -> &'static str {
        match self {
            OrderState::Planned { .. } => "planned",
            OrderState::Unassigned { .. } => "unassigned",
            OrderState::Served { .. } => "served",
            OrderState::Failed { .. } => "failed",
            OrderState::Cancelled { .. } => "cancelled",
        }
    }
    pub fn is_open(&self) -> bool {
        matches!(self, OrderState::Planned { .. } | OrderState::Unassigned { .. })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Order {
    pub spec: OrderSpec,
    /// Its place's slot while the order is open.
    pub slot: Option<u32>,
    pub received: i64,
    pub state: OrderState,
}

impl Order {
    #[inline]
    pub fn slot(&self) -> u32 {
        self.slot.expect("an open order has a slot")
    }
    pub fn open(&self) -> i64 {
        self.spec.windows.first().map_or(0, |w| w.0)
    }
    pub fn close(&self) -> i64 {
        self.spec.windows.last().map_or(crate::routing::INF, |w| w.1)
    }
    /// The latest arrival a plan aims for: the close of its last window less `buffer`, but never
    /// before that window opens.
    pub fn planning_close(&self, buffer: i64) -> i64 {
        match self.spec.windows.last() {
            None => crate::routing::INF,
            Some(&(open, close)) => (close - buffer).max(open),
        }
    }

    /// When service starts for a van arriving at `arrival`, and whether it is late (after the last
    /// window closed: it is then served on arrival).
    #[inline]
    pub fn service_start(&self, arrival: i64) -> (i64, bool) {
        if self.spec.windows.is_empty() {
            return (arrival, false);
        }
        match self.spec.windows.iter().find(|w| w.1 >= arrival) {
            Some(w) => (w.0.max(arrival), false),
            None => (arrival, true),
        }
    }
}

/// What became of an order, as reported by the dispatcher (kept until published).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fate {
    pub order_id: String,
    /// "planned", "unassigned", "served", "failed", "cancelled" or "rejected".
    pub status: String,
    pub vehicle: Option<String>,
    pub at: i64,
    pub reason: Option<String>,
}
