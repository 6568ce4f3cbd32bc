//! An object store, a CDN and a stack service in memory, for unit tests of the pipeline. The
//! store keeps versioned objects with headers and metadata, S3's ETag rules (MD5 for a single
//! PUT, MD5 of part MD5s with `-N` for multipart), conditional puts, a log of every call in
//! order, and fails the Nth call of any operation on request (s3deploy's `failAt`). The CDN can
//! be busy or fail; the stack service settles at once and can be scripted (changes, a failed
//! execution, any status).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use crate::ports::{Call, Cdn, Created, Object, ObjectStore, Precondition, DELETE_BATCH};
use shipit_core::error::{Error, Result};
use shipit_core::files::{Md5, STATE_DIR};
use shipit_core::headers::Headers;
use shipit_core::state::{Head, Listed};

/// The store's operations, as the call log and the failure injection name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    List,
    ListDir,
    Head,
    Get,
    Put,
    PutMultipart,
    PutState,
    Copy,
    DeleteBatch,
    Delete,
    Versions,
    Purge,
}

/// One version of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: String,
    pub body: Vec<u8>,
    pub etag: String,
    pub headers: Headers,
    /// `x-amz-meta-shipit-md5`, when shipit wrote it.
    pub md5_metadata: Option<String>,
    pub modified: i64,
}

#[derive(Default)]
struct State {
    /// Full key (prefix included) -> versions, newest last. A deleted key has none left
    /// current: `current` says which keys exist.
    versions: BTreeMap<String, Vec<Version>>,
    current: BTreeMap<String, usize>,
    calls: Vec<(Op, String)>,
    counts: HashMap<Op, usize>,
    /// Fail the Nth call (1-based) of this operation.
    fail_at: Option<(Op, usize)>,
    /// Keys whose deletion DeleteObjects reports as a per-key error.
    refuse_delete: Vec<String>,
    next_version: u64,
    clock: i64,
}

