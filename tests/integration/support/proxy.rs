//! A recording HTTP/1.1 proxy between shipit and the local cloud: it logs every request
//! (method, target, headers, body length) and can answer a request itself (to inject a
//! fault). Threads, blocking I/O, loopback only; it stops when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
    /// `Action=` of a query-protocol request (CloudFormation), from its form body.
    pub action: Option<String>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this request changes the bucket (PUT, POST, DELETE; a copy is a PUT).
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "PUT" | "POST" | "DELETE")
    }
}

/// Given a request, a full HTTP response to send instead of forwarding it; an empty one
/// resets the connection without answering (a network fault). A hook may also block: it runs
/// under the proxy's lock, so every connection waits with it (a moment frozen for a test).
pub type Hook = Arc<dyn Fn(&Request) -> Option<Vec<u8>> + Send + Sync>;

/// How long a request waits before it is forwarded, on its own connection only.
pub type Delay = Arc<dyn Fn(&Request) -> std::time::Duration + Send + Sync>;

pub struct Proxy {
    pub url: String,
    log: Arc<Mutex<Vec<Request>>>,
    hook: Arc<Mutex<Option<Hook>>>,
    delay: Arc<Mutex<Option<Delay>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Proxy {
    pub fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let hook: Arc<Mutex<Option<Hook>>> = Arc::new(Mutex::new(None));
        let delay: Arc<Mutex<Option<Delay>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (log, hook, delay, stop) = (log.clone(), hook.clone(), delay.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (log, hook, delay, upstream) =
                        (log.clone(), hook.clone(), delay.clone(), upstream.clone());
                    thread::spawn(move || {
                        let _ = serve(conn, &upstream, &log, &hook, &delay);
                    });
                }
            });
        }
        Proxy {
            url: format!("http://{addr}"),
            log,
            hook,
            delay,
            stop,
            addr,
        }
    }

    pub fn set_delay(&self, delay: Option<Delay>) {
        *self.delay.lock().unwrap() = delay;
    }

    pub fn set_hook(&self, hook: Option<Hook>) {
        *self.hook.lock().unwrap() = hook;
    }

    /// Requests seen since the last call (and forgets them).
    pub fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    client: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<Request>>,
    hook: &Mutex<Option<Hook>>,
    delay: &Mutex<Option<Delay>>,
) -> std::io::Result<()> {
    // Head and body go out in one write with Nagle off: otherwise each exchange can stall
    // ~40 ms on delayed ACKs, which would be the proxy measuring itself.
    client.set_nodelay(true)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client_w = client;
    let mut up: Option<(BufReader<TcpStream>, TcpStream)> = None;
    loop {
        let Some((head, headers)) = read_head(&mut reader)? else {
            return Ok(());
        };
        let mut parts = head.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        // A client waiting for "100 Continue" before its body (botocore does) gets it from us;
        // the upstream then sees a plain request with the body already there.
        if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            client_w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let body = read_body(&mut reader, &headers, false)?;
        let action = header(&headers, "content-type")
            .filter(|t| t.starts_with("application/x-www-form-urlencoded"))
            .and_then(|_| {
                String::from_utf8_lossy(&body)
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("Action=").map(str::to_owned))
            });
        let req = Request {
            method: method.clone(),
            target,
            headers: headers.clone(),
            body_len: body.len(),
            action,
        };
        let canned = hook.lock().unwrap().clone().and_then(|h| h(&req));
        // A delay waits on this connection alone (the benchmark's network model).
        let wait = delay.lock().unwrap().clone().map(|d| d(&req));
        if let Some(wait) = wait {
            thread::sleep(wait);
        }
        log.lock().unwrap().push(req);
        if let Some(resp) = canned {
            if resp.is_empty() {
                let _ = client_w.shutdown(Shutdown::Both);
                return Ok(());
            }
            client_w.write_all(&resp)?;
            continue;
        }
        if up.is_none() {
            let s = TcpStream::connect(upstream)?;
            s.set_nodelay(true)?;
            up = Some((BufReader::new(s.try_clone()?), s));
        }
        let (up_r, up_w) = up.as_mut().unwrap();
        // Re-frame the body with Content-Length (a chunked request was read whole).
        let mut out = format!("{head}\r\n");
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("transfer-encoding")
                || k.eq_ignore_ascii_case("content-length")
                || k.eq_ignore_ascii_case("expect")
            {
                continue;
            }
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "PUT" || method == "POST" {
            out.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        out.push_str("\r\n");
        let mut request = out.into_bytes();
        request.extend_from_slice(&body);
        up_w.write_all(&request)?;
        // Skip interim (1xx) responses: the final one follows.
        let (status, resp_headers) = loop {
            let Some((status, resp_headers)) = read_head(up_r)? else {
                let _ = client_w.shutdown(Shutdown::Both);
                return Ok(());
            };
            if !status
                .split_whitespace()
                .nth(1)
                .is_some_and(|c| c.starts_with('1'))
            {
                break (status, resp_headers);
            }
        };
        let no_body = method == "HEAD"
            || status
                .split_whitespace()
                .nth(1)
                .is_some_and(|c| c == "204" || c == "304");
        let resp_body = if no_body {
            Vec::new()
        } else {
            read_body(up_r, &resp_headers, true)?
        };
        let mut out = format!("{status}\r\n");
        for (k, v) in &resp_headers {
            if k.eq_ignore_ascii_case("transfer-encoding")
                || k.eq_ignore_ascii_case("content-length")
            {
                continue;
            }
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        let declared = header(&resp_headers, "content-length").map(str::to_string);
        match (no_body, declared) {
            (true, Some(n)) => out.push_str(&format!("content-length: {n}\r\n")),
            (true, None) => {}
            (false, _) => out.push_str(&format!("content-length: {}\r\n", resp_body.len())),
        }
        out.push_str("\r\n");
        let mut response = out.into_bytes();
        response.extend_from_slice(&resp_body);
        client_w.write_all(&response)?;
        if header(&resp_headers, "connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
            up = None;
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

type Head = (String, Vec<(String, String)>);

fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut first = String::new();
    if r.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some((first.trim_end().to_string(), headers)))
}

/// Reads a body framed by Content-Length or chunked encoding; with neither, a response body
/// runs to the end of the connection (`to_eof`), a request has none.
fn read_body(
    r: &mut impl BufRead,
    headers: &[(String, String)],
    to_eof: bool,
) -> std::io::Result<Vec<u8>> {
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    }
    if let Some(n) = header(headers, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0u8; n];
        r.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if to_eof {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}
