//! Rollout conditions: Argo's types, reasons, messages and rules, decided in the engine
//! ([`aviary_engine::conditions`]); re-exported where the controller applies them.

pub use aviary_engine::conditions::*;
