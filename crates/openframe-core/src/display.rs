//! Display values (`sysparm_display_value`): what the platform shows for a stored value. A reference shows
//! the referenced record's display field (`sys_user.name`, else `user_name`; `interaction.number`;
//! `sys_cs_provider_application.name`), a choice its label, anything else its value (date-times are
//! stored as the platform shows them, in UTC). The references of a page are looked up together, one query
//! per referenced table, never one per row.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use crate::computed;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{self, FieldKind, INTERACTION, SYS_USER, field};
use crate::sys_id::SysId;

/// What a read shows of each field (`sysparm_display_value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayMode {
    /// The stored value (`false`, the default).
    Value,
    /// The display value (`true`).
    Display,
    /// Both (`all`).
    All,
}

impl DisplayMode {
    /// Reads `sysparm_display_value` (any case; absent or empty is `false`).
    pub fn parse(param: Option<&str>) -> Result<Self> {
        match param.map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "false") => Ok(DisplayMode::Value),
            Some("true") => Ok(DisplayMode::Display),
            Some("all") => Ok(DisplayMode::All),
            Some(_) => Err(Error::invalid(
                "sysparm_display_value",
                "must be true, false or all",
            )),
        }
    }
}

/// The label of each choice value of every table, as the platform shows it.
const CHOICE_LABELS: &[(&str, &str)] = &[
    ("new", "New"),
    ("queued", "Queued"),
    ("work_in_progress", "Work in Progress"),
    ("on_hold", "On Hold"),
    ("wrap_up", "Wrap Up"),
    ("closed_complete", "Closed Complete"),
    ("closed_abandoned", "Closed Abandoned"),
    ("inbound", "Inbound"),
    ("outbound", "Outbound"),
    ("INBOUND", "Inbound"),
    ("OUTBOUND", "Outbound"),
];

/// The label of choice `value`, when it is one.
pub fn choice_label(value: &str) -> Option<&'static str> {
    CHOICE_LABELS
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, label)| *label)
}

/// The choice among `options` whose label is exactly `label`, if one is (choices compare exactly, labels too).
pub fn choice_by_label(options: &[&'static str], label: &str) -> Option<&'static str> {
    options
        .iter()
        .copied()
        .find(|option| choice_label(option) == Some(label))
}

/// The display values of the records a page references, by referenced table, then sys_id.
#[derive(Debug, Default)]
pub struct ReferenceNames {
    names: HashMap<&'static str, HashMap<String, String>>,
}

impl ReferenceNames {
    /// Looks up what the references in `fields` of `records` show (every field when `fields` is empty):
    /// one query per referenced table that has records here (users, interactions, provider applications).
    /// References to anything else, or to records not stored, show their value.
    pub async fn look_up(
        repo: &dyn Repository,
        records: &[Record],
        fields: &[&'static str],
    ) -> Result<Self> {
        let mut wanted: HashMap<&'static str, BTreeSet<&str>> = HashMap::new();
        for record in records {
            for def in record.table().fields {
                let FieldKind::Reference(target) = def.kind else {
                    continue;
                };
                let value = record.get(def.name);
                if (fields.is_empty() || fields.contains(&def.name)) && !value.is_empty() {
                    wanted.entry(target).or_default().insert(value);
                }
            }
        }
        let mut names: HashMap<&'static str, HashMap<String, String>> = HashMap::new();
        // Interactions on the page itself (a parent listed beside its child) need no query.
        for record in records {
            if std::ptr::eq(record.table(), &INTERACTION)
                && let Some(ids) = wanted.get_mut(INTERACTION.name)
                && ids.remove(record.sys_id())
            {
                names
                    .entry(INTERACTION.name)
                    .or_default()
                    .insert(record.sys_id().to_owned(), shown_as(record).to_owned());
            }
        }
        for (target, ids) in wanted {
            let ids: Vec<SysId> = ids
                .into_iter()
                .filter_map(|id| SysId::parse(id).ok())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let Some(table) = schema::readable_table(target) else {
                continue;
            };
            let found = crate::dot_walk::records_by_sys_id(repo, table, &ids).await?;
            names.entry(target).or_default().extend(
                found
                    .iter()
                    .map(|r| (r.sys_id().to_owned(), shown_as(r).to_owned())),
            );
        }
        Ok(ReferenceNames { names })
    }

    /// The display value of field `name` of `record` (stored or computed).
    pub fn display<'a>(&'a self, record: &'a Record, name: &str) -> Cow<'a, str> {
        if let Some(value) = computed::value(record, name) {
            return Cow::Borrowed(value);
        }
        match record.table().field(name) {
            Some((_, def)) => Cow::Borrowed(self.display_value(def.kind, record.get(def.name))),
            None => Cow::Borrowed(""),
        }
    }

    /// The display value of `value` with nothing looked up: a choice's label, else the value.
    pub fn default_display(kind: FieldKind, value: &str) -> &str {
        match kind {
            FieldKind::Choice(_) => choice_label(value).unwrap_or(value),
            _ => value,
        }
    }

    /// The display value of `value`, a value of a stored field of `kind`.
    pub fn display_value<'a>(&'a self, kind: FieldKind, value: &'a str) -> &'a str {
        match kind {
            FieldKind::Reference(target) => self
                .names
                .get(target)
                .and_then(|by_id| by_id.get(value))
                .map_or(value, String::as_str),
            FieldKind::Choice(_) => choice_label(value).unwrap_or(value),
            _ => value,
        }
    }
}

/// What a reference to `record` shows: its table's display field (a user's full name, else its user name;
/// an interaction's number; a provider application's name).
fn shown_as(record: &Record) -> &str {
    let table = record.table();
    if std::ptr::eq(table, &SYS_USER) {
        match record.get(field::NAME) {
            "" => record.get(field::USER_NAME),
            name => name,
        }
    } else if std::ptr::eq(table, &INTERACTION) {
        record.get(field::NUMBER)
    } else {
        record
            .try_get(field::NAME)
            .unwrap_or_else(|| record.sys_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::TABLES;

    #[test]
    fn every_choice_has_a_label() {
        for table in TABLES {
            for def in table.fields {
                if let FieldKind::Choice(values) = def.kind {
                    for value in values {
                        assert!(
                            choice_label(value).is_some(),
                            "{}.{def:?} {value}",
                            table.name
                        );
                    }
                }
            }
        }
        assert_eq!(choice_label("work_in_progress"), Some("Work in Progress"));
        assert_eq!(choice_label("INBOUND"), Some("Inbound"));
        assert_eq!(
            choice_by_label(crate::schema::STATES, "Work in Progress"),
            Some("work_in_progress")
        );
        assert_eq!(
            choice_by_label(crate::schema::CALL_TYPES, "Inbound"),
            Some("INBOUND")
        );
        assert_eq!(choice_by_label(crate::schema::STATES, "Working"), None);
        assert_eq!(choice_by_label(crate::schema::CALL_TYPES, "inbound"), None);
    }

    #[test]
    fn modes_parse_in_any_case() {
        assert_eq!(DisplayMode::parse(None).unwrap(), DisplayMode::Value);
        assert_eq!(DisplayMode::parse(Some("")).unwrap(), DisplayMode::Value);
        assert_eq!(
            DisplayMode::parse(Some("TRUE")).unwrap(),
            DisplayMode::Display
        );
        assert_eq!(DisplayMode::parse(Some("all")).unwrap(), DisplayMode::All);
        let err = DisplayMode::parse(Some("yes")).unwrap_err();
        assert!(
            err.to_string().starts_with("sysparm_display_value:"),
            "{err}"
        );
    }
}
