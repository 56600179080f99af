//! Helpers shared by the CLI's offline tests: run the binary, and a one-route JSON server.
#![allow(dead_code, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `aviary` binary. Compiled components are cached across runs: compiling the Python
/// and JavaScript components (an interpreter each) takes seconds.
pub fn aviary(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aviary"))
        .args(args)
        .env("AVIARY_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("aviary-plugin-cache"))
        .output()
        .expect("run aviary")
}

/// stdout parsed as JSON, once the command succeeded (the failure shows both streams).
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// A file a first-party provider ships for its tests, `plugins/<dir>/<file>` (dir such as
/// `graphite/test`), as a path the binary can open.
pub fn fixture(dir: &str, file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins").join(dir).join(file).display().to_string()
}

/// `aviary plugin test <plugin> --config @<dir>/config.json --replay <dir>/replay.json <extra>`
/// for a recording shipped in `plugins/<dir>`: every one of its `measurements` must be as
/// recorded. Returns stdout for the caller's look at single measurements.
pub fn replays_shipped(plugin: &str, dir: &str, extra: &[&str], measurements: usize) -> String {
    let config = format!("@{}", fixture(dir, "config.json"));
    let replay = fixture(dir, "replay.json");
    let args = [&["plugin", "test", plugin, "--config", &config, "--replay", &replay][..], extra].concat();
    let out = aviary(&args);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.trim_end().ends_with(&format!("{measurements} passed, 0 failed")), "{stdout}");
    stdout
}

/// stdout then stderr, as text.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A one-route HTTP server on loopback answering every request with `body` as JSON; returns
/// `host:port`.
pub fn serve(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}
