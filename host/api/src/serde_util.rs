//! Small helpers that reproduce Go's `omitempty` when serializing.

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Go's string enums, where `""` is a valid (unset) value: `None` is written `""`, and `""` (or
/// null) reads as `None`. Used for fields Argo always writes, such as an experiment analysis's
/// `phase` before its run exists.
pub(crate) mod empty_as_none {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<T: Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => v.serialize(s),
            None => s.serialize_str(""),
        }
    }

    pub(crate) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        let value = Option::<serde_json::Value>::deserialize(d)?;
        match value {
            None => Ok(None),
            Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
            Some(v) => T::deserialize(v).map(Some).map_err(serde::de::Error::custom),
        }
    }
}
