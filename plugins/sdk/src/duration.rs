//! Go's `time.ParseDuration`, for the duration fields of Argo's provider blocks (`interval`,
//! `timeout`, ...): the one port the host uses too, from the crate both share.

pub use aviary_value::duration::{GoDurationError, parse_go_duration};
