//! The S3 side of the boundary: [`Store`] implements [`ObjectStore`] with the SDK (list, head,
//! get, put single or multipart, conditional puts of shipit's state, copy in place, batch
//! delete, versions, and purging a bucket for `destroy`). Keys given to and returned by a
//! [`Store`] are relative to its prefix; no SDK type leaves this module.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, EncodingType, MetadataDirective,
    ObjectIdentifier,
};
use aws_sdk_s3::Client;
use futures::{StreamExt, TryStreamExt};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::io::AsyncReadExt;

use crate as aws;
use crate::{At, Service};
use shipit_core::error::{Error, Result};
use shipit_core::files::{decode_key, Md5, STATE_DIR};
use shipit_core::headers::Headers;
use shipit_core::listing;
use shipit_core::settings::Connection;
use shipit_core::state::{Head, Listed, MD5_METADATA};
use shipit_engine::ports::{Call, Object, ObjectStore, Precondition, DELETE_BATCH};

/// Parts in flight at once, across every multipart upload of a store. Each is read into memory
/// (so the bytes hashed are the bytes sent): at most this many times the part size (64 MiB by
/// default), however many large files upload at once.
const PARTS_IN_FLIGHT: usize = 4;

/// One listing page: its objects, the common prefixes (with a delimiter), the token of the
/// next page, and the last key listed (full, before filtering).
#[derive(Default)]
struct Page {
    objects: Vec<Listed>,
    prefixes: Vec<String>,
    next: Option<String>,
    last: Option<String>,
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    bucket: String,
    prefix: String,
    at: At,
    /// Permits for the parts held in memory (`PARTS_IN_FLIGHT`).
    parts: Arc<tokio::sync::Semaphore>,
    /// Throttle answers seen by this store's client.
    throttles: Throttles,
}

/// Counts S3's throttle answers (503 SlowDown, 429) on every attempt, retried or not.
#[derive(Debug, Clone, Default)]
struct Throttles(Arc<std::sync::atomic::AtomicU64>);

