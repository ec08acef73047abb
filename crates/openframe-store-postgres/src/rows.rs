//! Records to binds and rows to records: one TEXT column per field, in the table's column order.

use openframe_core::schema::Table;
use openframe_core::{Error, Record, Result};
use sqlx::Row;
use sqlx::postgres::{PgArguments, PgRow, Postgres};
use sqlx::query::Query;

type PgQuery = Query<'static, Postgres, PgArguments>;

/// Binds each value of `record`, in column order.
pub(crate) fn bind_record(mut query: PgQuery, record: &Record) -> PgQuery {
    for value in record.values() {
        query = query.bind(value.as_str());
    }
    query
}

/// Binds one `text[]` per column of `table`, holding that column of every record: the shape an
/// `UNNEST($1::text[], …)` insert or update takes, one statement for any number of rows.
pub(crate) fn bind_columns(mut query: PgQuery, table: &Table, records: &[Record]) -> PgQuery {
    for i in 0..table.fields.len() {
        let column: Vec<&str> = records.iter().map(|r| r.values()[i].as_str()).collect();
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
