//! How a Table API record is shown: which fields, stored or display values or both
//! (`sysparm_display_value`), and references with or without links.

use openframe_core::display::{DisplayMode, ReferenceNames};
use openframe_core::query::parse_field_list;
use openframe_core::schema::{FieldKind, Table};
use openframe_core::{Record, Repository, computed};
use std::borrow::Cow;

use serde_json::{Map, Value};

use super::params::{Params, flag};
use crate::wire::error::ApiError;
use crate::wire::rows::RowWriter;

/// How records are shown: which fields (empty: all, computed ones last), which values, whether references
/// carry links, and the base URL of links.
pub(crate) struct View {
    fields: Vec<&'static str>,
    mode: DisplayMode,
    links: bool,
    pub(crate) base: String,
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
        Ok(View {
            fields,
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

    /// The fields shown of a record of `table`, in order.
    fn names<'a>(&'a self, table: &'static Table) -> Box<dyn Iterator<Item = &'static str> + 'a> {
        if self.fields.is_empty() {
            Box::new(
                table
                    .field_names()
                    .chain(computed::computed_fields(table).iter().copied()),
            )
        } else {
            Box::new(self.fields.iter().copied())
        }
    }

    /// `record` as the Table API shows it; `names` from [`View::reference_names`] over its page.
    pub(crate) fn render(&self, record: &Record, names: &ReferenceNames) -> Value {
        let mut out = Map::new();
        for name in self.names(record.table()) {
            out.insert(name.to_owned(), self.shown(record, name, names).to_value());
        }
        Value::Object(out)
    }

    /// [`View::render`] as JSON text, appended to `out`, without building the value.
    pub(crate) fn write_json(&self, record: &Record, names: &ReferenceNames, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, name) in self.names(record.table()).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(out, name);
            out.push(b':');
            self.shown(record, name, names).write_json(out);
        }
        out.push(b'}');
    }

    /// One field: a string, or an object with `display_value`, `value` and `link` as the mode and the
    /// field's kind call for.
    fn shown<'a>(&self, record: &'a Record, name: &str, names: &'a ReferenceNames) -> Shown<'a> {
        let value = computed::value(record, name)
            .or_else(|| record.try_get(name))
            .unwrap_or_default();
        let link = match record.table().field(name).map(|(_, def)| def.kind) {
            Some(FieldKind::Reference(target)) if self.links && !value.is_empty() => {
                Some(format!("{}/api/now/table/{target}/{value}", self.base))
            }
            _ => None,
        };
        let display = || names.display(record, name);
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

/// `text` as a JSON string, escaped as serde_json escapes it.
fn json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("writing to memory cannot fail");
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
        record.set(field::SHORT_DESCRIPTION, "quote \" backslash \\ tab \t nul-free ☺ \u{1}");
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
