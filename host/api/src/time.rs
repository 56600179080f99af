//! Kubernetes' `metav1.Time`: an RFC 3339 timestamp, written with second precision in UTC.
//!
//! Argo's status fields (`startedAt`, `finishedAt`, `resumeAt`, `abortedAt`, ...) are
//! `metav1.Time`. We keep them as chrono's `DateTime<Utc>` so the engine can do arithmetic on them
//! directly, and we write them exactly as Go does (`2024-05-01T10:00:00Z`), so that a status
//! written by Aviary reads the same as one written by Argo.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as Kubernetes writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub DateTime<Utc>);

impl Time {
    /// Wraps a chrono timestamp.
    pub fn new(t: DateTime<Utc>) -> Self {
        Time(t)
    }

    /// Parses an RFC 3339 timestamp (any offset; converted to UTC).
    pub fn parse(s: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| Time(t.with_timezone(&Utc)))
    }
}

impl From<DateTime<Utc>> for Time {
    fn from(t: DateTime<Utc>) -> Self {
        Time(t)
    }
}

impl From<Time> for DateTime<Utc> {
    fn from(t: Time) -> Self {
        t.0
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Go's metav1.Time marshals with RFC3339 (second precision), always in UTC.
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        Time::parse(&s).map_err(|e| serde::de::Error::custom(format!("invalid timestamp {s:?}: {e}")))
    }
}

impl schemars::JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_second_precision_utc_like_go() {
        let t = Time::parse("2024-05-01T12:00:00.750+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-05-01T10:00:00Z");
    }

    #[test]
    fn round_trips_through_json() {
        let t: Time = serde_json::from_str("\"2024-05-01T10:00:00Z\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2024-05-01T10:00:00Z\"");
    }

    #[test]
    fn rejects_garbage_with_the_value_in_the_message() {
        let err = serde_json::from_str::<Time>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("\"yesterday\""), "{err}");
    }
}
