//! The interfaces between orchestration and the outside world: the object store (S3), the CDN
//! (CloudFront), the stack service (CloudFormation), Lambda as far as the API's versions go
//! (`Functions`), the account and its databases as the preflight reads them (`Account`,
//! `Databases`), and the reporter. `shipit_aws` implements the first six,
//! `local_cloud::servers::invoke` `Functions` on the local cloud, the binary's `output` the
//! reporter; `memory` implements the store, the CDN, the stack
//! service, `Functions` and the reporter in memory (the store able to fail at any call), so the
//! pipeline's ordering and safety rules are unit tests. `memory` is compiled for tests only
//! (and with the `testing` feature), never into a release binary. The futures are boxed: one
//! `dyn` call per request costs nothing next to a request.

#[cfg(any(test, feature = "testing"))]
pub mod memory;

use std::collections::BTreeMap;
use std::path::Path;

use futures::future::BoxFuture;

use shipit_core::error::Result;
use shipit_core::files::Md5;
use shipit_core::headers::Headers;
use shipit_core::lambda::{AliasRoute, Verdict};
use shipit_core::preflight::{Certificate, LambdaLimits, Usage};
use shipit_core::stack::{ChangeSet, Event, StackInfo, StackResource};
use shipit_core::state::{Head, Listed};

/// What a boundary call returns: a boxed future of a shipit result.
pub type Call<'a, T> = BoxFuture<'a, Result<T>>;

/// The condition on a write of one of shipit's own small objects (the lock's fencing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition<'a> {
    /// Write whatever is there.
    None,
    /// Only if no object has the key (`If-None-Match: *`).
    IfAbsent,
    /// Only if the object is still this ETag (`If-Match`).
    IfMatch(&'a str),
}

/// One object read whole: its bytes, ETag (no quotes) and last-modified time (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
    pub last_modified: Option<i64>,
}

/// A bucket seen through a prefix: every key given and returned is relative to the prefix.
/// `what` arguments name the operation in errors ("read shipit's manifest").
pub trait ObjectStore: Send + Sync {
    fn bucket(&self) -> &str;
    /// How many throttle answers (503 SlowDown, 429) the service has given so far, retried
    /// or not: the writes' concurrency backs off on them.
    fn throttled(&self) -> u64 {
        0
    }
    /// Every object under the prefix except shipit's own state (`.shipit/`).
    fn list(&self) -> Call<'_, Vec<Listed>>;
    /// The keys under one of shipit's state directories (`.shipit/releases/`), relative to it.
    fn list_dir<'a>(&'a self, dir: &'a str, what: &'a str) -> Call<'a, Vec<String>>;
    fn head<'a>(&'a self, key: &'a str) -> Call<'a, Head>;
    /// The object, or None when there is none.
    fn get<'a>(&'a self, key: &'a str, what: &'a str) -> Call<'a, Option<Object>>;
    /// Uploads a file in one PUT; returns the new ETag.
    fn put_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String>;
    /// Uploads a file in parts of `part_size`; an upload that fails is aborted.
    fn put_multipart<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
        size: u64,
        part_size: u64,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String>;
    /// Writes one of shipit's small JSON objects (never cached). None: the precondition failed.
    fn put_state<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        condition: Precondition<'a>,
        what: &'a str,
    ) -> Call<'a, Option<String>>;
    /// Copies a key onto itself (from one of its versions, or the current one) with these
    /// headers; returns the new ETag. No body is sent.
    fn copy_onto<'a>(
        &'a self,
        key: &'a str,
        version: Option<&'a str>,
        headers: &'a Headers,
        md5: &'a Md5,
    ) -> Call<'a, String>;
    /// Deletes up to [`DELETE_BATCH`] keys; a per-key error in the reply is a failure.
    fn delete_batch<'a>(&'a self, keys: &'a [String]) -> Call<'a, ()>;
    /// Deletes one key; with `if_match`, only that ETag. False: the precondition failed.
    fn delete<'a>(
        &'a self,
        key: &'a str,
        if_match: Option<&'a str>,
        what: &'a str,
    ) -> Call<'a, bool>;
    /// The versions of one key, newest first: (version id, ETag without quotes).
    fn versions<'a>(&'a self, key: &'a str) -> Call<'a, Vec<(String, String)>>;
    /// Deletes every version and delete marker in the whole bucket, prefix or not (for
    /// `destroy`). Returns (versions, delete markers); a missing bucket is already empty.
    fn purge(&self) -> Call<'_, (usize, usize)>;
}

