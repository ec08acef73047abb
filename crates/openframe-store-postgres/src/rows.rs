//! Records to binds and rows to records: one TEXT column per field, in the table's column order.

use std::borrow::Borrow;

use openframe_core::aggregate::{Context, InteractionAggregate};
use openframe_core::schema::{PHONE_LOG, RELATED_RECORD, Table};
use openframe_core::{Error, Record, Result, SysId, User};
use sqlx::Row;
use sqlx::postgres::{PgArguments, PgRow, Postgres};
use sqlx::query::Query;

type PgQuery = Query<'static, Postgres, PgArguments>;

/// Binds each value of `record`, in column order, leaving out field `except` if given.
pub(crate) fn bind_record(mut query: PgQuery, record: &Record, except: Option<&str>) -> PgQuery {
    for (name, value) in record.iter() {
        if Some(name) != except {
            query = query.bind(value);
        }
    }
    query
}

/// Binds one `text[]` per column of `table`, holding that column of every record: the shape an
/// `UNNEST($1::text[], …)` insert or update takes, one statement for any number of rows.
pub(crate) fn bind_columns<R: Borrow<Record>>(
    mut query: PgQuery,
    table: &Table,
    records: &[R],
) -> PgQuery {
    for i in 0..table.fields.len() {
        let column: Vec<&str> = records
            .iter()
            .map(|r| r.borrow().values()[i].as_str())
            .collect();
        query = query.bind(column);
    }
    query
}

/// The record of `table` in `row`, whose columns are the table's fields in order.
pub(crate) fn record_from_row(table: &'static Table, row: &PgRow) -> Result<Record> {
    let values = (0..table.fields.len())
        .map(|i| row.try_get::<String, _>(i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::internal(format!("a {} row: {e}", table.name)))?;
    Record::from_values(table, values)
}

/// The records of `table` in `flat`: each row's values in column order, one row after the other, as the
/// store's child queries return them (`queries::children`).
pub(crate) fn records_from_flat(table: &'static Table, flat: Vec<String>) -> Result<Vec<Record>> {
    let width = table.fields.len();
    if !flat.len().is_multiple_of(width) {
        return Err(Error::internal(format!(
            "{} values do not make whole {} rows of {width}",
            flat.len(),
            table.name
        )));
    }
    let mut records = Vec::with_capacity(flat.len() / width);
    let mut values = flat.into_iter();
    while values.len() > 0 {
        records.push(Record::from_values(
            table,
            values.by_ref().take(width).collect(),
        )?);
    }
    Ok(records)
}

/// Context variables from `flat`: name, value, name, value, ….
pub(crate) fn context_from_flat(flat: Vec<String>) -> Result<Context> {
    if !flat.len().is_multiple_of(2) {
        return Err(Error::internal(format!(
            "{} context values do not make whole (name, value) pairs",
            flat.len()
        )));
    }
    let mut context = Context::new();
    let mut values = flat.into_iter();
    while let (Some(name), Some(value)) = (values.next(), values.next()) {
        context.insert(name, value);
    }
    Ok(context)
}

/// The context, phone logs and related records of an interaction from the three flat arrays at columns
/// `first..first + 3` of `row`.
pub(crate) fn children_from_row(
    interaction: Record,
    row: &PgRow,
    first: usize,
) -> Result<InteractionAggregate> {
    let column = |i: usize| {
        row.try_get::<Vec<String>, _>(first + i)
            .map_err(|e| Error::internal(format!("an interaction's children: {e}")))
    };
    Ok(InteractionAggregate {
        interaction,
        context: context_from_flat(column(0)?)?,
        phone_logs: records_from_flat(&PHONE_LOG, column(1)?)?,
        related_records: records_from_flat(&RELATED_RECORD, column(2)?)?,
    })
}

/// A user from a row of the user queries' columns: sys_id, user_name, name, password_hash, roles.
pub(crate) fn user_from_row(row: &PgRow) -> Result<User> {
    let column = |e: sqlx::Error| Error::internal(format!("a users row: {e}"));
    let sys_id: String = row.try_get(0).map_err(column)?;
    Ok(User {
        sys_id: SysId::parse(&sys_id)
            .map_err(|rule| Error::internal(format!("users.sys_id {sys_id:?} {rule}")))?,
        user_name: row.try_get(1).map_err(column)?,
        name: row.try_get(2).map_err(column)?,
        password_hash: row.try_get(3).map_err(column)?,
        roles: row.try_get(4).map_err(column)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_rows_split_by_the_table_width() {
        let flat: Vec<String> = (0..18).map(|i| i.to_string()).collect();
        let records = records_from_flat(&RELATED_RECORD, flat).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].sys_id(), "9");
        assert!(records_from_flat(&RELATED_RECORD, vec![String::new(); 10]).is_err());
        assert!(
            records_from_flat(&PHONE_LOG, Vec::new())
                .unwrap()
                .is_empty()
        );

        let context = context_from_flat(["a", "1", "b", ""].map(String::from).to_vec()).unwrap();
        assert_eq!(context.get("b").map(String::as_str), Some(""));
        assert_eq!(context.len(), 2);
        assert!(context_from_flat(vec!["a".to_owned()]).is_err());
    }
}
