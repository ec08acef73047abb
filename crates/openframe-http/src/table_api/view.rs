//! How a Table API record is shown: which fields, stored or display values or both
//! (`sysparm_display_value`), and references with or without links.

use std::borrow::Cow;

use openframe_core::display::{DisplayMode, ReferenceNames};
use openframe_core::dot_walk::{Reached, WalkedField};
use openframe_core::query::parse_field_list;
use openframe_core::schema::{FieldDef, FieldKind, Table};
use openframe_core::{Record, Repository, computed};
use serde_json::{Map, Value};

use super::params::{Params, flag};
use crate::wire::error::ApiError;
use crate::wire::rows::RowWriter;

/// How records are shown: which fields (all by default, computed ones last; fields of referenced records
/// when named, `opened_by.user_name`), which values, whether references carry links, and the base URL of
/// links.
pub(crate) struct View {
    /// The table's own fields named in `sysparm_fields` (empty: all), as [`ReferenceNames::look_up`] takes
    /// them; `None` when only walked fields are named.
    fields: Option<Vec<&'static str>>,
    /// The walked fields named.
    walks: Vec<WalkedField>,
    /// The fields shown, in order, each found in the table once here rather than per record.
    columns: Vec<Column>,
    mode: DisplayMode,
    links: bool,
    pub(crate) base: String,
}

/// A field shown: a stored one (its definition and position), a computed one, or a walked one (its index in
/// [`View::walks`]).
enum Column {
    Own {
        name: &'static str,
        stored: Option<(usize, &'static FieldDef)>,
    },
    Walked(usize),
}

/// What a page's records reference: display values, and the records walked fields reach.
#[derive(Default)]
pub(crate) struct Referenced {
    names: ReferenceNames,
    reached: Reached,
}

impl View {
    pub(crate) fn parse(
        table: &'static Table,
        params: &Params,
        base: &str,
    ) -> Result<Self, ApiError> {
        let own = |name: &'static str| Column::Own {
            name,
            stored: table.field(name),
        };
        let mut fields = Vec::new();
        let mut walks = Vec::new();
        let mut columns = Vec::new();
        for item in params
            .get("sysparm_fields")
            .unwrap_or_default()
            .split(',')
            .map(|item| item.trim_matches([' ', '\t']))
            .filter(|item| !item.is_empty())
        {
            if item.contains('.') {
                walks.push(WalkedField::parse(table, item)?);
                columns.push(Column::Walked(walks.len() - 1));
            } else {
                let name = parse_field_list(table, item)?[0];
                fields.push(name);
                columns.push(own(name));
            }
        }
        if columns.is_empty() {
            columns = table
                .field_names()
                .chain(computed::computed_fields(table).iter().copied())
                .map(own)
                .collect();
        }
        let fields = (!fields.is_empty() || walks.is_empty()).then_some(fields);
        Ok(View {
            fields,
            walks,
            columns,
            mode: DisplayMode::parse(params.get("sysparm_display_value"))?,
            links: !flag(params, "sysparm_exclude_reference_link")?,
            base: base.to_owned(),
        })
    }

    /// What `records` reference: the records walked fields reach, and display values when they are shown;
    /// one query per referenced table.
    pub(crate) async fn referenced(
        &self,
        repo: &dyn Repository,
        records: &[Record],
    ) -> Result<Referenced, ApiError> {
        let names = match &self.fields {
            Some(fields) if self.mode != DisplayMode::Value => {
                ReferenceNames::look_up(repo, records, fields).await?
            }
            _ => ReferenceNames::default(),
        };
        let reached = if self.walks.is_empty() {
            Reached::default()
        } else {
            Reached::look_up(repo, records, &self.walks).await?
        };
        Ok(Referenced { names, reached })
    }

    /// `record` as the Table API shows it; `referenced` from [`View::referenced`] over its page.
    pub(crate) fn render(&self, record: &Record, referenced: &Referenced) -> Value {
        let mut out = Map::new();
        for column in &self.columns {
            let shown = self.shown(record, column, referenced);
            out.insert(self.column_name(column).to_owned(), shown.to_value());
        }
        Value::Object(out)
    }

    /// [`View::render`] as JSON text, appended to `out`, without building the value.
    pub(crate) fn write_json(&self, record: &Record, referenced: &Referenced, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(out, self.column_name(column));
            out.push(b':');
            self.shown(record, column, referenced).write_json(out);
        }
        out.push(b'}');
    }

    /// One field: a string, or an object with `display_value`, `value` and `link` as the mode and the
    /// field's kind call for.
    /// The name a column is shown under.
    fn column_name<'a>(&'a self, column: &Column) -> &'a str {
        match column {
            Column::Own { name, .. } => name,
            Column::Walked(i) => &self.walks[*i].name,
        }
    }

    fn shown<'a>(
        &self,
        record: &'a Record,
        column: &Column,
        referenced: &'a Referenced,
    ) -> Shown<'a> {
        let names = &referenced.names;
        let (value, kind) = match column {
            Column::Own {
                stored: Some((index, def)),
                ..
            } => (record.values()[*index].as_str(), Some(def.kind)),
            Column::Own { name, .. } => (computed::value(record, name).unwrap_or_default(), None),
            Column::Walked(i) => {
                // A field of the referenced record: its value, a choice's label; no link, no further walk.
                let walk = &self.walks[*i];
                let value = referenced
                    .reached
                    .record(record, walk)
                    .map_or("", |reached| reached.get(walk.field));
                let label = walk.target.field(walk.field).map_or(value, |(_, def)| {
                    ReferenceNames::default_display(def.kind, value)
                });
                return match self.mode {
                    DisplayMode::Value => Shown::Text(Cow::Borrowed(value)),
                    DisplayMode::Display => Shown::Text(Cow::Borrowed(label)),
                    DisplayMode::All => Shown::Object {
                        display: Some(Cow::Borrowed(label)),
                        value: Some(value),
                        link: None,
                    },
                };
            }
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
    pub(crate) referenced: Referenced,
}

impl RowWriter for PageRows {
    fn value(&self, record: &Record) -> Value {
        self.view.render(record, &self.referenced)
    }

    fn write_json(&self, record: &Record, out: &mut Vec<u8>) {
        self.view.write_json(record, &self.referenced, out);
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
        let names = Referenced::default();
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
