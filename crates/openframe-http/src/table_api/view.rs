//! How a Table API record is shown: which fields, stored or display values or both
//! (`sysparm_display_value`), and references with or without links.

use std::borrow::Cow;

use openframe_core::display::{DisplayMode, ReferenceNames};
use openframe_core::query::parse_field_list;
use openframe_core::schema::{FieldDef, FieldKind, Table};
use openframe_core::{Record, Repository, computed};
use serde_json::{Map, Value};

use super::params::{Params, flag};
use crate::wire::error::ApiError;
use crate::wire::rows::RowWriter;

/// How records are shown: which fields (all by default, computed ones last), which values, whether
/// references carry links, and the base URL of links.
pub(crate) struct View {
    /// The fields named in `sysparm_fields` (empty: all), as [`ReferenceNames::look_up`] takes them.
    fields: Vec<&'static str>,
    /// The fields shown, in order, each found in the table once here rather than per record.
    columns: Vec<Column>,
    mode: DisplayMode,
    links: bool,
    pub(crate) base: String,
}

/// A field shown: a stored one (its definition and position) or a computed one.
struct Column {
    name: &'static str,
    stored: Option<(usize, &'static FieldDef)>,
}

impl View {
    pub(crate) fn parse(
        table: &'static Table,
        params: &Params,
        base: &str,
    ) -> Result<Self, ApiError> {
        let fields = match params.get("sysparm_fields") {
            Some(list) => parse_field_list(table, list)?,
            None => Vec::new(),
        };
        let names: Vec<&'static str> = if fields.is_empty() {
            table
                .field_names()
                .chain(computed::computed_fields(table).iter().copied())
                .collect()
        } else {
            fields.clone()
        };
        let columns = names
            .into_iter()
            .map(|name| Column {
                name,
                stored: table.field(name),
            })
            .collect();
        Ok(View {
            fields,
            columns,
            mode: DisplayMode::parse(params.get("sysparm_display_value"))?,
            links: !flag(params, "sysparm_exclude_reference_link")?,
            base: base.to_owned(),
        })
    }

    /// What `records` reference, looked up when display values are shown (one query per referenced
    /// table); nothing otherwise.
    pub(crate) async fn reference_names(
        &self,
        repo: &dyn Repository,
        records: &[Record],
    ) -> Result<ReferenceNames, ApiError> {
        if self.mode == DisplayMode::Value {
            return Ok(ReferenceNames::default());
        }
        Ok(ReferenceNames::look_up(repo, records, &self.fields).await?)
    }

    /// `record` as the Table API shows it; `names` from [`View::reference_names`] over its page.
    pub(crate) fn render(&self, record: &Record, names: &ReferenceNames) -> Value {
        let mut out = Map::new();
        for column in &self.columns {
            let shown = self.shown(record, column, names);
            out.insert(column.name.to_owned(), shown.to_value());
        }
        Value::Object(out)
    }

    /// [`View::render`] as JSON text, appended to `out`, without building the value.
    pub(crate) fn write_json(&self, record: &Record, names: &ReferenceNames, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(out, column.name);
            out.push(b':');
            self.shown(record, column, names).write_json(out);
        }
        out.push(b'}');
    }

    /// One field: a string, or an object with `display_value`, `value` and `link` as the mode and the
    /// field's kind call for.
    fn shown<'a>(
        &self,
        record: &'a Record,
        column: &Column,
        names: &'a ReferenceNames,
    ) -> Shown<'a> {
        let (value, kind) = match column.stored {
            Some((index, def)) => (record.values()[index].as_str(), Some(def.kind)),
            None => (
                computed::value(record, column.name).unwrap_or_default(),
                None,
            ),
        };
        let link = match kind {
            Some(FieldKind::Reference(target)) if self.links && !value.is_empty() => {
                Some(format!("{}/api/now/table/{target}/{value}", self.base))
            }
            _ => None,
        };
        let display = || Cow::Borrowed(kind.map_or(value, |kind| names.display_value(kind, value)));
        match (self.mode, link) {
            (DisplayMode::Value, None) => Shown::Text(Cow::Borrowed(value)),
            (DisplayMode::Display, None) => Shown::Text(display()),
            (DisplayMode::Value, link) => Shown::Object {
                display: None,
                value: Some(value),
                link,
            },
            (DisplayMode::Display, link) => Shown::Object {
                display: Some(display()),
                value: None,
                link,
            },
            (DisplayMode::All, link) => Shown::Object {
                display: Some(display()),
                value: Some(value),
                link,
            },
        }
    }
}

