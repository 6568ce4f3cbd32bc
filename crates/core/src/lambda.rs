//! The API's versions as shipit moves them: where the `live` alias sends traffic
//! (`AliasRoute`), what an invocation answered (`Invoked`), and the requests and answers of the
//! stack's pre-traffic gate, which alone checks a version and moves `live`. How the local cloud
//! runs a function is `local_cloud::model::lambda`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Where an alias sends its traffic: `version`, but for the share of the others in `weights`
/// (Lambda's weighted alias, `RoutingConfig.AdditionalVersionWeights`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AliasRoute {
    pub name: String,
    pub arn: String,
    /// The function's unqualified ARN.
    pub function: String,
    pub version: String,
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
}

impl AliasRoute {
    /// The version one invocation goes to, for `roll` drawn uniformly from [0, 1).
    pub fn pick(&self, roll: f64) -> &str {
        let mut below = 0.0;
        for (version, weight) in &self.weights {
            below += weight;
            if roll < below {
                return version;
            }
        }
        &self.version
    }

    /// The ARN that names `version` of the function.
    pub fn qualified(&self, version: &str) -> String {
        format!("{}:{version}", self.function)
    }
}

/// What an invocation of a version answered: the payload, and Lambda's `FunctionError` when the
/// handler raised or the runtime failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    pub payload: Vec<u8>,
    pub function_error: Option<String>,
}

/// What the stack's pre-traffic gate (`PreTrafficGate` in stack/shipit.yaml) decided: `Ok`
/// when the version passed (or the alias moved), else why not, in the gate's words.
pub type Verdict = Result<(), String>;

/// The protocol of stack/shipit.yaml's gate this shipit speaks (its answers carry it as `v`).
pub const GATE_PROTOCOL: u32 = 1;

/// The gate's request to invoke `version` with its own `GET /health` event.
pub fn gate_check(version: &str) -> serde_json::Value {
    serde_json::json!({ "check": version })
}

/// The gate's request to point `live` at `version`, with `weights` (version -> share) going
/// elsewhere, if it still routes as `from` (else another run moved it since it was read): each
/// version but the one live now is checked first.
pub fn gate_route(
    version: &str,
    weights: &BTreeMap<String, f64>,
    from: &AliasRoute,
) -> serde_json::Value {
    serde_json::json!({ "route": {
        "version": version,
        "weights": weights,
        "from": { "version": from.version, "weights": from.weights },
    } })
}

/// The gate's answer: its verdict, or (Err) why the gate itself gave none (it failed, Lambda
/// refused one of its calls: `"fault": "gate"`, or it answered something else than
/// `{"ok": bool, "why": text or null}`).
pub fn gate_answer(invoked: &Invoked) -> Result<Verdict, String> {
    #[derive(Deserialize)]
    struct Answer {
        /// The gate's protocol: a gate of another protocol (an older stack) is not trusted.
        v: Option<u32>,
        ok: bool,
        why: Option<String>,
        fault: Option<String>,
    }
    let shown = || {
        String::from_utf8_lossy(&invoked.payload)
            .chars()
            .take(500)
            .collect::<String>()
    };
    if let Some(kind) = &invoked.function_error {
        return Err(format!("it failed ({kind}): {}", shown()));
    }
    match serde_json::from_slice::<Answer>(&invoked.payload) {
        Ok(Answer { v, .. }) if v != Some(GATE_PROTOCOL) => Err(format!(
            "it speaks protocol {}, not {GATE_PROTOCOL}: the stack's gate is not this shipit's (update the stack: a shipit deploy with the infrastructure role)",
            v.map_or("none".to_string(), |v| v.to_string())
        )),
        Ok(Answer {
            fault: Some(_),
            why,
            ..
        }) => Err(why.unwrap_or_else(&shown)),
        Ok(Answer { ok: true, .. }) => Ok(Ok(())),
        Ok(Answer { ok: false, why, .. }) => {
            Ok(Err(why.unwrap_or_else(|| "no reason given".into())))
        }
        Err(e) => Err(format!("it answered something else ({e}): {}", shown())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_answer_is_its_verdict_or_its_failure() {
        let answered = |payload: &str, error: Option<&str>| Invoked {
            payload: payload.as_bytes().to_vec(),
            function_error: error.map(str::to_string),
        };
        let table: [(Invoked, Result<Verdict, &str>); 8] = [
            (
                answered(r#"{"v": 1, "ok": true, "why": null}"#, None),
                Ok(Ok(())),
            ),
            (
                answered(
                    r#"{"v": 1, "ok": false, "why": "GET /health answered 503"}"#,
                    None,
                ),
                Ok(Err("GET /health answered 503".into())),
            ),
            (
                answered(r#"{"v": 1, "ok": false}"#, None),
                Ok(Err("no reason given".into())),
            ),
            (
                answered(
                    r#"{"errorType": "AccessDeniedException"}"#,
                    Some("Unhandled"),
                ),
                Err("it failed (Unhandled): {\"errorType\": \"AccessDeniedException\"}"),
            ),
            (
                answered(
                    r#"{"v": 1, "ok": false, "fault": "gate", "why": "Lambda refused or did not answer the gate: An error occurred (PreconditionFailedException) when calling the UpdateAlias operation"}"#,
                    None,
                ),
                Err("Lambda refused or did not answer the gate"),
            ),
            (answered("null", None), Err("it answered something else")),
            (
                answered(r#"{"v": 1, "ok": "yes"}"#, None),
                Err("it answered something else"),
            ),
            (
                answered(r#"{"ok": true, "why": null}"#, None),
                Err("it speaks protocol none, not 1"),
            ),
        ];
        for (invoked, want) in table {
            match (gate_answer(&invoked), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{got}"),
                (got, want) => panic!("{got:?}, not {want:?}"),
            }
        }
        let weights = BTreeMap::from([("8".to_string(), 0.1)]);
        let from = AliasRoute {
            name: "live".into(),
            arn: "arn:f:live".into(),
            function: "arn:f".into(),
            version: "7".into(),
            weights: BTreeMap::new(),
        };
        assert_eq!(
            gate_route("7", &weights, &from),
            serde_json::json!({"route": {"version": "7", "weights": {"8": 0.1},
                "from": {"version": "7", "weights": {}}}})
        );
        assert_eq!(gate_check("7"), serde_json::json!({"check": "7"}));
    }

    #[test]
    fn a_weighted_alias_sends_each_share_to_its_version() {
        let alias = AliasRoute {
            name: "live".into(),
            arn: "arn:f:live".into(),
            function: "arn:f".into(),
            version: "2".into(),
            weights: [("3".to_string(), 0.1)].into(),
        };
        for (roll, want) in [
            (0.0, "3"),
            (0.099, "3"),
            (0.1, "2"),
            (0.5, "2"),
            (0.999, "2"),
        ] {
            assert_eq!(alias.pick(roll), want, "{roll}");
        }
        let all = AliasRoute {
            weights: BTreeMap::new(),
            ..alias.clone()
        };
        assert_eq!(all.pick(0.0), "2");
        assert_eq!(alias.qualified("3"), "arn:f:3");
    }
}
