//! Reliability fixes that need the real binary: what is refused before any request.

use crate::support::*;

#[test]
fn a_header_value_that_cannot_be_sent_is_refused_before_any_request() {
    let w = World::new("bad-header");
    w.write("index.html", "<html></html>");
    w.write("assets/app.js", "x");
    for (field, value, words) in [
        ("cache_control", "no-cache\\r\\nX-Injected: 1", "control"),
        ("content_type", "", "empty"),
        ("content_type", "html", "media type"),
    ] {
        let config = w.write_config(&format!(
            "[[headers]]\nglob = \"**/*.js\"\n{field} = \"{value}\"\n"
        ));
        w.proxy.take();
        let out = w.run("deploy", &["--config", &config]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(words), "{field}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("**/*.js"),
            "names the rule: {}",
            stderr(&out)
        );
        assert!(w.proxy.take().is_empty(), "{field}: a request was made");
    }
}

/// A server on 127.0.0.1 that runs `serve` on every connection in its own thread, until
/// dropped.
struct Server {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(serve: fn(std::net::TcpStream)) -> Server {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        held.push(std::thread::spawn(move || serve(stream)));
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        });
        Server {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads the request, then says nothing for a minute.
fn stall(mut stream: std::net::TcpStream) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(60)));
    let _ = stream.read(&mut buf);
    let _ = stream.read(&mut buf);
}

/// Answers 200 with a body of 32 MiB.
fn huge(mut stream: std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let size = 32 * 1024 * 1024;
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes());
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..size / chunk.len() {
        if stream.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// `shipit verify --url URL --verify-timeout SECONDS --json` against a broken site: it must
/// exit 8; returns the apex check's cause.
fn apex_cause(w: &World, url: &str, timeout: &str) -> String {
    let out = w
        .cmd(&[
            "verify",
            "--url",
            url,
            "--verify-timeout",
            timeout,
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 8);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let apex = &report["verify"]["checks"][0];
    assert_eq!(apex["name"], "apex");
    apex["cause"].as_str().unwrap_or_default().to_string()
}

#[test]
fn verification_ends_at_its_deadline_when_the_site_never_answers() {
    let w = World::new("verify-stall");
    let server = Server::start(stall);
    let started = std::time::Instant::now();
    let cause = apex_cause(&w, &server.url, "3");
    let took = started.elapsed();
    // Every request of an attempt waited its turn before: 15 s each, minutes in all. Now the
    // whole verification ends at its deadline (at least 10 s).
    assert!(
        took.as_secs() < 20,
        "verify took {took:?} for a 10 s deadline"
    );
    assert!(cause.contains("deadline"), "{cause}");
}

#[test]
fn an_oversize_answer_is_diagnosed_as_too_large_not_unreachable() {
    let w = World::new("verify-huge");
    let server = Server::start(huge);
    let cause = apex_cause(&w, &server.url, "0");
    assert!(cause.contains("larger than 16 MiB"), "{cause}");
    assert!(!cause.contains("DNS"), "{cause}");
}

/// Runs a command, killing it (and failing the test) if it outlives `limit`.
fn output_within(
    mut cmd: std::process::Command,
    limit: std::time::Duration,
) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn an_s3_endpoint_that_never_answers_fails_the_deploy_naming_it() {
    let w = World::new("s3-stall");
    w.write("index.html", "<html></html>");
    let server = Server::start(stall);
    let config = w.write_config("[aws]\nread_timeout_seconds = 1\n[upload]\nmax_attempts = 2\n");
    let mut cmd = w.cmd(&[
        "deploy",
        w.site().to_str().unwrap(),
        "--bucket",
        &w.bucket,
        "--config",
        &config,
    ]);
    cmd.env("AWS_ENDPOINT_URL", &server.url);
    let out = output_within(cmd, std::time::Duration::from_secs(60));
    assert_exit(&out, 6);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("no answer from {}", server.url)),
        "{err}"
    );
    assert!(err.contains("[aws] read_timeout_seconds"), "{err}");
}

#[test]
fn a_remote_key_with_a_control_character_is_pruned_and_the_deploy_finishes() {
    let w = World::new("ctrl-key");
    w.write("index.html", "<html></html>");
    let odd = "old/bell\u{7}name.txt";
    block(async {
        w.s3.put_object()
            .bucket(&w.bucket)
            .key(odd)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    });
    w.write("other.txt", "o");
    let out = w.deploy(&[]);
    assert!(!w.objects().contains_key(odd), "{:?}", w.objects().keys());
    assert!(w.objects().contains_key("other.txt"));
    // The name is shown escaped: the BEL never reaches the terminal.
    let detail = w.deploy(&["-v"]);
    assert!(!stderr(&out).contains('\u{7}') && !stderr(&detail).contains('\u{7}'));
}

#[test]
fn a_file_name_with_a_newline_or_an_escape_cannot_split_or_drive_the_output() {
    let w = World::new("odd-name");
    w.write("index.html", "<html></html>");
    w.write("two\nlines\u{1b}[2J.txt", "x");
    w.proxy.take();
    let out = w.run("deploy", &[]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert_eq!(
        err.lines().count(),
        2,
        "an error line and a hint line: {err:?}"
    );
    assert!(err.contains("two\\nlines\\u{1b}[2J.txt"), "{err:?}");
    assert!(
        w.proxy.take().iter().all(|r| r.method == "GET"),
        "nothing written"
    );
}

#[test]
fn a_file_rewritten_during_its_multipart_upload_fails_that_file_and_a_rerun_converges() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let w = World::new("mp-mutate");
    w.write("index.html", "<html></html>");
    // 8 parts of 5 MiB: more than the 4 in flight, so later parts are read after the hold.
    let size = 38 * 1024 * 1024;
    let old: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let path = w.write("big.bin", &old);
    let config = w.write_config("[upload]\nmultipart_threshold_mib = 5\npart_size_mib = 5\n");
    let (reached, released) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    {
        let (reached, released) = (reached.clone(), released.clone());
        w.proxy.set_hook(Some(Arc::new(move |r: &Request| {
            if r.method == "PUT"
                && r.target.contains("/big.bin?")
                && r.target.contains("partNumber=2")
            {
                reached.store(true, Ordering::SeqCst);
                let start = std::time::Instant::now();
                while !released.load(Ordering::SeqCst) && start.elapsed().as_secs() < 30 {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            None
        })));
    }
    let child = w
        .cmd(&[
            "deploy",
            w.site().to_str().unwrap(),
            "--bucket",
            &w.bucket,
            "--config",
            &config,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !reached.load(Ordering::SeqCst) {
        assert!(start.elapsed().as_secs() < 60, "part 2 never came");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // The build is rewritten (same size, other bytes) while part 2 is in flight.
    let new: Vec<u8> = (0..size).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &new).unwrap();
    released.store(true, Ordering::SeqCst);
    let out = child.wait_with_output().unwrap();
    w.proxy.set_hook(None);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("changed while it was being uploaded"),
        "{}",
        stderr(&out)
    );
    assert!(
        !w.objects().contains_key("big.bin"),
        "the mixed upload was aborted, not completed"
    );
    // A re-run uploads what is there now, and its recorded hash is its content's.
    w.deploy(&["--config", &config]);
    assert_eq!(w.get("big.bin"), new);
    let md5 = format!("{:x}", md5::compute(&new));
    assert_eq!(w.head("big.bin").metadata.get("shipit-md5"), Some(&md5));
}

#[test]
fn an_unreadable_release_record_is_named_and_skipped_not_fatal() {
    let w = World::new("bad-record");
    w.write("index.html", "<html>v1</html>");
    w.deploy(&[]);
    let record = release_records(&w).remove(0);
    damage(&w, &record, b"{ damaged".to_vec());
    let out = w
        .cmd(&["releases", "--bucket", &w.bucket])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(
        stderr(&out).contains(&format!("skipped {record}")),
        "{}",
        stderr(&out)
    );
    // Deploys go on: the prune keeps what the unreadable record might still reference.
    w.write("index.html", "<html>v2</html>");
    w.deploy(&[]);
    assert_eq!(w.get("index.html"), b"<html>v2</html>");
}

/// The keys of the release records, oldest first.
fn release_records(w: &World) -> Vec<String> {
    let mut keys: Vec<String> = w
        .objects_with_state()
        .into_keys()
        .filter(|k| k.starts_with(".shipit/releases/"))
        .collect();
    keys.sort();
    keys
}

fn damage(w: &World, key: &str, body: Vec<u8>) {
    block(async {
        w.s3.put_object()
            .bucket(&w.bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn a_rollback_does_not_pass_over_an_unreadable_record_that_may_be_the_one_meant() {
    let w = World::new("bad-target");
    for v in ["v1", "v2", "v3"] {
        w.write("index.html", format!("<html>{v}</html>"));
        w.deploy(&[]);
    }
    let records = release_records(&w);
    assert_eq!(records.len(), 3);
    // v2's record, whole JSON but for one digest that is not an MD5.
    let text = w.get(&records[1]);
    let text = String::from_utf8(text).unwrap();
    let md5 = text.split("\"md5\":\"").nth(1).unwrap()[..32].to_string();
    let damaged = text.replace(&md5, &format!("+{}", &md5[1..]));
    damage(&w, &records[1], damaged.into_bytes());
    w.proxy.take();
    let out = w
        .cmd(&["rollback", "--bucket", &w.bucket])
        .output()
        .unwrap();
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("cannot be read"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was written"),
        "{}",
        stderr(&out)
    );
    assert!(w.writes().is_empty());
    assert_eq!(w.get("index.html"), b"<html>v3</html>");
}
