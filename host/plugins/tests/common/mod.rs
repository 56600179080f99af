//! Shared helpers of the plugin host's integration tests.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;

use aviary_plugins::{HostConfig, PluginHost};

/// A host with a compile cache shared by the test binaries (it is content-addressed, so sharing
/// is safe and keeps the tests fast).
pub fn host() -> PluginHost {
    PluginHost::new(HostConfig { cache_dir: Some(cache_dir()), ..HostConfig::default() }).expect("host")
}

pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aviary-plugin-cache")
}

/// A test component built by the build script from plugins/testing.
pub fn test_component(file: &str) -> PathBuf {
    PathBuf::from(env!("AVIARY_WASM_DIR")).join(file)
}

pub fn read_component(file: &str) -> Vec<u8> {
    std::fs::read(test_component(file)).expect("test component built by build.rs")
}

/// Serves `router` on a fresh port of `ip` (a loopback address) and returns its address.
pub async fn serve(ip: &str, router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    addr
}

/// Accepts connections and never answers, holding them open.
pub async fn black_hole() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}
