//! CloudFront Functions, run: a distribution's viewer-request or viewer-response code in an
//! embedded JavaScript engine (QuickJS), called as CloudFront calls `handler(event)` with the
//! `cloudfront-js-2.0` event, within its limits: 10 KB of code, no modules, no network, no
//! timers (what the runtime does not offer is a ReferenceError here too), and a time budget
//! past which the function fails as one that exceeds its compute utilisation. The event and
//! what its result means are `model::edge`'s.

use std::time::{Duration, Instant};

use rquickjs::{Context, Function, Runtime, Value};

/// CloudFront's limit on a function's code (the configuration is checked against it on load).
use crate::model::edge::MAX_FUNCTION_CODE as MAX_CODE;
/// The local stand-in for CloudFront's compute utilisation limit (about a millisecond of CPU
/// on CloudFront; generous here, where QuickJS is slower and the machine is shared).
const BUDGET: Duration = Duration::from_millis(200);
/// CloudFront Functions have 2 MB of memory.
const MEMORY: usize = 2 * 1024 * 1024;

/// Runs `handler(event)` of `code`; the result as JSON, or why the function failed (CloudFront
/// answers 503 for a failed function).
pub fn run(code: &str, event: &serde_json::Value) -> Result<serde_json::Value, String> {
    if code.len() > MAX_CODE {
        return Err(format!(
            "the function's code is {} bytes; CloudFront takes at most {MAX_CODE}",
            code.len()
        ));
    }
    let rt = Runtime::new().map_err(|e| format!("cannot start the JavaScript engine: {e}"))?;
    rt.set_memory_limit(MEMORY);
    let started = Instant::now();
    rt.set_interrupt_handler(Some(Box::new(move || started.elapsed() > BUDGET)));
    let ctx = Context::full(&rt).map_err(|e| format!("cannot start the JavaScript engine: {e}"))?;
    ctx.with(|ctx| {
        let fail = |what: &str, e: rquickjs::Error| -> String {
            let thrown = ctx.catch();
            let detail = thrown
                .as_exception()
                .and_then(|x| x.message())
                .or_else(|| thrown.as_string().and_then(|s| s.to_string().ok()))
                .unwrap_or_else(|| e.to_string());
            if started.elapsed() > BUDGET {
                format!("{what}: the function exceeded its time budget ({} ms)", BUDGET.as_millis())
            } else {
                format!("{what}: {detail}")
            }
        };
        ctx.eval::<(), _>(code).map_err(|e| fail("the function's code does not load", e))?;
        let handler: Function = ctx
            .globals()
            .get("handler")
            .map_err(|_| "the function's code defines no handler(event)".to_string())?;
        let event: Value = ctx
            .json_parse(event.to_string())
            .map_err(|e| fail("the event", e))?;
        let result: Value = handler
            .call((event,))
            .map_err(|e| fail("the function threw", e))?;
        if result.is_promise() {
            return Err("the function returned a promise: cloudfront-js-2.0 handlers here must return their result (await is not emulated)".into());
        }
        let text = ctx
            .json_stringify(result)
            .map_err(|e| fail("the function's result", e))?
            .ok_or("the function returned nothing")?
            .to_string()
            .map_err(|e| format!("the function's result: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("the function's result is not JSON: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn handlers_run_and_failures_say_why() {
        let event = json!({"request": {"uri": "/a"}});
        let ok = run(
            "function handler(e) { e.request.uri += '/b'; return e.request; }",
            &event,
        );
        assert_eq!(ok.unwrap(), json!({"uri": "/a/b"}));
        // (code, what the failure says)
        let table = [
            ("function handler(e) { throw new Error('nope'); }", "nope"),
            (
                "function handler(e) { return require('crypto'); }",
                "require",
            ),
            ("function handler(e) { return fetch('x'); }", "fetch"),
            ("var x = ;", "does not load"),
            ("var handle = 1;", "no handler"),
            ("function handler(e) { while (true) {} }", "time budget"),
            ("async function handler(e) { return e.request; }", "promise"),
            ("function handler(e) { return undefined; }", "nothing"),
        ];
        for (code, says) in table {
            let e = run(code, &event).unwrap_err();
            assert!(e.contains(says), "{code}: {e}");
        }
        let big = format!(
            "function handler(e) {{ return e; }} /*{}*/",
            "x".repeat(MAX_CODE)
        );
        assert!(run(&big, &event).unwrap_err().contains("at most"));
    }

    /// The template's own routing function, run as CloudFront runs it, then the default root
    /// object: what a viewer's URI becomes.
    #[test]
    fn the_templates_routing_function_routes_as_designed() {
        use crate::model::edge::{default_root, function_event, request_result, Viewer};
        use std::collections::BTreeMap;
        let t = shipit_core::template::Template::embedded();
        let code = |spa: &str| {
            let mut p = BTreeMap::new();
            p.insert("SpaFallback".to_string(), spa.to_string());
            let c =
                crate::model::distribution::from_template(&t, t.resolve_parameters(&p).unwrap())
                    .unwrap();
            c.default.viewer_request.unwrap()
        };
        let (spa, dirs) = (code("true"), code("false"));
        let route = |code: &str, uri: &str| -> Viewer {
            let req = crate::model::edge::ViewerRequest {
                method: "GET".into(),
                uri: uri.into(),
                ..Default::default()
            };
            match request_result(&run(code, &function_event(&req, "E1", None)).unwrap()).unwrap() {
                Viewer::Forward(u) => Viewer::Forward(default_root(u, "index.html")),
                other => other,
            }
        };
        let fwd = |u: &str| Viewer::Forward(u.into());
        let not_found = |v: &Viewer| matches!(v, Viewer::Respond { status: 404, .. });
        let table = [
            (&spa, "/", fwd("/index.html")),
            (&spa, "/about/team", fwd("/index.html")),
            (&spa, "/about/team/", fwd("/index.html")),
            (&spa, "/assets/app.js", fwd("/assets/app.js")),
            (&spa, "/assets/missing.js", fwd("/assets/missing.js")),
            (&dirs, "/about", fwd("/about/index.html")),
            (&dirs, "/about/", fwd("/about/index.html")),
            (&dirs, "/", fwd("/index.html")),
        ];
        for (code, uri, want) in table {
            assert_eq!(route(code, uri), want, "{uri}");
        }
        // shipit's state, at the root or under a deploy prefix, is never served.
        for uri in [
            "/.shipit/manifest.json",
            "/site/.shipit/lock.json",
            "/v2.shipit/x.json",
        ] {
            assert!(not_found(&route(&spa, uri)), "{uri}");
            assert!(not_found(&route(&dirs, uri)), "{uri}");
        }
    }
}
