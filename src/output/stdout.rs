//! The one writer of stdout: data a script may read (`plan` listings, the releases table, the
//! verification table) and the `--json` envelope. Every command's JSON is one object,
//! `{"ok": bool, "command": NAME, ...}`; a failure adds `"error": {kind, message, hint,
//! exit_code}`. A closed stdout (`shipit plan | head`) is not an error and never a panic.

use std::io::Write;

use serde_json::{Map, Value};

/// Writes text to stdout as is; a closed pipe is ignored.
pub fn text(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// Writes one line to stdout.
pub fn line(s: &str) {
    text(&format!("{s}\n"));
}

/// The envelope: `ok` and `command` first, then the command's own fields.
pub fn envelope(ok: bool, command: &str, fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("ok".into(), Value::Bool(ok));
    out.insert("command".into(), Value::String(command.into()));
    if let Value::Object(m) = fields {
        for (k, v) in m {
            out.entry(k).or_insert(v);
        }
    }
    Value::Object(out)
}

/// Prints the envelope, pretty, with a final newline.
pub fn json(ok: bool, command: &str, fields: Value) {
    let value = envelope(ok, command, fields);
    let text_ = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into());
    line(&text_);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_puts_ok_and_command_first_and_keeps_the_fields() {
        let v = envelope(
            true,
            "plan",
            serde_json::json!({"counts": {"upload": 1}, "ok": false}),
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys[..2], ["ok", "command"]);
        // A command's own fields never overwrite the envelope's verdict.
        assert_eq!(v["ok"], true);
        assert_eq!(v["counts"]["upload"], 1);
        assert_eq!(v["command"], "plan");
    }
}
