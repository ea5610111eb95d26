//! Output helpers: Docker's padded tables, pretty JSON, and a small subset of Go templates
//! (`{{.A.B}}`, `{{json .A}}`, `{{json .}}`) for `--format`.

use serde_json::Value;

/// Columns padded like docker's tables (Go tabwriter, min width 10, padding 3).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    for w in widths.iter_mut() {
        *w = (*w + 3).max(10);
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i].saturating_sub(c.chars().count()).max(1)));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// Docker prints inspect output as a JSON array indented with four spaces.
pub fn pretty(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8_lossy(&buf).into_owned()
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        cur = cur.get(part)?;
    }
    Some(cur)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", plain(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

/// Render a template against one object. Unknown constructs are copied through.
pub fn template(tpl: &str, v: &Value) -> Result<String, String> {
    if tpl == "json" {
        return Ok(serde_json::to_string(v).unwrap_or_default());
    }
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("template: unclosed action in {tpl:?}"))?;
        let action = after[..end].trim();
        if let Some(p) = action.strip_prefix("json ") {
            let val = lookup(v, p.trim()).ok_or_else(|| format!("template: no field {p}"))?;
            out.push_str(&serde_json::to_string(val).unwrap_or_default());
        } else if action.starts_with('.') {
            let val = lookup(v, action).ok_or_else(|| format!("template: no field {action}"))?;
            out.push_str(&plain(val));
        } else {
            return Err(format!("template: unsupported action {{{{{action}}}}}"));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_like_docker() {
        let t = table(
            &["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
            &[vec![
                "8d7f682eb998".into(),
                "bridge".into(),
                "bridge".into(),
                "local".into(),
            ]],
        );
        assert_eq!(
            t,
            "NETWORK ID     NAME      DRIVER    SCOPE\n8d7f682eb998   bridge    bridge    local\n"
        );
    }

    #[test]
    fn templates() {
        let v: Value = serde_json::json!({"Name":"web","NetworkSettings":{"Networks":{"app":{"IPAddress":"10.0.0.2"}}}});
        assert_eq!(template("{{.Name}}", &v).expect("ok"), "web");
        assert_eq!(
            template("{{.NetworkSettings.Networks.app.IPAddress}}", &v).expect("ok"),
            "10.0.0.2"
        );
        assert_eq!(
            template("{{json .NetworkSettings.Networks.app}}", &v).expect("ok"),
            r#"{"IPAddress":"10.0.0.2"}"#
        );
        assert!(template("{{range .X}}", &v).is_err());
    }
}
