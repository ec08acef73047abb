//! How a Table API record is shown: which fields, and references as links or bare values.

use openframe_core::Record;
use openframe_core::query::parse_field_list;
use openframe_core::schema::{FieldKind, Table};
use serde_json::{Map, Value, json};

use super::params::Params;
use crate::wire::error::ApiError;

/// How records are shown: which fields, whether references are links, and the base URL of links.
pub(crate) struct View {
    fields: Vec<&'static str>,
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
        let links = match params
            .get("sysparm_exclude_reference_link")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false") | Some("") => true,
            Some("true") => false,
            Some(_) => {
                return Err(ApiError::invalid(
                    "sysparm_exclude_reference_link",
                    "must be true or false",
                ));
            }
        };
        Ok(View {
            fields,
            links,
            base: base.to_owned(),
        })
    }

    pub(crate) fn render(&self, record: &Record) -> Value {
        let table = record.table();
        let mut out = Map::new();
        let mut put = |name: &'static str, value: &str| {
            let kind = table.field(name).map(|(_, f)| f.kind);
            let v = match kind {
                Some(FieldKind::Reference(target)) if self.links && !value.is_empty() => json!({
                    "link": format!("{}/api/now/table/{target}/{value}", self.base),
                    "value": value,
                }),
                _ => Value::String(value.to_owned()),
            };
            out.insert(name.to_owned(), v);
        };
        if self.fields.is_empty() {
            for (name, value) in record.iter() {
                put(name, value);
            }
        } else {
            for name in &self.fields {
                put(name, record.get(name));
            }
        }
        Value::Object(out)
    }
}
