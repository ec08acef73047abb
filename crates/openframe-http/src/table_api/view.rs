//! How a Table API record is shown: which fields, stored or display values or both
//! (`sysparm_display_value`), and references with or without links.

use openframe_core::display::{DisplayMode, ReferenceNames};
use openframe_core::query::parse_field_list;
use openframe_core::schema::{FieldKind, Table};
use openframe_core::{Record, Repository, computed};
use serde_json::{Map, Value};

use super::params::{Params, flag};
use crate::wire::error::ApiError;

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

    /// `record` as the Table API shows it; `names` from [`View::reference_names`] over its page.
    pub(crate) fn render(&self, record: &Record, names: &ReferenceNames) -> Value {
        let table = record.table();
        let mut out = Map::new();
        let all = table
            .field_names()
            .chain(computed::computed_fields(table).iter().copied());
        let fields: Box<dyn Iterator<Item = &'static str>> = if self.fields.is_empty() {
            Box::new(all)
        } else {
            Box::new(self.fields.iter().copied())
        };
        for name in fields {
            out.insert(name.to_owned(), self.field(record, name, names));
        }
        Value::Object(out)
    }

    /// One field: a string, or an object with `value`, `display_value` and `link` as the mode and the
    /// field's kind call for.
    fn field(&self, record: &Record, name: &str, names: &ReferenceNames) -> Value {
        let value = computed::value(record, name)
            .or_else(|| record.try_get(name))
            .unwrap_or_default();
        let link = match record.table().field(name).map(|(_, def)| def.kind) {
            Some(FieldKind::Reference(target)) if self.links && !value.is_empty() => {
                Some(format!("{}/api/now/table/{target}/{value}", self.base))
            }
            _ => None,
        };
        let display = || Value::String(names.display(record, name).into_owned());
        let mut object = Map::new();
        match self.mode {
            DisplayMode::Value if link.is_none() => return Value::String(value.to_owned()),
            DisplayMode::Display if link.is_none() => return display(),
            DisplayMode::Value => {
                object.insert("value".into(), Value::String(value.to_owned()));
            }
            DisplayMode::Display => {
                object.insert("display_value".into(), display());
            }
            DisplayMode::All => {
                object.insert("display_value".into(), display());
                object.insert("value".into(), Value::String(value.to_owned()));
            }
        }
        if let Some(link) = link {
            object.insert("link".into(), Value::String(link));
        }
        Value::Object(object)
    }
}
