//! A row of one of the four tables: every value a string, `""` where unset, as on the wire.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::{Error, Result};
use crate::schema::Table;

/// One record: its table and one value per field, in the table's column order.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    table: &'static Table,
    values: Vec<String>,
}

impl Record {
    /// A record of `table` with every field unset.
    pub fn new(table: &'static Table) -> Self {
        Record {
            table,
            values: vec![String::new(); table.fields.len()],
        }
    }

    /// A record of `table` from its values in column order, as a store reads them back.
    pub fn from_values(table: &'static Table, values: Vec<String>) -> Result<Self> {
        if values.len() != table.fields.len() {
            return Err(Error::internal(format!(
                "{} row has {} values, the table has {} fields",
                table.name,
                values.len(),
                table.fields.len()
            )));
        }
        Ok(Record { table, values })
    }

    /// The record's table.
    pub fn table(&self) -> &'static Table {
        self.table
    }

    /// The value of field `name`; `""` when unset. For names from [`crate::schema::field`] (or
    /// [`crate::schema::Table::fields`]); a name from outside (a request, a file, a caller's query) goes
    /// through [`Record::try_get`].
    ///
    /// # Panics
    /// When the table has no such field, which for a name from the schema is a bug.
    pub fn get(&self, name: &str) -> &str {
        &self.values[self.index(name)]
    }

    /// The value of field `name` (`""` when unset), or `None` when the table has no such field: for names
    /// from outside.
    pub fn try_get(&self, name: &str) -> Option<&str> {
        let (i, _) = self.table.field(name)?;
        Some(&self.values[i])
    }

    /// Sets field `name` (`""` clears it). For names from the schema, as [`Record::get`]; a name from
    /// outside goes through [`Record::try_set`].
    ///
    /// # Panics
    /// As [`Record::get`].
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let i = self.index(name);
        self.values[i] = value.into();
    }

    /// Sets field `name` (`""` clears it): for names from outside.
    ///
    /// # Errors
    /// An [`Error::Invalid`] naming `name` when the table has no such field; the record is unchanged.
    pub fn try_set(&mut self, name: &str, value: impl Into<String>) -> Result<()> {
        let Some((i, _)) = self.table.field(name) else {
            return Err(Error::invalid(
                name,
                format!("is not a field of {}", self.table.name),
            ));
        };
        self.values[i] = value.into();
        Ok(())
    }

    /// Whether field `name` holds a value.
    ///
    /// # Panics
    /// As [`Record::get`].
    pub fn is_set(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// The values in column order.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// `(name, value)` pairs in column order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'static str, &str)> + '_ {
        self.table
            .fields
            .iter()
            .zip(&self.values)
            .map(|(f, v)| (f.name, v.as_str()))
    }

    /// The record's `sys_id`.
    pub fn sys_id(&self) -> &str {
        // sys_id is the first column of every table (schema::with_system_fields).
        &self.values[0]
    }

    fn index(&self, name: &str) -> usize {
        match self.table.field(name) {
            Some((i, _)) => i,
            None => panic!("table {} has no field {name}", self.table.name),
        }
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        m.entry(&"table", &self.table.name);
        for (k, v) in self.iter().filter(|(_, v)| !v.is_empty()) {
            m.entry(&k, &v);
        }
        m.finish()
    }
}

/// Serializes as a map of every field to its value, in column order.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{INTERACTION, PHONE_LOG, field};

    #[test]
    fn set_get_and_serialize() {
        let mut r = Record::new(&PHONE_LOG);
        r.set(field::CALL_ID, "2323223");
        assert_eq!(r.get(field::CALL_ID), "2323223");
        assert!(!r.is_set(field::AGENT));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["call_id"], "2323223");
        assert_eq!(json["agent"], "");
        assert_eq!(json.as_object().unwrap().len(), PHONE_LOG.fields.len());
    }

    #[test]
    fn names_from_outside_never_panic() {
        let mut r = Record::new(&INTERACTION);
        assert_eq!(r.try_get("userPhoneNumber"), None);
        assert_eq!(r.try_get(field::STATE), Some(""));
        let refused = r.try_set("userPhoneNumber", "+14089965744");
        assert!(
            matches!(&refused, Err(Error::Invalid { field, .. }) if field == "userPhoneNumber"),
            "{refused:?}"
        );
        assert_eq!(r, Record::new(&INTERACTION));
        r.try_set(field::STATE, "new").unwrap();
        assert_eq!(r.try_get(field::STATE), Some("new"));
    }

    #[test]
    #[should_panic(expected = "table interaction has no field userPhoneNumber")]
    fn get_of_an_unknown_name_is_a_bug() {
        Record::new(&INTERACTION).get("userPhoneNumber");
    }

    #[test]
    fn from_values_checks_the_width() {
        assert!(Record::from_values(&INTERACTION, vec![String::new(); 3]).is_err());
        let r = Record::from_values(&INTERACTION, vec![String::new(); INTERACTION.fields.len()])
            .unwrap();
        assert_eq!(r, Record::new(&INTERACTION));
    }
}
