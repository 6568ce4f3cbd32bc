use std::io::Read;

use super::*;

fn entry(name: &str, data: &[u8], executable: bool) -> Entry {
    Entry {
        name: name.into(),
        data: data.to_vec(),
        executable,
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a zip back through its central directory, as unzip does:
/// (name, unix mode, dos date, bytes) of each entry, checking each CRC.
fn unzip(z: &[u8]) -> Vec<(String, u32, u16, Vec<u8>)> {
    let end = z.len() - 22;
    assert_eq!(u32_at(z, end), 0x0605_4b50, "end of central directory");
    let count = u16_at(z, end + 10) as usize;
    let mut at = u32_at(z, end + 16) as usize;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(z, at), 0x0201_4b50);
        let method = u16_at(z, at + 10);
        let date = u16_at(z, at + 14);
        let crc = u32_at(z, at + 16);
        let csize = u32_at(z, at + 20) as usize;
        let size = u32_at(z, at + 24) as usize;
        let name_len = u16_at(z, at + 28) as usize;
        let mode = u32_at(z, at + 38) >> 16;
        let local = u32_at(z, at + 42) as usize;
        let name = String::from_utf8(z[at + 46..at + 46 + name_len].to_vec()).unwrap();
        assert_eq!(u32_at(z, local), 0x0403_4b50);
        let body_at = local + 30 + u16_at(z, local + 26) as usize + u16_at(z, local + 28) as usize;
        let body = &z[body_at..body_at + csize];
        let data = match method {
            0 => body.to_vec(),
            8 => {
                let mut d = Vec::new();
                flate2::read::DeflateDecoder::new(body)
                    .read_to_end(&mut d)
                    .unwrap();
                d
            }
            m => panic!("method {m}"),
        };
        assert_eq!(data.len(), size);
        assert_eq!(crc32fast::hash(&data), crc, "{name}");
        out.push((name, mode, date, data));
        at += 46 + name_len;
    }
    out
}

#[test]
fn the_zip_reads_back_sorted_with_fixed_modes_and_date() {
    let big = "print('hello')\n".repeat(200);
    let p = build(vec![
        entry("b/run.sh", b"#!/bin/sh\n", true),
        entry("handler.py", big.as_bytes(), false),
        entry("a.txt", b"", false),
        entry("naïve/é.py", b"x = 1\n", false),
    ])
    .unwrap();
    let read = unzip(&p.zip);
    let names: Vec<_> = read.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["a.txt", "b/run.sh", "handler.py", "naïve/é.py"]);
    let modes: Vec<_> = read.iter().map(|r| r.1).collect();
    assert_eq!(modes, [0o100644, 0o100755, 0o100644, 0o100644]);
    assert!(read.iter().all(|r| r.2 == 0x21), "1980-01-01");
    assert_eq!(read[2].3, big.as_bytes());
    assert!(p.zipped_bytes < big.len() as u64, "deflated");
    assert_eq!(p.files, 4);
    assert_eq!(p.unzipped_bytes, (10 + big.len() + 6) as u64);
    assert_eq!(p.key, format!("api/{}.zip", p.sha256));
    assert_eq!(p.sha256, sha256_hex(&p.zip));
    assert_eq!(p.sha256.len(), 64);
}

#[test]
fn the_same_files_in_any_order_give_the_same_bytes() {
    let files = vec![
        entry("x.py", b"x", false),
        entry("y/z.py", b"zz", false),
        entry("w.bin", &[7; 300], false),
    ];
    let mut reversed = files.clone();
    reversed.reverse();
    let (a, b) = (build(files.clone()).unwrap(), build(reversed).unwrap());
    assert_eq!(a.zip, b.zip);
    assert_eq!(a.sha256, b.sha256);
    // One byte, one mode or one name changed: another package.
    for changed in [
        vec![entry("x.py", b"X", false)],
        vec![entry("x.py", b"x", true)],
        vec![entry("x2.py", b"x", false)],
    ] {
        let mut f = files[1..].to_vec();
        f.extend(changed);
        assert_ne!(build(f).unwrap().sha256, a.sha256);
    }
}

