//! Time arithmetic that cannot panic.
//!
//! chrono's `DateTime + Duration` panics when the result leaves its range (about ±262,000
//! years). The times and durations the engine adds come from objects (a status timestamp, a
//! pause or interval a user wrote) and from plugins, so every addition goes through [`after`],
//! which saturates instead: at the last second Kubernetes can write (`9999-12-31T23:59:59Z`; a
//! `metav1.Time` has four year digits, and a later time in a status would be refused, or worse,
//! make the object unreadable), or at its first. "Never" is a correct reading of a deadline that
//! far away.

use chrono::{DateTime, Duration, Utc};

/// The last instant a Kubernetes timestamp can hold: 9999-12-31T23:59:59Z.
pub fn end_of_time() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first instant a Kubernetes timestamp can hold: 0001-01-01T00:00:00Z.
pub fn start_of_time() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `t + d`, within [`start_of_time`] and [`end_of_time`].
pub fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let sum = t.checked_add_signed(d).unwrap_or(if d < Duration::zero() { start_of_time() } else { end_of_time() });
    sum.clamp(start_of_time(), end_of_time())
}

/// How long from `now` until `at`, as a requeue delay: zero when it has passed.
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> std::time::Duration {
    at.signed_duration_since(now).to_std().unwrap_or_default()
}

/// `t + seconds`, saturating as [`after`] does.
pub fn after_seconds(t: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    after(t, Duration::try_seconds(seconds).unwrap_or(if seconds < 0 { Duration::MIN } else { Duration::MAX }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_past_the_end_of_time_saturate() {
        let t = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(after_seconds(t, 10), DateTime::from_timestamp(10, 0).unwrap());
        assert_eq!(after(DateTime::<Utc>::MAX_UTC, Duration::seconds(1)), end_of_time());
        assert_eq!(after(t, Duration::MAX), end_of_time());
        assert_eq!(after(t, Duration::MIN), start_of_time());
        assert_eq!(after_seconds(t, i64::MAX), end_of_time());
        // Both ends are what a Kubernetes timestamp can say.
        assert_eq!(aviary_api::Time(end_of_time()).to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(aviary_api::Time(start_of_time()).to_string(), "0001-01-01T00:00:00Z");
    }
}
