//! A condition evaluator whose init function (run once by the host at load time, to snapshot its
//! memory) loops forever. The host must give up at the plugin's deadline, load the component as
//! it is, and remember the failure by digest, so that a reload of the registry does not wait for
//! the deadline again. Its evaluation itself is honest: `result == true`.

use aviary_plugin_sdk::{Condition, Value, export_condition, export_initialize};

fn initialize() {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

struct LoopingInit;

impl Condition for LoopingInit {
    fn evaluate(_expression: &str, result: Value) -> Result<bool, String> {
        Ok(result == Value::Bool(true))
    }
}

export_condition!(LoopingInit);
export_initialize!(initialize);
