//! Logging into the host's logs, where each line is tagged with the plugin's name.
//!
//! Both worlds import the same `aviary:plugin/log` interface; these functions call it through the
//! provider bindings, which is the same import for a condition component.

use crate::provider::bindings::aviary::plugin::log::{Level, log};

log_functions!();