impl aws_sdk_s3::config::Intercept for Throttles {
    fn name(&self) -> &'static str {
        "shipit-throttles"
    }

    fn read_after_attempt(
        &self,
        context: &aws_sdk_s3::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> std::result::Result<(), aws_sdk_s3::error::BoxError> {
        if let Some(r) = context.response() {
            if matches!(r.status().as_u16(), 429 | 503) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Everything but unreserved characters and `/` is escaped in a CopySource.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

impl Store {
    pub fn new(sdk: &SdkConfig, conn: &Connection, bucket: &str, prefix: &str) -> Store {
        let throttles = Throttles::default();
        let mut builder = builder(sdk, conn, None);
        builder.push_interceptor(aws_sdk_s3::config::SharedInterceptor::new(
            throttles.clone(),
        ));
        Store {
            client: Client::from_conf(builder.build()),
            throttles,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            at: At::new(Service::S3, conn.endpoints.s3.as_deref(), sdk),
            parts: Arc::new(tokio::sync::Semaphore::new(PARTS_IN_FLIGHT)),
        }
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Every page under `prefix` (after `start_after`): the objects, and with `delimited` the
    /// common prefixes at that level.
    async fn pages(
        &self,
        prefix: &str,
        delimited: bool,
        start_after: Option<String>,
    ) -> Result<(Vec<Listed>, Vec<String>)> {
        let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
        let mut token = None;
        loop {
            let page = self
                .page(prefix, delimited, start_after.as_deref(), token)
                .await?;
            objects.extend(page.objects);
            prefixes.extend(page.prefixes);
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok((objects, prefixes)),
            }
        }
    }

    /// One ListObjectsV2 page (URL-encoded keys, so any key survives the XML), shipit's own
    /// state left out and keys made relative to the store's prefix.
    async fn page(
        &self,
        prefix: &str,
        delimited: bool,
        start_after: Option<&str>,
        token: Option<String>,
    ) -> Result<Page> {
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .encoding_type(EncodingType::Url)
            .set_start_after(start_after.map(str::to_string))
            .set_continuation_token(token);
        if !prefix.is_empty() {
            req = req.prefix(prefix);
        }
        if delimited {
            req = req.delimiter("/");
        }
        let page = req
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("list s3://{}/{prefix}", self.bucket), e))?;
        let encoded = page.encoding_type() == Some(&EncodingType::Url);
        let decoded = |raw: &str| {
            if encoded {
                decode_key(raw)
            } else {
                raw.to_string()
            }
        };
        let mut out = Page {
            prefixes: page
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(decoded))
                .collect(),
            next: page
                .next_continuation_token()
                .filter(|_| page.is_truncated() == Some(true))
                .map(str::to_string),
            ..Page::default()
        };
        for obj in page.contents() {
            let Some(full) = obj.key().map(decoded) else {
                continue;
            };
            out.last = Some(full.clone());
            let Some(key) = full.strip_prefix(&self.prefix) else {
                continue;
            };
            if key.starts_with(STATE_DIR) {
                continue;
            }
            out.objects.push(Listed {
                key: key.to_string(),
                size: obj.size().unwrap_or(0).max(0) as u64,
                etag: obj
                    .e_tag()
                    .map(|t| t.trim_matches('"').to_string())
                    .filter(|t| !t.is_empty()),
                last_modified: obj.last_modified().map(|t| t.secs()),
            });
        }
        Ok(out)
    }

    /// Every object under the prefix except shipit's own state: one page when that is all
    /// there is, else the rest by common prefix in parallel (`core::listing`).
    async fn list(&self) -> Result<Vec<Listed>> {
        let first = self.page(&self.prefix, false, None, None).await?;
        let (Some(_), Some(last)) = (&first.next, first.last.clone()) else {
            return Ok(first.objects);
        };
        let mut out = first.objects;
        // The prefixes to split by: a lone one (everything under `assets/`) is looked into.
        let mut level = self.prefix.clone();
        let mut depth = 0;
        let state = self.full(STATE_DIR);
        let prefixes = loop {
            let (objects, prefixes) = self.pages(&level, true, None).await?;
            let prefixes: Vec<String> = prefixes.into_iter().filter(|p| *p != state).collect();
            out.extend(objects);
            if listing::descend(&prefixes, depth) {
                level = prefixes[0].clone();
                depth += 1;
                continue;
            }
            break prefixes;
        };
        let rest: Vec<Vec<Listed>> = futures::stream::iter(listing::ranges_after(&last, &prefixes))
            .map(|r| async move {
                self.pages(&r.prefix, false, r.start_after)
                    .await
                    .map(|(objects, _)| objects)
            })
            .buffer_unordered(listing::FANOUT)
            .try_collect()
            .await?;
        out.extend(rest.into_iter().flatten());
        // The first page and the delimiter listings may both hold a key at the top level.
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out.dedup_by(|a, b| a.key == b.key);
        Ok(out)
    }

    async fn head(&self, key: &str) -> Result<Head> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("head {key}"), e))?;
        Ok(Head {
            etag: out.e_tag().map(|t| t.trim_matches('"').to_string()),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            headers: Headers {
                content_type: out.content_type().unwrap_or_default().into(),
                cache_control: out.cache_control().unwrap_or_default().into(),
            },
            md5_metadata: out
                .metadata()
                .and_then(|m| m.get(MD5_METADATA))
                .and_then(|h| Md5::from_hex(h)),
            version: out.version_id().map(str::to_string),
        })
    }

    fn metadata(md5: &Md5) -> HashMap<String, String> {
        HashMap::from([(MD5_METADATA.to_string(), md5.hex())])
    }

    /// Uploads a file in one PUT, streaming it from disk. Returns the new ETag.
    async fn put(&self, key: &str, path: &Path, headers: &Headers, md5: &Md5) -> Result<String> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| Error::input(format!("cannot read ({e})"), path, None))?;
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .body(body)
            .content_type(&*headers.content_type)
            .cache_control(&*headers.cache_control)
            .set_metadata(Some(Self::metadata(md5)))
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("upload {key}"), e))?;
        let etag = out
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        // A single PUT's ETag is the MD5 of the bytes S3 stored (unless SSE-KMS makes it
        // opaque): bytes that are not the ones hashed at scan time fail the file, and the next
        // deploy, which compares that ETag, sends it again.
        let is_md5 = etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit());
        if is_md5 && etag != md5.hex() {
            return Err(Error::input(
                format!(
                    "changed while it was being uploaded (md5 {} when the build was scanned, {etag} as stored)",
                    md5.hex()
                ),
                path,
                Some("let the build finish writing, then deploy again"),
            ));
        }
        Ok(etag)
    }

    /// Uploads a large file in parts, each read into memory, hashed and sent from there (at
    /// most `PARTS_IN_FLIGHT` parts held at once). On failure no new part starts, the parts in
    /// flight finish, and then the upload is aborted, so no part is left billed.
    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        part_size: u64,
        headers: &Headers,
        md5: &Md5,
    ) -> Result<String> {
        let full = self.full(key);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .content_type(&*headers.content_type)
            .cache_control(&*headers.cache_control)
            .set_metadata(Some(Self::metadata(md5)))
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("start multipart upload of {key}"), e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| {
                Error::aws(format!(
                    "start multipart upload of {key}: no upload id in the reply"
                ))
            })?
            .to_string();
        let result = self
            .upload_parts(key, &full, &upload_id, path, size, part_size, md5)
            .await;
        match result {
            Ok(etag) => Ok(etag),
            Err(e) => {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&full)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_parts(
        &self,
        key: &str,
        full: &str,
        upload_id: &str,
        path: &Path,
        size: u64,
        part_size: u64,
        expected: &Md5,
    ) -> Result<String> {
        let count = size.div_ceil(part_size).max(1);
        // The parts are read in order, each hashed as it is read and sent from that same
        // buffer: the bytes sent are the bytes hashed, whatever happens to the file meanwhile.
        let hashed = Arc::new(std::sync::Mutex::new(md5::Context::new()));
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::input(format!("cannot read ({e})"), path, None))?;
        // After a part fails no new part starts, but the parts in flight are let finish: S3
        // may still store a part whose upload was under way when the upload is aborted (and
        // bill it: AbortMultipartUpload's documentation), so the abort waits for them.
        let failed = Arc::new(AtomicBool::new(false));
        let stop = failed.clone();
        let reads = futures::stream::unfold(
            (file, 0u64, hashed.clone(), self.parts.clone()),
            move |(mut file, n, hashed, permits)| {
                let stop = stop.clone();
                async move {
                    if n == count || stop.load(Ordering::SeqCst) {
                        return None;
                    }
                    // The permit travels with the buffer and is given back once the part is sent.
                    let permit = match permits.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return None,
                    };
                    let len = part_size.min(size - n * part_size) as usize;
                    let mut buf = vec![0u8; len];
                    let read = file.read_exact(&mut buf).await.map(|_| {
                        hashed
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .consume(&buf);
                        (n, buf, permit)
                    });
                    // After a failed read nothing more is read: the file is not where it was.
                    if read.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    Some((read, (file, n + 1, hashed, permits)))
                }
            },
        );
        // A part read before another failed is not sent (None): the stream asks for the next
        // part before it hears of the failure.
        let sent_parts: Vec<Result<Option<CompletedPart>>> = reads
            .map(|read| {
                let failed = failed.clone();
                async move {
                    let part = async {
                        let (n, buf, _permit) = read
                            .map_err(|e| Error::input(format!("cannot read ({e})"), path, None))?;
                        if failed.load(Ordering::SeqCst) {
                            return Ok(None);
                        }
                        // After a signal no new part starts: the upload is aborted below.
                        shipit_engine::interrupt::check("a multipart upload was aborted")?;
                        let number = n as i32 + 1;
                        let out = self
                            .client
                            .upload_part()
                            .bucket(&self.bucket)
                            .key(full)
                            .upload_id(upload_id)
                            .part_number(number)
                            .body(ByteStream::from(buf))
                            .send()
                            .await
                            .map_err(|e| {
                                aws::error(&self.at, &format!("upload part {number} of {key}"), e)
                            })?;
                        Ok::<_, Error>(Some(
                            CompletedPart::builder()
                                .part_number(number)
                                .set_e_tag(out.e_tag().map(str::to_owned))
                                .build(),
                        ))
                    }
                    .await;
                    if part.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    part
                }
            })
            .buffer_unordered(PARTS_IN_FLIGHT)
            .collect()
            .await;
        // Every part skipped follows a failure, returned here (the first, as it came).
        let mut parts: Vec<CompletedPart> = sent_parts
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        let sent = Md5(hashed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .compute()
            .0);
        if sent != *expected {
            return Err(Error::input(
                format!(
                    "changed while it was being uploaded (md5 {} when the build was scanned, {} as sent); the upload was aborted",
                    expected.hex(),
                    sent.hex()
                ),
                path,
                Some("let the build finish writing, then deploy again"),
            ));
        }
        parts.sort_by_key(|p| p.part_number());
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("complete multipart upload of {key}"), e))?;
        Ok(out
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string())
    }

    /// Copies a key onto itself (from one of its versions, or the current one) with these
    /// headers. Returns the new ETag.
    async fn copy_onto(
        &self,
        key: &str,
        version: Option<&str>,
        headers: &Headers,
        md5: &Md5,
    ) -> Result<String> {
        let what = match version {
            Some(v) => format!("restore {key} (version {v})"),
            None => format!("update headers of {key}"),
        };
        let full = self.full(key);
        let mut source = format!(
            "{}/{}",
            self.bucket,
            utf8_percent_encode(&full, COPY_SOURCE)
        );
        if let Some(v) = version {
            source.push_str(&format!(
                "?versionId={}",
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            ));
        }
        let out = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(&full)
            .copy_source(source)
            .metadata_directive(MetadataDirective::Replace)
            .content_type(&*headers.content_type)
            .cache_control(&*headers.cache_control)
            .set_metadata(Some(Self::metadata(md5)))
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &what, e))?;
        Ok(out
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .unwrap_or_default()
            .trim_matches('"')
            .to_string())
    }

    /// Deletes up to 1000 keys in one request. A reply of 200 may still carry per-key errors:
    /// those are failures too.
    ///
    /// A key with a control character cannot travel in DeleteObjects' XML (most are not XML
    /// characters, and XML turns a CR into a LF, which would name another key): those keys are
    /// deleted one by one, their names in the request's path.
    async fn delete_batch(&self, keys: &[String]) -> Result<()> {
        let (odd, plain): (Vec<&String>, Vec<&String>) =
            keys.iter().partition(|k| k.chars().any(|c| c.is_control()));
        if !plain.is_empty() {
            let ids: Vec<(String, Option<String>)> =
                plain.iter().map(|k| (self.full(k), None)).collect();
            self.delete_objects(&ids, "check s3:DeleteObject permission and object locks; re-running the deploy retries the prune").await?;
        }
        for key in odd {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(self.full(key))
                .send()
                .await
                .map_err(|e| aws::error(&self.at, &format!("delete {key}"), e))?;
        }
        Ok(())
    }

    /// A small JSON object under `.shipit/` (never cached anywhere), written only if the
    /// condition holds (None when it did not).
    async fn put_state(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: Precondition<'_>,
        what: &str,
    ) -> Result<Option<String>> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .body(ByteStream::from(body))
            .content_type("application/json")
            .cache_control("no-store");
        req = match condition {
            Precondition::None => req,
            Precondition::IfAbsent => req.if_none_match("*"),
            Precondition::IfMatch(etag) => req.if_match(format!("\"{etag}\"")),
        };
        match req.send().await {
            Ok(out) => Ok(Some(
                out.e_tag()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string(),
            )),
            Err(e)
                if condition != Precondition::None
                    && matches!(
                        e.raw_response().map(|r| r.status().as_u16()),
                        Some(412 | 409)
                    ) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws::error(&self.at, what, e)),
        }
    }

    async fn get(&self, key: &str, what: &str) -> Result<Option<Object>> {
        let res = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(aws::error(&self.at, what, e)),
        };
        let etag = out
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        let last_modified = out.last_modified().map(|t| t.secs());
        // Read chunk by chunk into one buffer of the announced size: a manifest of 100,000
        // files is tens of megabytes, and collecting it first would hold it twice.
        let mut body =
            Vec::with_capacity(out.content_length().unwrap_or(0).clamp(0, 1 << 30) as usize);
        let mut stream = out.body;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::aws(format!("{what}: {e}")))?
        {
            body.extend_from_slice(&chunk);
        }
        Ok(Some(Object {
            body,
            etag,
            last_modified,
        }))
    }

    /// The keys under one of shipit's state directories, relative to it.
    async fn list_dir(&self, dir: &str, what: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let full_dir = self.full(dir);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full_dir)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws::error(&self.at, what, e))?;
            for o in page.contents() {
                if let Some(k) = o.key().and_then(|k| k.strip_prefix(&full_dir)) {
                    keys.push(k.to_string());
                }
            }
        }
        Ok(keys)
    }

    /// Deletes one key: only that ETag (`If-Match`), or whatever is there.
    async fn delete(&self, key: &str, if_match: Option<&str>, what: &str) -> Result<bool> {
        let mut req = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full(key));
        if let Some(etag) = if_match {
            req = req.if_match(format!("\"{etag}\""));
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(412)) => {
                Ok(false)
            }
            Err(e) => Err(aws::error(&self.at, what, e)),
        }
    }

    /// The versions of one key, newest first: (version id, ETag without quotes).
    async fn versions(&self, key: &str) -> Result<Vec<(String, String)>> {
        let full = self.full(key);
        let mut out = Vec::new();
        let mut marker: Option<(String, Option<String>)> = None;
        loop {
            let mut req = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&full);
            if let Some((k, v)) = &marker {
                req = req.key_marker(k).set_version_id_marker(v.clone());
            }
            let page = req
                .send()
                .await
                .map_err(|e| aws::error(&self.at, &format!("list the versions of {key}"), e))?;
            for v in page
                .versions()
                .iter()
                .filter(|v| v.key() == Some(full.as_str()))
            {
                if let (Some(id), Some(etag)) = (v.version_id(), v.e_tag()) {
                    out.push((id.to_string(), etag.trim_matches('"').to_string()));
                }
            }
            match (page.is_truncated(), page.next_key_marker()) {
                (Some(true), Some(k)) => {
                    marker = Some((
                        k.to_string(),
                        page.next_version_id_marker().map(str::to_string),
                    ))
                }
                _ => break,
            }
        }
        Ok(out)
    }
}

