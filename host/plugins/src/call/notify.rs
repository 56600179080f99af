//! The host's side of a notifier call: one rendered notification for one destination
//! ([`NotifyCall`]) and why it was not delivered ([`NotifyError`]). Free of any WIT version, so
//! the controller never depends on one.

use std::fmt;

use crate::failure::Failure;

/// One notification for one destination, as the `notifier` world's `notification` record.
#[derive(Debug, Clone, Copy)]
pub struct NotifyCall<'a> {
    /// The service's name as subscriptions name it (`slack`, a webhook's `<name>`).
    pub service: &'a str,
    /// The service's type (`webhook`, `slack`).
    pub service_type: &'a str,
    /// The service's configuration as JSON, secrets resolved. A first-party notifier may reach
    /// the host of its `url` (or `apiURL`) in it.
    pub config: &'a str,
    /// The subscription's recipient; empty when it names none.
    pub recipient: &'a str,
    /// The rendered template as JSON.
    pub template: &'a str,
}

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyError {
    /// The sandbox ended the call (timeout, memory, trap) or the plugin is unavailable.
    Plugin(Failure),
    /// The notifier answered that it could not deliver (its words, at most 1 KiB).
    Service {
        /// The plugin's name.
        plugin: String,
        /// Its message.
        message: String,
    },
}

impl NotifyError {
    /// The stable reason, as in the call metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            NotifyError::Plugin(f) => f.reason(),
            NotifyError::Service { .. } => "service_error",
        }
    }
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::Plugin(failure) => write!(f, "{failure}"),
            NotifyError::Service { plugin, message } => write!(f, "{plugin}: {message}"),
        }
    }
}

impl std::error::Error for NotifyError {}