/// A versioned bucket in memory, seen through a prefix.
pub struct MemoryStore {
    bucket: String,
    prefix: String,
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new(bucket: &str, prefix: &str) -> MemoryStore {
        MemoryStore {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            state: Mutex::new(State {
                clock: 1_700_000_000,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the `nth` (1-based) call of `op` fail, counting from now.
    pub fn fail_at(&self, op: Op, nth: usize) {
        let mut s = self.state();
        let done = s.counts.get(&op).copied().unwrap_or(0);
        s.fail_at = Some((op, done + nth));
    }

    /// DeleteObjects answers 200 with a per-key error for this key.
    pub fn refuse_delete(&self, key: &str) {
        let full = format!("{}{key}", self.prefix);
        self.state().refuse_delete.push(full);
    }

    /// Every call so far, in order: the operation and the key (or a summary of the keys).
    pub fn calls(&self) -> Vec<(Op, String)> {
        self.state().calls.clone()
    }

    /// Forgets the call log (the state stays).
    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// The current version of a key (relative to the prefix), if it exists.
    pub fn object(&self, key: &str) -> Option<Version> {
        let s = self.state();
        let full = format!("{}{key}", self.prefix);
        let i = *s.current.get(&full)?;
        s.versions.get(&full).map(|v| v[i].clone())
    }

    /// The keys that exist (relative to the prefix), shipit's state included, sorted.
    pub fn keys(&self) -> Vec<String> {
        let s = self.state();
        s.current
            .keys()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_string))
            .collect()
    }

    /// Writes an object as another tool would (no shipit metadata).
    pub fn seed(&self, key: &str, body: &[u8], headers: Headers) {
        let full = format!("{}{key}", self.prefix);
        let mut s = self.state();
        let etag = format!("{:x}", md5::compute(body));
        insert(&mut s, &full, body.to_vec(), etag, headers, None);
    }

    /// Records the call and fails it when it is the one chosen.
    fn enter(&self, op: Op, key: &str) -> Result<()> {
        let mut s = self.state();
        s.calls.push((op, key.to_string()));
        let n = {
            let c = s.counts.entry(op).or_insert(0);
            *c += 1;
            *c
        };
        if s.fail_at == Some((op, n)) {
            s.fail_at = None;
            return Err(Error::Aws {
                message: format!("injected failure of {op:?} {key} in s3://{}", self.bucket),
                hint: None,
            });
        }
        Ok(())
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn current(s: &State, full: &str) -> Option<Version> {
        let i = *s.current.get(full)?;
        s.versions.get(full).map(|v| v[i].clone())
    }

    /// Stores a file's bytes as the key's new version, with S3's ETag for how it was sent.
    fn store_file(
        &self,
        key: &str,
        path: &Path,
        headers: &Headers,
        md5: &Md5,
        etag_of: impl Fn(&[u8]) -> String,
    ) -> Result<String> {
        let body = std::fs::read(path)
            .map_err(|e| Error::input(format!("cannot read ({e})"), path, None))?;
        let etag = etag_of(&body);
        let full = self.full(key);
        Ok(insert(
            &mut self.state(),
            &full,
            body,
            etag,
            headers.clone(),
            Some(md5.hex()),
        ))
    }
}

fn insert(
    s: &mut State,
    full: &str,
    body: Vec<u8>,
    etag: String,
    headers: Headers,
    md5: Option<String>,
) -> String {
    s.next_version += 1;
    s.clock += 1;
    let v = Version {
        id: format!("v{}", s.next_version),
        body,
        etag: etag.clone(),
        headers,
        md5_metadata: md5,
        modified: s.clock,
    };
    let list = s.versions.entry(full.to_string()).or_default();
    list.push(v);
    let i = list.len() - 1;
    s.current.insert(full.to_string(), i);
    etag
}

impl ObjectStore for MemoryStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn list(&self) -> Call<'_, Vec<Listed>> {
        Box::pin(async move {
            self.enter(Op::List, "")?;
            let s = self.state();
            Ok(s.current
                .keys()
                .filter_map(|full| {
                    let key = full.strip_prefix(&self.prefix)?;
                    if key.starts_with(STATE_DIR) {
                        return None;
                    }
                    let v = Self::current(&s, full)?;
                    Some(Listed {
                        key: key.to_string(),
                        size: v.body.len() as u64,
                        etag: Some(v.etag),
                        last_modified: Some(v.modified),
                    })
                })
                .collect())
        })
    }

    fn list_dir<'a>(&'a self, dir: &'a str, _what: &'a str) -> Call<'a, Vec<String>> {
        Box::pin(async move {
            self.enter(Op::ListDir, dir)?;
            let full = self.full(dir);
            Ok(self
                .state()
                .current
                .keys()
                .filter_map(|k| k.strip_prefix(&full).map(str::to_string))
                .collect())
        })
    }

    fn head<'a>(&'a self, key: &'a str) -> Call<'a, Head> {
        Box::pin(async move {
            self.enter(Op::Head, key)?;
            let v = Self::current(&self.state(), &self.full(key)).ok_or_else(|| Error::Aws {
                message: format!("head {key}: 404 Not Found"),
                hint: None,
            })?;
            Ok(Head {
                etag: Some(v.etag),
                size: v.body.len() as u64,
                headers: v.headers,
                md5_metadata: v.md5_metadata.as_deref().and_then(Md5::from_hex),
                version: Some(v.id),
            })
        })
    }

    fn get<'a>(&'a self, key: &'a str, _what: &'a str) -> Call<'a, Option<Object>> {
        Box::pin(async move {
            self.enter(Op::Get, key)?;
            Ok(
                Self::current(&self.state(), &self.full(key)).map(|v| Object {
                    body: v.body,
                    etag: v.etag,
                    last_modified: Some(v.modified),
                }),
            )
        })
    }

    fn put_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String> {
        Box::pin(async move {
            self.enter(Op::Put, key)?;
            self.store_file(key, path, headers, md5, |body| {
                format!("{:x}", md5::compute(body))
            })
        })
    }

    fn put_multipart<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
        _size: u64,
        part_size: u64,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String> {
        Box::pin(async move {
            self.enter(Op::PutMultipart, key)?;
            let part = part_size.max(1) as usize;
            self.store_file(key, path, headers, md5, |body| {
                let digests: Vec<u8> = body.chunks(part).flat_map(|p| md5::compute(p).0).collect();
                let n = body.len().div_ceil(part).max(1);
                format!("{:x}-{n}", md5::compute(&digests))
            })
        })
    }

    fn put_state<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        condition: Precondition<'a>,
        _what: &'a str,
    ) -> Call<'a, Option<String>> {
        Box::pin(async move {
            self.enter(Op::PutState, key)?;
            let full = self.full(key);
            let mut s = self.state();
            let existing = Self::current(&s, &full);
            let holds = match condition {
                Precondition::None => true,
                Precondition::IfAbsent => existing.is_none(),
                Precondition::IfMatch(etag) => existing.is_some_and(|v| v.etag == etag),
            };
            if !holds {
                return Ok(None);
            }
            let etag = format!("{:x}", md5::compute(&body));
            let headers = Headers {
                content_type: "application/json".into(),
                cache_control: "no-store".into(),
            };
            Ok(Some(insert(&mut s, &full, body, etag, headers, None)))
        })
    }

    fn copy_onto<'a>(
        &'a self,
        key: &'a str,
        version: Option<&'a str>,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String> {
        Box::pin(async move {
            self.enter(Op::Copy, key)?;
            let full = self.full(key);
            let mut s = self.state();
            let source = match version {
                Some(id) => s
                    .versions
                    .get(&full)
                    .and_then(|vs| vs.iter().find(|v| v.id == id))
                    .cloned(),
                None => Self::current(&s, &full),
            }
            .ok_or_else(|| Error::Aws {
                message: format!("copy {key}: NoSuchKey"),
                hint: None,
            })?;
            Ok(insert(
                &mut s,
                &full,
                source.body,
                source.etag,
                headers.clone(),
                Some(md5.hex()),
            ))
        })
    }

    fn delete_batch<'a>(&'a self, keys: &'a [String]) -> Call<'a, ()> {
        Box::pin(async move {
            self.enter(Op::DeleteBatch, &keys.join(" "))?;
            assert!(keys.len() <= DELETE_BATCH, "delete batch of {}", keys.len());
            let mut s = self.state();
            let mut refused = Vec::new();
            for key in keys {
                let full = self.full(key);
                if s.refuse_delete.contains(&full) {
                    refused.push(key.clone());
                } else {
                    s.current.remove(&full);
                }
            }
            if refused.is_empty() {
                Ok(())
            } else {
                Err(Error::Aws {
                    message: format!(
                        "S3 refused to delete {} of {} objects in {}: {}",
                        refused.len(),
                        keys.len(),
                        self.bucket,
                        refused.join(", ")
                    ),
                    hint: None,
                })
            }
        })
    }

    fn delete<'a>(
        &'a self,
        key: &'a str,
        if_match: Option<&'a str>,
        _what: &'a str,
    ) -> Call<'a, bool> {
        Box::pin(async move {
            self.enter(Op::Delete, key)?;
            let full = self.full(key);
            let mut s = self.state();
            if let Some(etag) = if_match {
                if Self::current(&s, &full).is_some_and(|v| v.etag != etag) {
                    return Ok(false);
                }
            }
            s.current.remove(&full);
            Ok(true)
        })
    }

    fn versions<'a>(&'a self, key: &'a str) -> Call<'a, Vec<(String, String)>> {
        Box::pin(async move {
            self.enter(Op::Versions, key)?;
            let s = self.state();
            Ok(s.versions
                .get(&self.full(key))
                .map(|vs| {
                    vs.iter()
                        .rev()
                        .map(|v| (v.id.clone(), v.etag.clone()))
                        .collect()
                })
                .unwrap_or_default())
        })
    }

    fn purge(&self) -> Call<'_, (usize, usize)> {
        Box::pin(async move {
            self.enter(Op::Purge, "")?;
            let mut s = self.state();
            let versions = s.versions.values().map(Vec::len).sum();
            s.versions.clear();
            s.current.clear();
            Ok((versions, 0))
        })
    }
}

