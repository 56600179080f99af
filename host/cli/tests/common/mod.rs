//! Helpers shared by the CLI's offline tests: run the binary, and a one-route JSON server.
#![allow(dead_code, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
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