/// S3's limit on keys per DeleteObjects request.
pub const DELETE_BATCH: usize = 1000;

/// What CloudFront said to a new invalidation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Id(String),
    /// Too many invalidations in flight (`TooManyInvalidationsInProgress`): ask again later.
    Busy,
}

/// The CDN in front of the bucket.
pub trait Cdn: Send + Sync {
    fn create_invalidation<'a>(
        &'a self,
        distribution: &'a str,
        paths: &'a [String],
        reference: &'a str,
    ) -> Call<'a, Created>;
    /// The invalidation's status as CloudFront spells it (`InProgress`, `Completed`).
    fn invalidation_status<'a>(&'a self, distribution: &'a str, id: &'a str) -> Call<'a, String>;
}

/// One answer of the account to the preflight, or why it could not be read.
pub type Ask<'a, T> = BoxFuture<'a, std::result::Result<T, String>>;

/// What the preflight counts against a quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    Vpcs,
    Addresses,
    /// In one availability zone.
    NatGateways(String),
    Distributions,
    Functions,
}

/// The account, read-only, as the preflight asks it (`aws::account` on AWS).
pub trait Account: Send + Sync {
    fn region(&self) -> String;
    fn lambda_limits(&self) -> Ask<'_, LambdaLimits>;
    /// The engine's versions of one major, with their status.
    fn engine_versions<'a>(
        &'a self,
        engine: &'a str,
        major: &'a str,
    ) -> Ask<'a, Vec<(String, String)>>;
    /// The zones where an instance class can be ordered with a version of that major.
    fn orderable_zones<'a>(
        &'a self,
        engine: &'a str,
        major: &'a str,
        class: &'a str,
    ) -> Ask<'a, Vec<String>>;
    fn zones(&self) -> Ask<'_, Vec<String>>;
    fn cache_node_offered<'a>(&'a self, node_type: &'a str) -> Ask<'a, bool>;
    fn usage(&self, what: Counted) -> Ask<'_, Usage>;
    /// The certificate; status `core::preflight::MISSING` when ACM does not know it.
    fn certificate<'a>(&'a self, arn: &'a str) -> Ask<'a, Certificate>;
    /// The hosted zone's name; None when Route 53 has no such zone.
    fn zone_name<'a>(&'a self, id: &'a str) -> Ask<'a, Option<String>>;
    fn apigw_logging_role(&self) -> Ask<'_, Option<String>>;
}

/// ECR, as far as shipit writes to it: the local cloud's stand-in images of
/// `[api] local_command` (on AWS, images are the user's CI's to push).
pub trait Registry: Send + Sync {
    /// Puts the OCI image `manifest` into `repository` (made when missing) under `tag`; the
    /// image's URI by digest (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME@sha256:…`).
    fn put_image<'a>(
        &'a self,
        repository: &'a str,
        manifest: &'a str,
        tag: &'a str,
    ) -> Call<'a, String>;
}

/// SSM Parameter Store, as far as shipit keeps a stack's parameters (`/shipit/STACK/NAME`,
/// SecureString): their names and versions for a deploy, and `shipit params`.
pub trait Parameters: Send + Sync {
    /// Every parameter directly under `path` (which ends with `/`): (its name without the
    /// path, its version), by name. Values are not read.
    fn list<'a>(&'a self, path: &'a str) -> Call<'a, Vec<(String, u64)>>;
    /// Sets `name` (a full name) to `value` as a SecureString, overwriting: its new version.
    fn put<'a>(&'a self, name: &'a str, value: &'a str) -> Call<'a, u64>;
    /// `name`'s value (decrypted) and version; None when there is no such parameter.
    fn get<'a>(&'a self, name: &'a str) -> Call<'a, Option<(String, u64)>>;
    /// Deletes `name` (a full name).
    fn delete<'a>(&'a self, name: &'a str) -> Call<'a, ()>;
}