/// A CDN in memory: invalidations complete at once; it can answer "busy" a number of times.
#[derive(Default)]
pub struct MemoryCdn {
    state: Mutex<CdnState>,
}

#[derive(Default)]
struct CdnState {
    /// (distribution, paths) of every invalidation created, in order.
    created: Vec<(String, Vec<String>)>,
    busy_for: usize,
}

impl MemoryCdn {
    /// Answers "too many invalidations in progress" this many times first.
    pub fn busy_for(&self, times: usize) {
        self.state.lock().unwrap().busy_for = times;
    }

    pub fn created(&self) -> Vec<(String, Vec<String>)> {
        self.state.lock().unwrap().created.clone()
    }
}

impl Cdn for MemoryCdn {
    fn create_invalidation<'a>(
        &'a self,
        distribution: &'a str,
        paths: &'a [String],
        _reference: &'a str,
    ) -> Call<'a, Created> {
        Box::pin(async move {
            let mut s = self.state.lock().unwrap();
            if s.busy_for > 0 {
                s.busy_for -= 1;
                return Ok(Created::Busy);
            }
            s.created.push((distribution.to_string(), paths.to_vec()));
            Ok(Created::Id(format!("I{}", s.created.len())))
        })
    }

    fn invalidation_status<'a>(&'a self, _distribution: &'a str, _id: &'a str) -> Call<'a, String> {
        Box::pin(async move { Ok("Completed".to_string()) })
    }
}

