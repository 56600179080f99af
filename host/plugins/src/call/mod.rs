//! The call path: what every plugin call goes through. The Store each call gets ([`store`]:
//! deny-all WASI, the memory cap, the deadline), the per-plugin limits ([`limits`]), the `http`
//! import with its allow-list and caps ([`http`]), the `kubernetes` import with its grants ([`kubernetes`]), recorded or replayed traffic ([`recording`]),
//! the answer's bounds ([`measurement`]) and the call metrics ([`metrics`]).

pub(crate) mod http;
pub mod kubernetes;
pub(crate) mod limits;
pub mod measurement;
pub mod metrics;
pub mod notify;
pub mod recording;
pub mod router;
pub mod step;
pub(crate) mod store;
