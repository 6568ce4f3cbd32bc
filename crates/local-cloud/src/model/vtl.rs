//! The part of API Gateway's mapping templates (Velocity) the local API Gateway runs: a MOCK
//! integration response's template that reads the request's parameters into variables and,
//! under conditions, overrides the response's headers or status (`$context.responseOverride`),
//! which is how a REST API answers a CORS preflight for a list of origins.
//!
//! One directive per line: `#set($var = EXPR)`, `#set($context.responseOverride.header.NAME =
//! EXPR)`, `#set($context.responseOverride.status = NUMBER)`, `#if(COND)`, `#elseif(COND)`,
//! `#else`, `#end` and `##` comments. An EXPR is a quoted string, a number, a `$variable`,
//! `$input.params("name")` (path, then query string, then header, by exact name, as API
//! Gateway searches them; empty when absent) or `$input.params().header.get("Name")` (the
//! header alone; null when absent). A COND is comparisons (`==`, `!=`) joined by `||` or by
//! `&&`. Plain text lines are the body. Anything else is an error naming the line: the local API
//! answers 500 rather than guess what API Gateway would do. As on API Gateway, a header or the
//! status overridden twice is an error (API Gateway answers 5XX).

use std::collections::BTreeMap;

/// The request parameters a template can read.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    pub path: &'a BTreeMap<String, String>,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
}

impl Params<'_> {
    fn get(&self, name: &str) -> String {
        self.path
            .get(name)
            .cloned()
            .or_else(|| find(self.query, name))
            .or_else(|| find(self.headers, name))
            .unwrap_or_default()
    }
}

fn find(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// What a template decided: header overrides (in the order set), a status override, the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub headers: Vec<(String, String)>,
    pub status: Option<u16>,
    pub body: String,
}

/// One `if` level: whether its lines run, whether a branch of it already ran, and whether
/// its `#else` came (nothing but `#end` may follow it).
struct Branch {
    live: bool,
    taken: bool,
    otherwise: bool,
}

/// Runs `template` against the request's parameters. Every line is checked, in branches
/// that do not run too: a template API Gateway would refuse is refused here whatever the
/// request.
pub fn render(template: &str, params: &Params) -> Result<Rendered, String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Rendered::default();
    let mut stack: Vec<Branch> = Vec::new();
    for (n, raw) in template.lines().enumerate() {
        let line = raw.trim();
        let at = |why: &str| format!("mapping template line {}: {why}: {line}", n + 1);
        let live = stack.iter().all(|b| b.live);
        if line.is_empty() || line.starts_with("##") {
            continue;
        }
        if let Some(cond) = directive(line, "#if") {
            let holds = condition(cond, &vars, params).map_err(|e| at(&e))? && live;
            stack.push(Branch {
                live: holds,
                taken: holds,
                otherwise: false,
            });
        } else if let Some(cond) = directive(line, "#elseif") {
            let value = condition(cond, &vars, params).map_err(|e| at(&e))?;
            let outer = outer_live(&stack);
            let b = stack.last_mut().ok_or_else(|| at("#elseif without #if"))?;
            if b.otherwise {
                return Err(at("#elseif after #else"));
            }
            let holds = outer && !b.taken && value;
            b.live = holds;
            b.taken |= holds;
        } else if line == "#else" {
            let outer = outer_live(&stack);
            let b = stack.last_mut().ok_or_else(|| at("#else without #if"))?;
            if b.otherwise {
                return Err(at("a second #else"));
            }
            b.live = outer && !b.taken;
            b.taken = true;
            b.otherwise = true;
        } else if line == "#end" {
            stack.pop().ok_or_else(|| at("#end without #if"))?;
        } else if let Some(assignment) = directive(line, "#set") {
            let (lhs, rhs) = assignment
                .split_once('=')
                .ok_or_else(|| at("#set without ="))?;
            let target = Target::parse(lhs.trim()).map_err(|e| at(&e))?;
            let value = expr(rhs.trim(), &vars, params).map_err(|e| at(&e))?;
            // As Velocity does, a null value sets nothing.
            if let (true, Some(value)) = (live, value) {
                set(target, value, &mut vars, &mut out).map_err(|e| at(&e))?;
            }
        } else if line.starts_with('#') || line.contains('$') {
            return Err(at("not run by the local API Gateway"));
        } else if live {
            out.body.push_str(line);
            out.body.push('\n');
        }
    }
    if !stack.is_empty() {
        return Err("mapping template: #if without #end".into());
    }
    Ok(out)
}