/// A reporter that keeps every line, for tests that check what a run said.
#[derive(Default)]
pub struct Lines {
    lines: Mutex<Vec<String>>,
}

impl Lines {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn push(&self, kind: &str, text: &str) {
        self.lines.lock().unwrap().push(format!("{kind}: {text}"));
    }
}

impl crate::ports::Reporter for Lines {
    fn stage(&self, text: &str) {
        self.push("stage", text);
    }
    fn info(&self, text: &str) {
        self.push("info", text);
    }
    fn detail(&self, text: &str) {
        self.push("detail", text);
    }
    fn warn(&self, text: &str) {
        self.push("warn", text);
    }
    fn verbose(&self) -> u8 {
        1
    }
    fn progress<'a>(
        &'a self,
        _label: &str,
        _items: u64,
        _bytes: u64,
    ) -> Box<dyn crate::ports::Progress + 'a> {
        Box::new(NoProgress)
    }
}

struct NoProgress;

impl crate::ports::Progress for NoProgress {
    fn inc(&self, _bytes: u64) {}
    fn finish(self: Box<Self>) {}
}

/// A CloudFormation stand-in: stacks settle at once, a change set that changes nothing fails
/// with CloudFormation's own words, and a test can script the next change set's changes, make
/// the next execution fail (with a resource's reason in the events), or leave a stack in any
/// status. Every call is logged.
#[derive(Default)]
pub struct MemoryStack {
    state: Mutex<StackState>,
}

#[derive(Default)]
struct StackState {
    stacks: BTreeMap<String, StackRecord>,
    change_sets: BTreeMap<(String, String), PendingChange>,
    /// The changes the next change set describes (default: one Add per resource, unnamed).
    next_changes: Option<Vec<shipit_core::stack::Change>>,
    /// The next execution fails: (logical id, reason).
    fail_execute: Option<(String, String)>,
    /// What a stack outputs once created or updated.
    outputs: BTreeMap<String, String>,
    /// Change sets are refused with AccessDenied, as for a role that may only read the stack.
    read_only: bool,
    calls: Vec<String>,
}

#[derive(Clone, Default)]
struct StackRecord {
    info: shipit_core::stack::StackInfo,
    template: String,
    events: Vec<shipit_core::stack::Event>,
}