/// The one change shipit makes to a database itself: lifting its deletion protection, for
/// `destroy --delete-database` (run by an administrator).
pub trait Databases: Send + Sync {
    fn unprotect<'a>(&'a self, instance: &'a str) -> Call<'a, ()>;
}

/// CloudFormation, as far as shipit drives it.
pub trait StackService: Send + Sync {
    /// The stack, or None when it does not exist.
    fn describe<'a>(&'a self, name: &'a str) -> Call<'a, Option<StackInfo>>;
    /// The template the stack was last deployed with, as written.
    fn template<'a>(&'a self, name: &'a str) -> Call<'a, String>;
    fn create_change_set<'a>(
        &'a self,
        stack: &'a str,
        change_set: &'a str,
        create: bool,
        body: &'a str,
        parameters: &'a BTreeMap<String, String>,
        role_arn: Option<&'a str>,
    ) -> Call<'a, ()>;
    fn describe_change_set<'a>(
        &'a self,
        stack: &'a str,
        change_set: &'a str,
    ) -> Call<'a, ChangeSet>;
    fn execute_change_set<'a>(&'a self, stack: &'a str, change_set: &'a str) -> Call<'a, ()>;
    fn delete_change_set<'a>(&'a self, stack: &'a str, change_set: &'a str) -> Call<'a, ()>;
    /// The stack's events, newest first.
    fn events<'a>(&'a self, stack: &'a str) -> Call<'a, Vec<Event>>;
    fn set_termination_protection<'a>(&'a self, stack: &'a str, on: bool) -> Call<'a, ()>;
    fn delete_stack<'a>(&'a self, stack: &'a str, role_arn: Option<&'a str>) -> Call<'a, ()>;
    fn resources<'a>(&'a self, stack: &'a str) -> Call<'a, Vec<StackResource>>;
}

/// Lambda, as far as shipit moves the API's code: versions, the alias API Gateway invokes, and
/// the stack's pre-traffic gate, which alone checks a version and moves the alias.
pub trait Functions: Send + Sync {
    /// Publishes the function's current code and configuration as a version, refused unless its
    /// code is `code_sha256` (base64, as Lambda reports it) when one is given; an unchanged
    /// function returns the version published last. Returns the version.
    fn publish<'a>(&'a self, function: &'a str, code_sha256: Option<&'a str>) -> Call<'a, String>;
    /// Where the alias sends traffic.
    fn alias<'a>(&'a self, function: &'a str, alias: &'a str) -> Call<'a, AliasRoute>;
    /// Has the stack's pre-traffic gate invoke `version` with its `GET /health` event: the
    /// verdict (Ok(Err(why)) when the version did not answer 200).
    fn check<'a>(&'a self, function: &'a str, version: &'a str) -> Call<'a, Verdict>;
    /// Has the gate point the `live` alias at `version`, with `weights` (version -> share, 0..1)
    /// going elsewhere, provided it still routes as `from`; every version but the one live now
    /// is checked first, and when one does not pass, or the alias moved since `from` was read,
    /// nothing moves (Ok(Err(why))). The deploy credential can do neither itself.
    fn route<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
        weights: &'a BTreeMap<String, f64>,
        from: &'a AliasRoute,
    ) -> Call<'a, Verdict>;
}

/// Where progress and human messages go (stderr, through `output`). Stages report; they never
/// print.
pub trait Reporter: Send + Sync {
    /// The start of a pipeline stage.
    fn stage(&self, text: &str);
    fn info(&self, text: &str);
    /// Shown with `-v`.
    fn detail(&self, text: &str);
    fn warn(&self, text: &str);
    fn verbose(&self) -> u8;
    /// Progress over `items` items of `bytes` bytes in total.
    fn progress<'a>(&'a self, label: &str, items: u64, bytes: u64) -> Box<dyn Progress + 'a>;
}

/// Progress of one stage.
pub trait Progress: Send + Sync {
    /// One item done, `bytes` of it sent.
    fn inc(&self, bytes: u64);
    fn finish(self: Box<Self>);
}
