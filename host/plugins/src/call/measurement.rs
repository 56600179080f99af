//! A provider's measurement as the host hands it on: the validated
//! [`aviary_boundary::measurement`] types, which hold every bound and check (each contract
//! version converts its WIT record to and from them, e.g. `contract::v0_1::convert`).

pub use aviary_boundary::measurement::*;
