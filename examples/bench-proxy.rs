//! The benchmark's counting proxy: the integration tests' recording proxy, standing between
//! a sync tool and the local S3 server so every tool is counted the same way.
//!
//!     cargo run --release --example bench-proxy -- http://127.0.0.1:UPSTREAM
//!
//! Prints its own URL on stdout, then serves until stdin closes. `GET /__proxy/stats` answers
//! `{"requests":N,"writes":N,"body_bytes":N,"by_method":{...}}` for the requests since the
//! last `POST /__proxy/reset`.

#[path = "../tests/integration/support/proxy.rs"]
#[allow(dead_code)] // the tests use more of it than this counter does
mod proxy;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use proxy::{Proxy, Request};

#[derive(Default)]
struct Stats {
    requests: u64,
    writes: u64,
    body_bytes: u64,
    by_method: BTreeMap<String, u64>,
}

fn respond(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn main() {
    let upstream = std::env::args()
        .nth(1)
        .expect("usage: bench-proxy http://127.0.0.1:PORT");
    let stats = Arc::new(Mutex::new(Stats::default()));
    let proxy = Proxy::start(&upstream);
    let hook_stats = stats.clone();
    proxy.set_hook(Some(Arc::new(move |r: &Request| {
        let mut s = hook_stats.lock().unwrap();
        if r.target.starts_with("/__proxy/stats") {
            let methods: Vec<String> = s
                .by_method
                .iter()
                .map(|(m, n)| format!("\"{m}\":{n}"))
                .collect();
            return Some(respond(&format!(
                "{{\"requests\":{},\"writes\":{},\"body_bytes\":{},\"by_method\":{{{}}}}}",
                s.requests,
                s.writes,
                s.body_bytes,
                methods.join(",")
            )));
        }
        if r.target.starts_with("/__proxy/reset") {
            *s = Stats::default();
            return Some(respond("{}"));
        }
        s.requests += 1;
        s.writes += u64::from(r.is_write());
        s.body_bytes += r.body_len as u64;
        *s.by_method.entry(r.method.clone()).or_default() += 1;
        None
    })));
    println!("{}", proxy.url);
    // The counters above are all we keep: drain the per-request log so memory stays flat.
    let proxy = Arc::new(proxy);
    let drain = proxy.clone();
    std::thread::spawn(move || loop {
        drain.take();
        std::thread::sleep(std::time::Duration::from_secs(1));
    });
    // Serve until the benchmark closes our stdin.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
