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