struct PendingChange {
    described: shipit_core::stack::ChangeSet,
    body: String,
    parameters: BTreeMap<String, String>,
    create: bool,
}

impl MemoryStack {
    pub fn with_outputs(outputs: &[(&str, &str)]) -> MemoryStack {
        let m = MemoryStack::default();
        m.lock().outputs = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StackState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, call: String) {
        self.lock().calls.push(call);
    }

    /// The calls so far: `describe NAME`, `create_change_set NAME create`, ...
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Leaves a stack in this status, with this reason, as if an earlier run had.
    pub fn seed(&self, name: &str, status: &str, reason: Option<&str>) {
        let mut s = self.lock();
        let record = s.stacks.entry(name.to_string()).or_default();
        record.info.id = format!("arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/1");
        record.info.status = status.to_string();
        record.info.reason = reason.map(str::to_string);
    }

    pub fn next_changes(&self, changes: Vec<shipit_core::stack::Change>) {
        self.lock().next_changes = Some(changes);
    }

    /// From now on the caller may read stacks but not change them (the content role).
    pub fn read_only(&self) {
        self.lock().read_only = true;
    }

    pub fn fail_next_execution(&self, logical_id: &str, reason: &str) {
        self.lock().fail_execute = Some((logical_id.to_string(), reason.to_string()));
    }

    pub fn status(&self, name: &str) -> Option<String> {
        self.lock().stacks.get(name).map(|r| r.info.status.clone())
    }
}

impl crate::ports::StackService for MemoryStack {
    fn describe<'a>(&'a self, name: &'a str) -> Call<'a, Option<shipit_core::stack::StackInfo>> {
        Box::pin(async move {
            self.log(format!("describe {name}"));
            Ok(self.lock().stacks.get(name).map(|r| r.info.clone()))
        })
    }

    fn template<'a>(&'a self, name: &'a str) -> Call<'a, String> {
        Box::pin(async move {
            self.log(format!("template {name}"));
            Ok(self
                .lock()
                .stacks
                .get(name)
                .map(|r| r.template.clone())
                .unwrap_or_default())
        })
    }

