//! Extended JSON as plugins write it: any text either parses or is refused with a position, and
//! what parses prints in a canonical form that parses back to itself.
#![no_main]

use aviary_value::Value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Value::parse(text) {
        Ok(v) => {
            let canonical = v.to_string();
            let again = Value::parse(&canonical).expect("the canonical form parses");
            assert_eq!(again.to_string(), canonical, "the canonical form is a fixed point");
            let _ = v.is_empty_result();
        }
        Err(e) => assert!(e.offset <= text.len(), "{e}"),
    }
});