impl ObjectStore for Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn throttled(&self) -> u64 {
        self.throttles.0.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn list(&self) -> Call<'_, Vec<Listed>> {
        Box::pin(Store::list(self))
    }
    fn list_dir<'a>(&'a self, dir: &'a str, what: &'a str) -> Call<'a, Vec<String>> {
        Box::pin(Store::list_dir(self, dir, what))
    }
    fn head<'a>(&'a self, key: &'a str) -> Call<'a, Head> {
        Box::pin(Store::head(self, key))
    }
    fn get<'a>(&'a self, key: &'a str, what: &'a str) -> Call<'a, Option<Object>> {
        Box::pin(Store::get(self, key, what))
    }
    fn put_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String> {
        Box::pin(Store::put(self, key, path, headers, md5))
    }
    fn put_multipart<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
        size: u64,
        part_size: u64,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String> {
        Box::pin(Store::put_multipart(
            self, key, path, size, part_size, headers, md5,
        ))
    }
    fn put_state<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        condition: Precondition<'a>,
        what: &'a str,
    ) -> Call<'a, Option<String>> {
        Box::pin(Store::put_state(self, key, body, condition, what))
    }
    fn copy_onto<'a>(
        &'a self,
        key: &'a str,
        version: Option<&'a str>,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String> {
        Box::pin(Store::copy_onto(self, key, version, headers, md5))
    }
    fn delete_batch<'a>(&'a self, keys: &'a [String]) -> Call<'a, ()> {
        Box::pin(Store::delete_batch(self, keys))
    }
    fn delete<'a>(
        &'a self,
        key: &'a str,
        if_match: Option<&'a str>,
        what: &'a str,
    ) -> Call<'a, bool> {
        Box::pin(Store::delete(self, key, if_match, what))
    }
    fn versions<'a>(&'a self, key: &'a str) -> Call<'a, Vec<(String, String)>> {
        Box::pin(Store::versions(self, key))
    }
    fn purge(&self) -> Call<'_, (usize, usize)> {
        Box::pin(self.purge_bucket())
    }
}