#[test]
fn a_later_entry_of_the_same_name_wins() {
    // The vendored copy first, the source's own after it.
    let p = build(vec![
        entry("six.py", b"vendored", false),
        entry("six.py", b"mine", false),
    ])
    .unwrap();
    let read = unzip(&p.zip);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].3, b"mine");
}

#[test]
fn over_the_limit_is_refused_with_the_sizes() {
    let limit = 3 * 1024 * 1024;
    let over = vec![
        entry("a", &[1; 1024], false),
        entry("b", &vec![0; limit], false),
    ];
    let e = build_within(over, limit as u64).unwrap_err();
    assert!(e.contains(&(limit + 1024).to_string()), "{e}");
    assert!(e.contains("(3 MB)"), "{e}");
    // At the limit exactly: accepted.
    assert!(build_within(vec![entry("b", &vec![0; limit], false)], limit as u64).is_ok());
    assert_eq!(UNZIPPED_LIMIT, 262_144_000);
    let many: Vec<_> = (0..=MAX_ENTRIES)
        .map(|i| entry(&format!("f{i}"), b"", false))
        .collect();
    assert!(build(many).unwrap_err().contains("65536 files"));
}

#[test]
fn what_the_package_leaves_out() {
    for (path, packaged) in [
        ("handler.py", true),
        ("lib/db.py", true),
        ("requirements.txt", true),
        (".env", false),
        (".git/config", false),
        (".venv/lib/x.py", false),
        ("lib/.hidden", false),
        ("__pycache__/handler.cpython-312.pyc", false),
        ("lib/__pycache__/x.pyc", false),
        ("old.pyc", false),
        ("old.pyo", false),
        ("pyc/readme.md", true),
        ("a.pyc.txt", true),
    ] {
        assert_eq!(is_packaged(path), packaged, "{path}");
    }
}

#[test]
fn what_is_kept_of_what_pip_vendored() {
    for (path, kept) in [
        ("redis/client.py", true),
        ("numpy/.libs/libopenblas.so", true),
        ("pg8000-1.31.6.dist-info/METADATA", true),
        ("pg8000-1.31.6.dist-info/RECORD", false),
        ("pg8000-1.31.6.dist-info/direct_url.json", false),
        ("bin/normalizer", false),
        ("redis/__pycache__/client.cpython-312.pyc", false),
        ("pkg/RECORD", true),
        ("binary/x.py", true),
    ] {
        assert_eq!(is_vendored(path), kept, "{path}");
    }
}

#[test]
fn pip_targets() {
    assert_eq!(
        pip_target("python3.12", "x86_64").unwrap(),
        ("3.12".into(), "manylinux2014_x86_64".into())
    );
    assert_eq!(
        pip_target("python3.14", "arm64").unwrap(),
        ("3.14".into(), "manylinux2014_aarch64".into())
    );
    for (runtime, arch) in [
        ("nodejs22.x", "x86_64"),
        ("python2.7", "x86_64"),
        ("python3.10", "x86_64"),
        ("python3.11", "x86_64"),
        ("python3.12", "aarch64"),
        ("python3.12", ""),
    ] {
        assert!(pip_target(runtime, arch).is_err(), "{runtime} {arch}");
    }
}

#[test]
fn handler_files_as_lambda_resolves_them() {
    for (handler, files) in [
        ("handler.handler", vec!["handler.py", "handler/__init__.py"]),
        ("app.main.run", vec!["app/main.py", "app/main/__init__.py"]),
        ("src/app.run", vec!["src/app.py", "src/app/__init__.py"]),
    ] {
        assert_eq!(handler_files(handler).unwrap(), files, "{handler}");
    }
    for bad in ["handler", ".handler", "handler.", ""] {
        assert!(handler_files(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_template_allows_the_runtimes_shipit_packages() {
    let template = include_str!("../../../stack/shipit.yaml");
    let line = format!("AllowedValues: [{}]", RUNTIMES.join(", "));
    let at = template.find("  ApiRuntime:").expect("ApiRuntime");
    assert!(template[at..at + 200].contains(&line), "{line}");
}
