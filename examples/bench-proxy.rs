//! The benchmark's counting proxy: the integration tests' recording proxy, standing between
//! a sync tool and the local S3 server so every tool is counted the same way.
//!
//!     cargo run --release --example bench-proxy -- http://127.0.0.1:UPSTREAM [LATENCY_MS [MBIT_S]]
//!
//! Prints its own URL on stdout, then serves until stdin closes. `GET /__proxy/stats` answers
//! `{"requests":N,"writes":N,"body_bytes":N,"by_method":{...}}` for the requests since the
//! last `POST /__proxy/reset` (ListObjects GETs counted as `LIST`).
//!
//! The network model (both 0 by default: loopback as it is): each request waits LATENCY_MS
//! before it is forwarded (a round trip to S3 from a runner in its region is ~20 ms), and
//! request bodies share one link of MBIT_S megabits a second (each body waits for its turn on
//! the link and its transfer time). Connections wait independently, as on a real network: the
//! latency costs a tool time only where it waits for answers one after another.

#[path = "../tests/integration/support/proxy.rs"]
#[allow(dead_code)] // the tests use more of it than this counter does
mod proxy;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// One shared uplink: when it is next free.
struct Link {
    bytes_per_sec: f64,
    free_at: Mutex<Instant>,
}

impl Link {
    /// How long a body of `len` bytes waits: its turn on the link, then its transfer.
    fn delay(&self, len: usize) -> Duration {
        if self.bytes_per_sec <= 0.0 || len == 0 {
            return Duration::ZERO;
        }
        let transfer = Duration::from_secs_f64(len as f64 / self.bytes_per_sec);
        let now = Instant::now();
        let mut free_at = self.free_at.lock().unwrap();
        let start = (*free_at).max(now);
        *free_at = start + transfer;
        *free_at - now
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let upstream = args
        .next()
        .expect("usage: bench-proxy http://127.0.0.1:PORT [LATENCY_MS [MBIT_S]]");
    let latency = Duration::from_millis(args.next().map_or(0, |a| a.parse().expect("LATENCY_MS")));
    let link = Link {
        bytes_per_sec: args
            .next()
            .map_or(0.0, |a| a.parse::<f64>().expect("MBIT_S"))
            * 1e6
            / 8.0,
        free_at: Mutex::new(Instant::now()),
    };
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
        // A listing is a GET too; counted apart, so a no-op's requests can be told apart.
        let kind = if r.method == "GET" && r.target.contains("list-type=") {
            "LIST".to_string()
        } else {
            r.method.clone()
        };
        *s.by_method.entry(kind).or_default() += 1;
        None
    })));
    proxy.set_delay(Some(Arc::new(move |r: &Request| {
        if r.target.starts_with("/__proxy/") {
            return Duration::ZERO;
        }
        latency + link.delay(r.body_len)
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
