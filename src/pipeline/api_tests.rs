//! Shipping the API's code against the in-memory stack service and store: a new stack gets its
//! artifacts bucket first, then the code; unchanged code is no upload and no change set; a
//! failed upload changes no stack; a deploy without `[api]` keeps the live code.

use std::path::PathBuf;
use std::sync::Arc;

use crate::core::package::{build, Entry, Package};
use crate::core::settings::ApiSettings;
use crate::core::stack::StackInfo;
use crate::pipeline::api::{ensure, keeping_live_code, with_code};
use crate::pipeline::test_support::{block_on, stack_settings};
use crate::ports::memory::{Lines, MemoryStack, MemoryStore, Op};
use crate::ports::{ObjectStore, StackService};

fn api() -> ApiSettings {
    ApiSettings {
        source: PathBuf::from("api"),
        handler: "handler.handler".into(),
        runtime: "python3.12".into(),
        architecture: "arm64".into(),
    }
}

fn package(code: &str) -> Package {
    build(vec![Entry {
        name: "handler.py".into(),
        data: code.as_bytes().to_vec(),
        executable: false,
    }])
    .unwrap()
}

struct World {
    cfn: MemoryStack,
    store: Arc<MemoryStore>,
}

impl World {
    fn new() -> World {
        World {
            cfn: MemoryStack::with_outputs(&[
                ("SiteBucketName", "site-bucket"),
                ("ArtifactsBucketName", "artifacts"),
            ]),
            store: Arc::new(MemoryStore::new("artifacts", "")),
        }
    }

    fn ship(
        &self,
        code: Option<&Package>,
    ) -> crate::error::Result<crate::pipeline::provision::Ensured> {
        let store = self.store.clone();
        let store_for = move |bucket: &str| -> Arc<dyn ObjectStore> {
            assert_eq!(bucket, "artifacts");
            store.clone()
        };
        let a = api();
        block_on(ensure(
            &self.cfn,
            &store_for,
            &stack_settings(),
            code.map(|p| (&a, p)),
            &Lines::default(),
        ))
        .map(|(e, _)| e)
    }

    fn live(&self) -> StackInfo {
        block_on(self.cfn.describe("site")).unwrap().unwrap()
    }

    fn executions(&self) -> usize {
        self.cfn
            .calls()
            .iter()
            .filter(|c| c.starts_with("execute_change_set"))
            .count()
    }
}

#[test]
fn a_new_stack_gets_its_bucket_first_then_the_code() {
    let w = World::new();
    let p = package("def handler(e, c): return 1\n");
    let e = w.ship(Some(&p)).unwrap();
    assert_eq!(e.action, "created");
    assert_eq!(w.executions(), 2, "create, then the code");
    let live = w.live();
    assert_eq!(live.parameters["ApiCodeKey"], p.key);
    assert_eq!(live.parameters["ApiArchitecture"], "arm64");
    let stored = w
        .store
        .object(&p.key)
        .expect("the package is in the bucket");
    assert_eq!(stored.body, p.zip);
    assert_eq!(stored.headers.content_type, "application/zip");
}

#[test]
fn unchanged_code_is_no_upload_and_no_change_set() {
    let w = World::new();
    let p = package("def handler(e, c): return 1\n");
    w.ship(Some(&p)).unwrap();
    w.store.clear_calls();
    let before = w.executions();
    let e = w.ship(Some(&p)).unwrap();
    assert_eq!((e.action, e.change_set), ("unchanged", false));
    assert_eq!(w.executions(), before);
    let ops: Vec<Op> = w.store.calls().into_iter().map(|(op, _)| op).collect();
    assert_eq!(ops, [Op::ListDir], "one listing, no upload");
    // A changed line: uploaded, and one change set.
    let p2 = package("def handler(e, c): return 2\n");
    let e = w.ship(Some(&p2)).unwrap();
    assert_eq!(e.action, "updated");
    assert_eq!(w.executions(), before + 1);
    assert_eq!(w.live().parameters["ApiCodeKey"], p2.key);
    assert!(w.store.object(&p.key).is_some(), "the older package stays");
}

#[test]
fn a_failed_upload_changes_no_stack() {
    let w = World::new();
    let p = package("def handler(e, c): return 1\n");
    w.ship(Some(&p)).unwrap();
    let before = w.executions();
    w.store.fail_at(Op::Put, 1);
    let p2 = package("def handler(e, c): return 2\n");
    assert!(w.ship(Some(&p2)).is_err());
    assert_eq!(w.executions(), before, "no change set ran");
    assert_eq!(
        w.live().parameters["ApiCodeKey"],
        p.key,
        "the old code runs"
    );
}

#[test]
fn a_deploy_without_api_keeps_the_live_code() {
    let w = World::new();
    let p = package("def handler(e, c): return 1\n");
    w.ship(Some(&p)).unwrap();
    let before = w.executions();
    let e = w.ship(None).unwrap();
    assert_eq!(e.action, "unchanged");
    assert_eq!(w.executions(), before);
    assert_eq!(w.live().parameters["ApiCodeKey"], p.key);
}

#[test]
fn live_code_kept_only_when_there_is_some_and_never_over_a_given_value() {
    let live = |key: &str| StackInfo {
        parameters: [
            ("ApiCodeKey", key),
            ("ApiHandler", "app.run"),
            ("ApiRuntime", "python3.13"),
            ("ApiArchitecture", "x86_64"),
            ("EnableApi", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..StackInfo::default()
    };
    let kept = keeping_live_code(&stack_settings(), Some(&live("api/x.zip")));
    assert_eq!(kept.parameters["ApiCodeKey"], "api/x.zip");
    assert_eq!(kept.parameters["ApiHandler"], "app.run");
    assert!(
        !kept.parameters.contains_key("EnableApi"),
        "only the code's"
    );
    for info in [None, Some(live(""))] {
        let s = keeping_live_code(&stack_settings(), info.as_ref());
        assert!(s.parameters.is_empty(), "{:?}", s.parameters);
    }
    let mut mine = stack_settings();
    mine.parameters
        .insert("ApiRuntime".into(), "python3.14".into());
    let kept = keeping_live_code(&mine, Some(&live("api/x.zip")));
    assert_eq!(kept.parameters["ApiRuntime"], "python3.14");
}

#[test]
fn code_parameters_set_by_hand_and_by_api_are_refused() {
    let mut s = stack_settings();
    s.parameters.insert("ApiHandler".into(), "x.y".into());
    let p = package("x");
    let e = with_code(&s, crate::pipeline::api::code_parameters(&api(), &p)).unwrap_err();
    assert!(e.to_string().contains("ApiHandler"), "{e}");
    let ok = with_code(
        &stack_settings(),
        crate::pipeline::api::code_parameters(&api(), &p),
    )
    .unwrap();
    assert_eq!(ok.parameters["ApiCodeKey"], p.key);
    assert_eq!(ok.parameters.len(), 4);
}
