//! The analysis state machine (reference §3; Argo `analysis/analysis.go`,
//! `utils/analysis/helpers.go`, `utils/evaluate/evaluate.go`).
//!
//! Evaluating a success or failure condition is the condition plugin's job; this module takes
//! the *results* of those evaluations, so it stays pure and testable without Wasm.

pub mod args;
pub mod measurement;
pub mod metric;
pub mod reconcile;
pub mod retention;
pub mod run;
pub mod schedule;
