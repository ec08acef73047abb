//! Writing JSON value trees as the platform's XML: an object is an element per member, an array repeats its
//! member's element, scalars are escaped text.

use serde_json::Value;

/// The XML declaration every XML response starts with.
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Appends `<name>…</name>` for `value` to `out`; an array becomes one `<name>` element per item.
pub fn write_element(out: &mut String, name: &str, value: &Value) {
    let name = element_name(name);
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(out, &name, item);
            }
        }
        Value::Object(members) => {
            open(out, &name);
            for (key, member) in members {
                write_element(out, key, member);
            }
            close(out, &name);
        }
        Value::Null => {
            out.push('<');
            out.push_str(&name);
            out.push_str("/>");
        }
        Value::String(s) => {
            open(out, &name);
            escape_into(out, s);
            close(out, &name);
        }
        Value::Bool(_) | Value::Number(_) => {
            open(out, &name);
            out.push_str(&value.to_string());
            close(out, &name);
        }
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Field and context names are mostly valid XML names already; anything that is not becomes `_`, so a
/// response is always well-formed.
fn element_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// Escapes text content; characters XML 1.0 cannot carry at all are dropped.
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_nested_values_and_escapes() {
        let mut out = String::new();
        write_element(
            &mut out,
            "result",
            &json!({"status": "SUCCESS", "a": ["x", "y"], "b": {"c": "<&>"}, "n": null, "1x": "\u{1}ok"}),
        );
        assert_eq!(
            out,
            "<result><status>SUCCESS</status><a>x</a><a>y</a><b><c>&lt;&amp;&gt;</c></b><n/><_1x>ok</_1x></result>"
        );
    }
}
