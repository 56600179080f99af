//! The controller's error type. Reconcile errors are retried with back-off; each names what
//! failed so that the log line and the `ReconciliationError` condition say something useful.

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the controller was doing.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be (de)serialised.
    #[error("{action}: {source}")]
    Serde {
        /// What the controller was doing.
        action: String,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// The object is missing something the controller needs (a namespace, a template...).
    #[error("{0}")]
    Invalid(String),
    /// A traffic router failed (its words, or the sandbox's reason): the reconcile stops before
    /// anything is scaled, and is retried.
    #[error("traffic routing: {0}")]
    Router(String),
    /// The controller could not start (its configuration, client or plugin host).
    #[error("{what}: {source}")]
    Startup {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The reconcile panicked; caught by [`crate::panic_guard`] and retried with back-off.
    #[error("reconcile of {object} panicked: {message}")]
    Panic {
        /// `Kind namespace/name`.
        object: String,
        /// The panic's message.
        message: String,
    },
}

impl Error {
    /// Wraps a client error with what the controller was doing.
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }

    /// Wraps a serde error with what the controller was doing.
    pub fn serde(action: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let action = action.into();
        move |source| Error::Serde { action, source }
    }

    /// True for an optimistic-concurrency conflict (409): the object changed under us and the
    /// next reconcile sees the new version.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube { source: kube::Error::Api(s), .. } if s.code == 409)
    }

    /// How long to wait before the next reconcile after this error: a conflict at once (the next
    /// reconcile sees the new version), a panic with the object's back-off, anything else 5 s.
    pub fn retry_after(&self, ctx: &crate::Context) -> std::time::Duration {
        match self {
            _ if self.is_conflict() => std::time::Duration::from_millis(200),
            Error::Panic { object, .. } => ctx.panics.retry_after(object),
            _ => std::time::Duration::from_secs(5),
        }
    }

    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } if self.is_conflict() => "conflict",
            Error::Kube { .. } => "kube",
            Error::Serde { .. } => "serde",
            Error::Invalid(_) => "invalid",
            Error::Router(_) => "router",
            Error::Startup { .. } => "startup",
            Error::Panic { .. } => "panic",
        }
    }
}

/// True when a client error is a 404.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// True when the API server refused a write as too large: 413 from its own body limit, or etcd's
/// "request is too large" passed on as a server error.
pub fn is_too_large(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 413 || s.message.contains("too large"))
}

/// True when a client error is a 409 "AlreadyExists".
pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}