    fn create_change_set<'a>(
        &'a self,
        stack: &'a str,
        change_set: &'a str,
        create: bool,
        body: &'a str,
        parameters: &'a BTreeMap<String, String>,
        _role_arn: Option<&'a str>,
    ) -> Call<'a, ()> {
        Box::pin(async move {
            self.log(format!("create_change_set {stack} create={create}"));
            let mut s = self.lock();
            if s.read_only {
                return Err(Error::Auth {
                    message: format!("create a change set for stack {stack}: access denied (AccessDenied: not authorized to perform cloudformation:CreateChangeSet)"),
                    hint: "check the credentials".into(),
                });
            }
            let unchanged = s
                .stacks
                .get(stack)
                .is_some_and(|r| !create && r.template == body && r.info.parameters == *parameters);
            let described = if unchanged {
                shipit_core::stack::ChangeSet {
                    status: "FAILED".into(),
                    reason: "The submitted information didn't contain changes. Submit different information to create a change set.".into(),
                    changes: Vec::new(),
                }
            } else {
                shipit_core::stack::ChangeSet {
                    status: "CREATE_COMPLETE".into(),
                    reason: String::new(),
                    changes: s.next_changes.take().unwrap_or_default(),
                }
            };
            if create {
                s.stacks.entry(stack.to_string()).or_default().info.status =
                    "REVIEW_IN_PROGRESS".into();
            }
            s.change_sets.insert(
                (stack.to_string(), change_set.to_string()),
                PendingChange {
                    described,
                    body: body.to_string(),
                    parameters: parameters.clone(),
                    create,
                },
            );
            Ok(())
        })
    }

    fn describe_change_set<'a>(
        &'a self,
        stack: &'a str,
        change_set: &'a str,
    ) -> Call<'a, shipit_core::stack::ChangeSet> {
        Box::pin(async move {
            self.log(format!("describe_change_set {stack}"));
            self.lock()
                .change_sets
                .get(&(stack.to_string(), change_set.to_string()))
                .map(|p| p.described.clone())
                .ok_or_else(|| Error::Aws {
                    message: format!("change set {change_set} of {stack} does not exist"),
                    hint: None,
                })
        })
    }

    fn execute_change_set<'a>(&'a self, stack: &'a str, change_set: &'a str) -> Call<'a, ()> {
        Box::pin(async move {
            self.log(format!("execute_change_set {stack}"));
            let mut s = self.lock();
            let p = s
                .change_sets
                .remove(&(stack.to_string(), change_set.to_string()))
                .ok_or_else(|| Error::Aws {
                    message: format!("change set {change_set} of {stack} does not exist"),
                    hint: None,
                })?;
            let fail = s.fail_execute.take();
            let outputs = s.outputs.clone();
            let record = s.stacks.entry(stack.to_string()).or_default();
            match fail {
                Some((logical_id, reason)) => {
                    record.events.insert(
                        0,
                        shipit_core::stack::Event {
                            timestamp: "2026-01-01T00:00:00Z".into(),
                            logical_id,
                            kind: "AWS::S3::Bucket".into(),
                            status: if p.create {
                                "CREATE_FAILED"
                            } else {
                                "UPDATE_FAILED"
                            }
                            .into(),
                            reason: Some(reason),
                        },
                    );
                    record.info.status = if p.create {
                        "ROLLBACK_COMPLETE"
                    } else {
                        "UPDATE_ROLLBACK_COMPLETE"
                    }
                    .into();
                }
                None => {
                    record.template = p.body;
                    record.info.parameters = p.parameters;
                    record.info.outputs = outputs;
                    record.info.status = if p.create {
                        "CREATE_COMPLETE"
                    } else {
                        "UPDATE_COMPLETE"
                    }
                    .into();
                }
            }
            Ok(())
        })
    }

    fn delete_change_set<'a>(&'a self, stack: &'a str, change_set: &'a str) -> Call<'a, ()> {
        Box::pin(async move {
            self.log(format!("delete_change_set {stack}"));
            self.lock()
                .change_sets
                .remove(&(stack.to_string(), change_set.to_string()));
            Ok(())
        })
    }

    fn events<'a>(&'a self, stack: &'a str) -> Call<'a, Vec<shipit_core::stack::Event>> {
        Box::pin(async move {
            self.log(format!("events {stack}"));
            Ok(self
                .lock()
                .stacks
                .get(stack)
                .map(|r| r.events.clone())
                .unwrap_or_default())
        })
    }

    fn set_termination_protection<'a>(&'a self, stack: &'a str, on: bool) -> Call<'a, ()> {
        Box::pin(async move {
            self.log(format!("set_termination_protection {stack} {on}"));
            if let Some(r) = self.lock().stacks.get_mut(stack) {
                r.info.termination_protection = on;
            }
            Ok(())
        })
    }

    fn delete_stack<'a>(&'a self, stack: &'a str, _role_arn: Option<&'a str>) -> Call<'a, ()> {
        Box::pin(async move {
            self.log(format!("delete_stack {stack}"));
            self.lock().stacks.remove(stack);
            Ok(())
        })
    }

    fn resources<'a>(&'a self, stack: &'a str) -> Call<'a, Vec<shipit_core::stack::StackResource>> {
        Box::pin(async move {
            self.log(format!("resources {stack}"));
            Ok(Vec::new())
        })
    }
}

/// Lambda in memory: `$LATEST` holds a code hash, each publish of new code makes the next
/// version, the `live` alias starts at version 1, and the pre-traffic gate moves it only from
/// where the caller read it, after checking every version but the live one, as
/// stack/shipit.yaml's gate does; a version passes unless the test says why it fails. Every call
/// is logged.
pub struct MemoryFunctions {
    state: Mutex<FunctionsState>,
}

