//! Logging into the host's logs, where each line is tagged with the plugin's name.
//!
//! Both worlds import the same `aviary:plugin/log` interface; these functions call it through the
//! provider bindings, which is the same import for a condition component.

use crate::provider::bindings::aviary::plugin::log::{Level, log};

/// Logs at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}