impl Store {
    /// One DeleteObjects request for up to 1000 (key, version) pairs. A reply of 200 may still
    /// carry per-key errors: those are failures too.
    async fn delete_objects(&self, ids: &[(String, Option<String>)], hint: &str) -> Result<()> {
        let (client, bucket) = (&self.client, self.bucket.as_str());
        assert!(
            ids.len() <= DELETE_BATCH,
            "delete batch of {} keys",
            ids.len()
        );
        let objects = ids
            .iter()
            .map(|(k, v)| {
                ObjectIdentifier::builder()
                    .key(k)
                    .set_version_id(v.clone())
                    .build()
                    .map_err(|e| Error::Internal(format!("delete {k}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| Error::Internal(format!("delete request: {e}")))?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| {
                aws::error(
                    &self.at,
                    &format!("delete {} objects in {bucket}", ids.len()),
                    e,
                )
            })?;
        if out.errors().is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = out
            .errors()
            .iter()
            .take(5)
            .map(|e| {
                format!(
                    "{} ({}: {})",
                    e.key().unwrap_or("?"),
                    e.code().unwrap_or("?"),
                    e.message().unwrap_or("")
                )
            })
            .collect();
        Err(Error::Aws {
            message: format!(
                "S3 refused to delete {} of {} objects in {bucket}: {}",
                out.errors().len(),
                ids.len(),
                shown.join(", ")
            ),
            hint: Some(hint.into()),
        })
    }

    /// Deletes every object version and delete marker in a bucket (so a versioned bucket can be
    /// deleted). Returns (versions, delete markers) removed. A missing bucket is already empty.
    async fn purge_bucket(&self) -> Result<(usize, usize)> {
        let (client, bucket) = (&self.client, self.bucket.as_str());
        let (mut versions, mut markers) = (0, 0);
        loop {
            let page = match client
                .list_object_versions()
                .bucket(bucket)
                .max_keys(DELETE_BATCH as i32)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) if e.code() == Some("NoSuchBucket") => return Ok((versions, markers)),
                Err(e) => {
                    return Err(aws::error(
                        &self.at,
                        &format!("list versions in {bucket}"),
                        e,
                    ))
                }
            };
            let mut ids = Vec::new();
            for v in page.versions() {
                ids.push((
                    v.key().unwrap_or_default().to_string(),
                    v.version_id().map(str::to_owned),
                ));
            }
            let n_versions = ids.len();
            for m in page.delete_markers() {
                ids.push((
                    m.key().unwrap_or_default().to_string(),
                    m.version_id().map(str::to_owned),
                ));
            }
            if ids.is_empty() {
                return Ok((versions, markers));
            }
            for chunk in ids.chunks(DELETE_BATCH) {
                self.delete_objects(
                    chunk,
                    "check s3:DeleteObjectVersion permission and object locks",
                )
                .await?;
            }
            versions += n_versions;
            markers += ids.len() - n_versions;
        }
    }
}

/// The access key the local cloud's bucket policy reads as `cloudfront.amazonaws.com`
/// (crates/local-cloud/rig/patches/s3_policy.py); the distribution's ARN goes in `x-amz-source-arn`.
pub const OAC_ACCESS_KEY: &str = "CLOUDFRONT";

/// An S3 client that signs as CloudFront's Origin Access Control (the local edge's reads).
#[derive(Clone)]
pub struct OacClient {
    client: Client,
}

impl OacClient {
    pub fn new(sdk: &SdkConfig, conn: &Connection) -> OacClient {
        let oac = aws_sdk_s3::config::Credentials::new(
            OAC_ACCESS_KEY,
            "shipit-local-edge",
            None,
            None,
            "shipit-edge",
        );
        OacClient {
            client: client_with(sdk, conn, Some(oac)),
        }
    }

