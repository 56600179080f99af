//! A condition evaluator that misbehaves when the expression asks it to: `loop`, `memory-bomb`,
//! `panic`. Any other expression evaluates to `result == true`. Tests use it to show that a
//! condition plugin's deadline (1 s by default) and memory cap hold too.
//!
//! It is also pre-initialised: its init function leaves 41 in a static, and the expression
//! `preinit` takes that number and adds one, true only if the call started from the init's
//! snapshot (41) in a fresh instance (not 42 left by an earlier call).

use std::sync::atomic::{AtomicU32, Ordering};

use aviary_plugin_sdk::{Condition, Value, export_condition, export_initialize};

static STATE: AtomicU32 = AtomicU32::new(0);

fn initialize() {
    STATE.store(41, Ordering::SeqCst);
}

struct Hostile;

impl Condition for Hostile {
    fn evaluate(expression: &str, result: Value) -> Result<bool, String> {
        match expression {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0x5A; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the condition panicked on purpose"),
            "preinit" => Ok(STATE.fetch_add(1, Ordering::SeqCst) == 41),
            _ => Ok(result == Value::Bool(true)),
        }
    }
}

export_condition!(Hostile);
export_initialize!(initialize);
