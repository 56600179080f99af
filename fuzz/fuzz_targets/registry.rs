//! The plugin registry as an operator may write it in the `aviary-config` ConfigMap: parsed, and
//! each entry validated on its own under the document's policy (a bad entry is an error naming
//! its field, never a panic); an `oci://` location that parses prints back as itself.
#![no_main]

use aviary_boundary::oci::OciLocation;
use aviary_boundary::registry::RegistryFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(location) = OciLocation::parse(text.trim()) {
        assert_eq!(OciLocation::parse(&location.to_string()).as_ref(), Ok(&location));
    }
    let Ok(file) = RegistryFile::parse(text) else { return };
    for entry in &file.plugins {
        match entry.validate_with(&file.policy) {
            Ok(spec) => assert_eq!(spec.name, entry.name),
            Err(e) => assert!(e.to_string().starts_with(&format!("plugin {:?}: ", entry.name)), "{e}"),
        }
    }
});
