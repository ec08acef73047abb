//! Reading XML request bodies into the same value tree as JSON (CONTRACT §3), so that one parser and one set
//! of rules serve both formats.
//!
//! One root element of any name; each child mirrors a JSON key; an element with child elements is an object;
//! an element with text is a string; an empty element is `null` (which clears, like `""`); `phoneLogs` and
//! `relatedRecords` are always lists, one element per entry. DTDs and entity declarations are refused, and the
//! depth and element count are bounded, so no document can make the parser expensive.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};

use crate::wire::error::ApiError;

/// Top-level elements that repeat to form a list.
const LIST_KEYS: &[&str] = &["phoneLogs", "relatedRecords"];
/// Deepest nesting the request shape needs is 4 (root, interaction, additionalParams, field); a little slack.
const MAX_DEPTH: usize = 8;
/// Most elements in one document: 500 logs and 500 related records of a dozen fields fit easily.
const MAX_ELEMENTS: usize = 50_000;

/// Parses an XML request body.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut builder = Builder::default();
    loop {
        let event = reader.read_event().map_err(|e| malformed(&e.to_string()))?;
        match event {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => {
                return Err(ApiError::invalid(
                    "body",
                    "XML DTDs and entity declarations are not allowed",
                ));
            }
            Event::Start(start) => builder.open(&start)?,
            Event::Empty(start) => {
                builder.open(&start)?;
                builder.close()?;
            }
            Event::End(_) => builder.close()?,
            Event::Text(t) => builder.text(&t.xml10_content())?,
            Event::CData(c) => builder.text(&c.into_inner())?,
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&r.into_inner()).map(str::to_owned)
                };
                let s = resolved.ok_or_else(|| {
                    ApiError::invalid("body", "XML refers to an undeclared entity")
                })?;
                builder.text(&s)?;
            }
            Event::Eof => break,
        }
    }
    builder.finish()
}

fn malformed(why: &str) -> ApiError {
    ApiError::invalid("body", format!("malformed XML: {why}"))
}

/// An element being read: its name, its text so far, its children so far.
struct Open {
    name: String,
    text: String,
    children: Map<String, Value>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Value>,
    elements: usize,
}

impl Builder {
    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), ApiError> {
        if self.root.is_some() {
            return Err(malformed("more than one root element"));
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(ApiError::invalid(
                "body",
                format!("must have at most {MAX_ELEMENTS} XML elements"),
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(ApiError::invalid(
                "body",
                format!("XML must nest at most {MAX_DEPTH} levels deep"),
            ));
        }
        let name = start.local_name().as_ref().to_owned();
        self.stack.push(Open {
            name,
            text: String::new(),
            children: Map::new(),
        });
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<(), ApiError> {
        match self.stack.last_mut() {
            Some(open) => {
                open.text.push_str(s);
                Ok(())
            }
            None if s.trim().is_empty() => Ok(()),
            None => Err(malformed("text outside the root element")),
        }
    }

    fn close(&mut self) -> Result<(), ApiError> {
        let open = self
            .stack
            .pop()
            .ok_or_else(|| malformed("unbalanced end tag"))?;
        let path = self.path_of(&open.name);
        let value = if open.children.is_empty() {
            if open.text.is_empty() {
                Value::Null
            } else {
                Value::String(open.text)
            }
        } else if !open.text.trim().is_empty() {
            return Err(ApiError::invalid(
                &path,
                "must hold either text or elements, not both",
            ));
        } else {
            Value::Object(open.children)
        };
        let is_top_level = self.stack.len() == 1;
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(parent) => {
                if is_top_level && LIST_KEYS.contains(&open.name.as_str()) {
                    let list = parent
                        .children
                        .entry(open.name)
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = list {
                        items.push(value);
                    }
                } else if parent.children.contains_key(&open.name) {
                    return Err(ApiError::invalid(&path, "appears more than once"));
                } else {
                    parent.children.insert(open.name, value);
                }
            }
        }
        Ok(())
    }

    /// The JSON-style path of a child of the innermost open element, for error details.
    fn path_of(&self, name: &str) -> String {
        let mut parts: Vec<&str> = self.stack.iter().skip(1).map(|o| o.name.as_str()).collect();
        parts.push(name);
        parts.join(".")
    }

    fn finish(self) -> Result<Value, ApiError> {
        if !self.stack.is_empty() {
            return Err(malformed("the document ends inside an element"));
        }
        match self.root {
            // The root's name is free; what matters is what it holds. An empty root is an empty body.
            Some(Value::Null) => Ok(Value::Object(Map::new())),
            Some(Value::String(_)) => Err(ApiError::invalid(
                "body",
                "the root element must hold elements",
            )),
            Some(root) => Ok(root),
            None => Err(ApiError::invalid("body", "is required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(xml: &str) -> Value {
        parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{xml}: {e:?}"))
    }

    fn err(xml: &str) -> String {
        parse(xml.as_bytes()).unwrap_err().detail
    }

    #[test]
    fn mirrors_the_json_shape() {
        let v = ok(r#"<?xml version="1.0" encoding="UTF-8"?>
            <request>
              <interaction>
                <userPhoneNumber>+1303506536</userPhoneNumber>
                <additionalParams><short_description>a &amp; b &#x263A;</short_description><queue/></additionalParams>
              </interaction>
              <phoneLogs><call_id>1</call_id></phoneLogs>
              <relatedRecords><documentTable>sys_user</documentTable><documentId>x</documentId></relatedRecords>
              <relatedRecords><documentTable>t</documentTable><documentId><![CDATA[y<z]]></documentId></relatedRecords>
            </request>"#);
        assert_eq!(
            v,
            json!({
                "interaction": {
                    "userPhoneNumber": "+1303506536",
                    "additionalParams": {"short_description": "a & b \u{263A}", "queue": null}
                },
                "phoneLogs": [{"call_id": "1"}],
                "relatedRecords": [
                    {"documentTable": "sys_user", "documentId": "x"},
                    {"documentTable": "t", "documentId": "y<z"}
                ]
            })
        );
    }

    #[test]
    fn refuses_dtds_and_entities() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><r><interaction>&lol;</interaction></r>"#;
        assert!(err(bomb).contains("DTD"));
        assert!(err("<r><a>&ext;</a></r>").contains("undeclared entity"));
    }

    #[test]
    fn bounds_and_malformed_documents() {
        let deep = format!("<r>{}{}</r>", "<a>".repeat(20), "</a>".repeat(20));
        assert!(err(&deep).contains("nest at most"));
        assert!(err("<r><a>1</a><a>2</a></r>").starts_with("a: appears more than once"));
        assert!(err("<r><a>text<b/></a></r>").starts_with("a: must hold either"));
        assert!(err("<r><a></r>").starts_with("body: malformed XML"));
        assert!(err("<r/><s/>").starts_with("body: malformed XML"));
        assert!(err("").starts_with("body: is required"));
        assert!(err("<r>hello</r>").starts_with("body: the root element"));
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