struct FunctionsState {
    latest: String,
    versions: Vec<String>,
    alias: (String, BTreeMap<String, f64>),
    failing: BTreeMap<String, String>,
    calls: Vec<String>,
}

impl MemoryFunctions {
    /// A function whose version 1 holds `code` and is live.
    pub fn new(code: &str) -> MemoryFunctions {
        MemoryFunctions {
            state: Mutex::new(FunctionsState {
                latest: code.to_string(),
                versions: vec![code.to_string()],
                alias: ("1".into(), BTreeMap::new()),
                failing: BTreeMap::new(),
                calls: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FunctionsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// CloudFormation gave the function new code.
    pub fn set_code(&self, code: &str) {
        self.lock().latest = code.to_string();
    }

    /// `version` fails its check from now on, for `why`.
    pub fn fail(&self, version: &str, why: &str) {
        self.lock()
            .failing
            .insert(version.to_string(), why.to_string());
    }

    pub fn live(&self) -> (String, BTreeMap<String, f64>) {
        self.lock().alias.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }
}

impl FunctionsState {
    fn check(&mut self, version: &str) -> shipit_core::lambda::Verdict {
        self.calls.push(format!("check {version}"));
        let published = version
            .parse::<usize>()
            .is_ok_and(|n| (1..=self.versions.len()).contains(&n));
        match self.failing.get(version) {
            _ if !published => Err(format!("{version:?} is not a published version")),
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }
}

impl crate::ports::Functions for MemoryFunctions {
    fn publish<'a>(&'a self, function: &'a str, code_sha256: Option<&'a str>) -> Call<'a, String> {
        Box::pin(async move {
            let mut s = self.lock();
            s.calls.push(format!("publish {function}"));
            if code_sha256.is_some_and(|c| c != s.latest) {
                return Err(Error::Aws {
                    message: format!("publish a version of {function}: PreconditionFailedException: CodeSha256 does not match"),
                    hint: None,
                });
            }
            if s.versions.last() != Some(&s.latest) {
                let code = s.latest.clone();
                s.versions.push(code);
            }
            Ok(s.versions.len().to_string())
        })
    }

    fn alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> Call<'a, shipit_core::lambda::AliasRoute> {
        Box::pin(async move {
            let mut s = self.lock();
            s.calls.push(format!("alias {alias}"));
            Ok(shipit_core::lambda::AliasRoute {
                name: alias.to_string(),
                arn: format!("{function}:{alias}"),
                function: function.to_string(),
                version: s.alias.0.clone(),
                weights: s.alias.1.clone(),
            })
        })
    }

    fn check<'a>(
        &'a self,
        _function: &'a str,
        version: &'a str,
    ) -> Call<'a, shipit_core::lambda::Verdict> {
        Box::pin(async move { Ok(self.lock().check(version)) })
    }

    fn route<'a>(
        &'a self,
        _function: &'a str,
        version: &'a str,
        weights: &'a BTreeMap<String, f64>,
        from: &'a shipit_core::lambda::AliasRoute,
    ) -> Call<'a, shipit_core::lambda::Verdict> {
        Box::pin(async move {
            let mut s = self.lock();
            if s.alias == (version.to_string(), weights.clone()) {
                return Ok(Ok(())); // already there (a retried call)
            }
            if s.alias != (from.version.clone(), from.weights.clone()) {
                return Ok(Err(format!(
                    "live moved since the deploy read it (to {:?}): another deploy or rollback; run again",
                    s.alias
                )));
            }
            let live = s.alias.0.clone();
            for v in std::iter::once(version).chain(weights.keys().map(String::as_str)) {
                if v != live {
                    if let Err(why) = s.check(v) {
                        return Ok(Err(format!(
                            "version {v} did not pass its pre-traffic check: {why}"
                        )));
                    }
                }
            }
            s.calls.push(format!("route live {version} {weights:?}"));
            s.alias = (version.to_string(), weights.clone());
            Ok(Ok(()))
        })
    }
}