/// How one field is shown.
enum Shown<'a> {
    Text(Cow<'a, str>),
    /// `{"display_value": …, "value": …, "link": …}`, each when present, in that order.
    Object {
        display: Option<Cow<'a, str>>,
        value: Option<&'a str>,
        link: Option<String>,
    },
}

impl Shown<'_> {
    fn members(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let Shown::Object {
            display,
            value,
            link,
        } = self
        else {
            unreachable!("members of an object only")
        };
        [
            ("display_value", display.as_deref()),
            ("value", *value),
            ("link", link.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, v)| v.map(|v| (key, v)))
    }

    fn to_value(&self) -> Value {
        match self {
            Shown::Text(text) => Value::String(text.clone().into_owned()),
            Shown::Object { .. } => Value::Object(
                self.members()
                    .map(|(key, v)| (key.to_owned(), Value::String(v.to_owned())))
                    .collect(),
            ),
        }
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Shown::Text(text) => json_string(out, text),
            Shown::Object { .. } => {
                out.push(b'{');
                for (i, (key, v)) in self.members().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_string(out, key);
                    out.push(b':');
                    json_string(out, v);
                }
                out.push(b'}');
            }
        }
    }
}

/// `text` as a JSON string, escaped as serde_json escapes it (most values need no escaping: copied).
fn json_string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, text).expect("writing to memory cannot fail");
    }
}

/// A page's rows as a [`RowWriter`]: the view and what the page references.
pub(crate) struct PageRows {
    pub(crate) view: View,
    pub(crate) names: ReferenceNames,
}

impl RowWriter for PageRows {
    fn value(&self, record: &Record) -> Value {
        self.view.render(record, &self.names)
    }

    fn write_json(&self, record: &Record, out: &mut Vec<u8>) {
        self.view.write_json(record, &self.names, out);
    }
}

#[cfg(test)]
mod tests {
    use openframe_core::schema::{INTERACTION, field};

    use super::*;

    /// The JSON written straight to text is the rendered value, for every mode, with and without links and
    /// chosen fields, over values that need escaping.
    #[test]
    fn written_json_is_the_rendered_value() {
        let mut record = Record::new(&INTERACTION);
        record.set(field::SYS_ID, "0123456789abcdef0123456789abcdef");
        record.set(field::STATE, "work_in_progress");
        record.set(field::ASSIGNED_TO, "a8f98bb0eb32010045e1a5115206fe3a");
        record.set(
            field::SHORT_DESCRIPTION,
            "quote \" backslash \\ tab \t nul-free ☺ \u{1}",
        );
        let names = ReferenceNames::default();
        for mode in ["false", "true", "all"] {
            for links in ["false", "true"] {
                for fields in ["", "short_description,assigned_to,active,state"] {
                    let params = Params(vec![
                        ("sysparm_display_value".into(), mode.into()),
                        ("sysparm_exclude_reference_link".into(), links.into()),
                        ("sysparm_fields".into(), fields.into()),
                    ]);
                    let view = View::parse(&INTERACTION, &params, "https://h").unwrap();
                    let mut out = Vec::new();
                    view.write_json(&record, &names, &mut out);
                    let written: Value = serde_json::from_slice(&out).unwrap();
                    assert_eq!(
                        written,
                        view.render(&record, &names),
                        "{mode} {links} {fields}"
                    );
                    // Key order too: the text is what serializing the value gives.
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        view.render(&record, &names).to_string()
                    );
                }
            }
        }
    }
}