    /// A distribution's private bucket, read as that distribution.
    pub fn origin(&self, bucket: &str, source_arn: &str) -> OacOrigin {
        OacOrigin {
            client: self.client.clone(),
            bucket: bucket.to_string(),
            source_arn: source_arn.to_string(),
        }
    }
}

/// One distribution's S3 origin.
pub struct OacOrigin {
    client: Client,
    bucket: String,
    source_arn: String,
}

impl OacOrigin {
    /// What the bucket answers CloudFront for this key: the object, or the status an origin
    /// would answer and why.
    pub async fn get(&self, key: &str) -> Result<OriginObject, (u16, String)> {
        oac_get(&self.client, &self.bucket, &self.source_arn, key).await
    }
}

/// An object as S3 hands it to CloudFront: the headers CloudFront keeps, and the body.
#[derive(Debug, Clone)]
pub struct OriginObject {
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

async fn oac_get(
    client: &Client,
    bucket: &str,
    arn: &str,
    key: &str,
) -> Result<OriginObject, (u16, String)> {
    if key.is_empty() {
        return Err((403, "AccessDenied".into()));
    }
    let arn = arn.to_string();
    let res = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .customize()
        .mutate_request(move |r| {
            r.headers_mut().insert("x-amz-source-arn", arn.clone());
        })
        .send()
        .await;
    match res {
        Ok(out) => {
            let mut headers = Vec::new();
            let mut push = |n: &str, v: Option<String>| {
                if let Some(v) = v {
                    headers.push((n.to_string(), v));
                }
            };
            push("content-type", out.content_type().map(str::to_string));
            push("cache-control", out.cache_control().map(str::to_string));
            push("etag", out.e_tag().map(str::to_string));
            push(
                "last-modified",
                out.last_modified()
                    .and_then(|t| t.fmt(aws_smithy_types_http_date()).ok()),
            );
            match out.body.collect().await {
                Ok(b) => Ok(OriginObject {
                    headers,
                    body: b.into_bytes(),
                }),
                Err(e) => Err((502, format!("origin body: {e}"))),
            }
        }
        Err(SdkError::ServiceError(e)) => {
            let status = e.raw().status().as_u16();
            Err((status, format!("origin answered {status}")))
        }
        Err(e) => Err((
            502,
            format!(
                "origin unreachable: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ),
        )),
    }
}

fn aws_smithy_types_http_date() -> aws_sdk_s3::primitives::DateTimeFormat {
    aws_sdk_s3::primitives::DateTimeFormat::HttpDate
}

/// An S3 client; with a custom endpoint, path-style addressing (emulators have no DNS).
/// A client acting with other credentials than the SDK config's (the local edge signs as
/// CloudFront's OAC).
pub(crate) fn client_with(
    sdk: &SdkConfig,
    conn: &Connection,
    credentials: Option<aws_sdk_s3::config::Credentials>,
) -> Client {
    Client::from_conf(builder(sdk, conn, credentials).build())
}

fn builder(
    sdk: &SdkConfig,
    conn: &Connection,
    credentials: Option<aws_sdk_s3::config::Credentials>,
) -> aws_sdk_s3::config::Builder {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk);
    if let Some(c) = credentials {
        builder = builder.credentials_provider(c);
    }
    if let Some(endpoint) = &conn.endpoints.s3 {
        builder = builder.endpoint_url(endpoint).force_path_style(true);
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_escapes_all_but_slashes() {
        let s = utf8_percent_encode("a b/c+d%e#f?g\u{e9}", COPY_SOURCE).to_string();
        assert_eq!(s, "a%20b/c%2Bd%25e%23f%3Fg%C3%A9");
    }
}