/// What a `#set` assigns to.
enum Target<'a> {
    Variable(&'a str),
    Header(&'a str),
    Status,
}

impl<'a> Target<'a> {
    fn parse(lhs: &'a str) -> Result<Target<'a>, String> {
        if let Some(header) = lhs.strip_prefix("$context.responseOverride.header.") {
            // An HTTP header name: a token.
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if header.is_empty() || !header.chars().all(token) {
                return Err(format!("{header:?} is not a header name"));
            }
            return Ok(Target::Header(header));
        }
        if lhs == "$context.responseOverride.status" {
            return Ok(Target::Status);
        }
        variable(lhs)
            .map(Target::Variable)
            .ok_or_else(|| format!("cannot set {lhs}"))
    }
}

/// Whether the lines around the innermost `#if` run.
fn outer_live(stack: &[Branch]) -> bool {
    stack[..stack.len().saturating_sub(1)]
        .iter()
        .all(|b| b.live)
}

/// `#name(inner)` -> inner.
fn directive<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn set(
    target: Target,
    value: String,
    vars: &mut BTreeMap<String, String>,
    out: &mut Rendered,
) -> Result<(), String> {
    match target {
        Target::Header(header) => {
            if out
                .headers
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case(header))
            {
                return Err(format!(
                    "{header} overridden twice (API Gateway answers 5XX)"
                ));
            }
            out.headers.push((header.to_string(), value));
        }
        Target::Status => {
            if out.status.is_some() {
                return Err("the status overridden twice (API Gateway answers 5XX)".into());
            }
            out.status = Some(
                value
                    .parse()
                    .ok()
                    .filter(|s| (100..=599).contains(s))
                    .ok_or_else(|| format!("{value:?} is not a status"))?,
            );
        }
        Target::Variable(name) => {
            vars.insert(name.to_string(), value);
        }
    }
    Ok(())
}

/// `$name` (letters, digits, `_`) -> name.
fn variable(s: &str) -> Option<&str> {
    let name = s.strip_prefix('$')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// A value: None is Velocity's null (a variable never set).
fn expr(
    s: &str,
    vars: &BTreeMap<String, String>,
    params: &Params,
) -> Result<Option<String>, String> {
    if let Some(lit) = quoted(s) {
        return Ok(Some(lit.to_string()));
    }
    if let Some(name) = s
        .strip_prefix("$input.params(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(quoted)
    {
        return Ok(Some(params.get(name)));
    }
    // The header map alone: null when absent.
    if let Some(name) = s
        .strip_prefix("$input.params().header.get(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(quoted)
    {
        return Ok(find(params.headers, name));
    }
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
        return Ok(Some(s.to_string()));
    }
    match variable(s) {
        Some(name) => Ok(vars.get(name).cloned()),
        None => Err(format!(
            "{s} is not an expression the local API Gateway runs"
        )),
    }
}

fn quoted(s: &str) -> Option<&str> {
    ['"', '\'']
        .iter()
        .find_map(|q| s.strip_prefix(*q)?.strip_suffix(*q))
        .filter(|inner| !inner.contains(['"', '\'', '$']))
}

fn condition(cond: &str, vars: &BTreeMap<String, String>, params: &Params) -> Result<bool, String> {
    let (any, parts): (bool, Vec<&str>) = match (cond.contains("||"), cond.contains("&&")) {
        (true, true) => return Err("|| and && together".into()),
        (true, false) => (true, cond.split("||").collect()),
        (false, _) => (false, cond.split("&&").collect()),
    };
    let mut results = Vec::with_capacity(parts.len());
    for part in parts {
        let (l, r, equal) = match (part.split_once("=="), part.split_once("!=")) {
            (Some((l, r)), None) => (l, r, true),
            (None, Some((l, r))) => (l, r, false),
            _ => return Err(format!("{} is not a comparison", part.trim())),
        };
        let same = expr(l.trim(), vars, params)? == expr(r.trim(), vars, params)?;
        results.push(same == equal);
    }
    Ok(if any {
        results.iter().any(|x| *x)
    } else {
        results.iter().all(|x| *x)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFLIGHT: &str = r#"
## The site's origins, and only those.
#set($origin = $input.params().header.get("origin"))
#set($origin = $input.params().header.get("Origin"))
#if($origin == "https://d1.cloudfront.net" || $origin == "https://www.example.com")
#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)
#end
"#;

    fn run(template: &str, headers: &[(&str, &str)]) -> Result<Rendered, String> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path = BTreeMap::new();
        render(
            template,
            &Params {
                path: &path,
                query: &[],
                headers: &headers,
            },
        )
    }

    #[test]
    fn a_preflight_template_allows_each_listed_origin_and_nothing_else() {
        for (headers, allowed) in [
            (
                vec![("origin", "https://d1.cloudfront.net")],
                Some("https://d1.cloudfront.net"),
            ),
            (
                vec![("Origin", "https://www.example.com")],
                Some("https://www.example.com"),
            ),
            (vec![("origin", "https://evil.example")], None),
            (
                vec![("origin", "https://d1.cloudfront.net.evil.example")],
                None,
            ),
            (vec![], None),
        ] {
            let r = run(PREFLIGHT, &headers).unwrap();
            let got = r
                .headers
                .iter()
                .find(|(h, _)| h == "Access-Control-Allow-Origin")
                .map(|(_, v)| v.as_str());
            assert_eq!(got, allowed, "{headers:?}");
            assert_eq!(r.body, "");
        }
    }

    #[test]
    fn branches_nest_and_take_the_first_that_holds() {
        let t = r#"
#set($a = "x")
#if($a == "y")
#set($context.responseOverride.status = 500)
#elseif($a == "x" && $input.params("q") != "")
#if($missing == "")
#set($context.responseOverride.header.Which = "null is not empty")
#else
#set($context.responseOverride.header.Which = "inner else")
#end
#else
#set($context.responseOverride.status = 501)
#end
#if($a != "x")
never
#else
text
#end
"#;
        let r = run(t, &[("q", "1")]).unwrap();
        assert_eq!(r.headers, vec![("Which".into(), "inner else".into())]);
        assert_eq!(r.status, None);
        assert_eq!(r.body, "text\n");
        // Without the query parameter, the last branch.
        assert_eq!(run(t, &[]).unwrap().status, Some(501));
    }

    #[test]
    fn a_null_value_sets_nothing_and_an_absent_header_is_null() {
        let t = "#set($a = \"kept\")\n#set($a = $input.params().header.get(\"missing\"))\n#set($context.responseOverride.header.A = $a)\n#set($context.responseOverride.header.B = $never)";
        let r = run(t, &[]).unwrap();
        assert_eq!(r.headers, vec![("A".into(), "kept".into())]);
        // $input.params(...) is empty, not null, when absent.
        let r = run(
            "#set($b = $input.params(\"missing\"))\n#if($b == \"\")\nempty\n#end",
            &[],
        )
        .unwrap();
        assert_eq!(r.body, "empty\n");
    }

    #[test]
    fn what_it_does_not_run_is_an_error_naming_the_line() {
        for (t, why) in [
            ("#foreach($x in $list)\n#end", "line 1"),
            ("#if($a == \"b\")", "#if without #end"),
            ("#end", "#end without #if"),
            ("$input.json('$')", "line 1"),
            ("#set($a = $util.escapeJavaScript(\"x\"))", "not an expression"),
            ("#if($a == 1 || $b == 2 && $c == 3)\n#end", "together"),
            (
                "#set($context.responseOverride.header.X = \"1\")\n#set($context.responseOverride.header.x = \"2\")",
                "overridden twice",
            ),
            ("#set($context.responseOverride.status = \"teapot\")", "not a status"),
            ("#set($context.responseOverride.status = 700)", "not a status"),
            ("#set($context.responseOverride.header. = \"x\")", "not a header name"),
            ("#set($context.responseOverride.header.a b = \"x\")", "not a header name"),
            ("#if($a == 1)\n#else\n#else\n#end", "a second #else"),
            ("#if($a == 1)\n#else\n#elseif($a == 2)\n#end", "after #else"),
            // Checked in a branch that does not run, too.
            ("#if($a == 1)\n#set($context.foo = 1)\n#end", "cannot set"),
            ("#if($a == 1)\n#if($a)\n#end\n#end", "not a comparison"),
        ] {
            let e = run(t, &[]).unwrap_err();
            assert!(e.contains(why), "{t}: {e}");
        }
    }
}
