//! How values are encoded: one format-version byte, then a compact JSON array.
//!
//! Records are stored as the array of their values in column order (the table's field list,
//! [`openframe_core::schema`]), not as maps, so a row costs little more than its text. The version byte lets a
//! later release recognise rows written by this one and migrate them; a row with a version this build does not
//! know is refused as [`Error::Internal`] rather than misread.

use openframe_core::schema::Table;
use openframe_core::{Context, Error, Record, Result, SysId, User};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The format version of every value this build writes, and of the store as a whole (recorded in `meta`).
///
/// Version 1, the first sled store, kept each kind of key in a tree of its own and interaction rows without
/// a version; this build refuses such a store rather than convert it.
pub(crate) const FORMAT_VERSION: u8 = 2;

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT_VERSION];
    serde_json::to_writer(&mut out, value).map_err(Error::internal)?;
    Ok(out)
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, json)) => serde_json::from_slice(json)
            .map_err(|e| Error::internal(format!("corrupt {what} row: {e}"))),
        Some((version, _)) => Err(Error::internal(format!(
            "{what} row has format version {version}; this build reads version {FORMAT_VERSION}"
        ))),
        None => Err(Error::internal(format!("empty {what} row"))),
    }
}

/// A record as the array of its values.
pub(crate) fn encode_record(record: &Record) -> Result<Vec<u8>> {
    encode(record.values())
}

/// A record of `table` back from [`encode_record`]'s bytes.
pub(crate) fn decode_record(table: &'static Table, bytes: &[u8]) -> Result<Record> {
    Record::from_values(table, decode(bytes, table.name)?)
}

/// What `data` holds for one interaction under its `i` key: the record, its context, how many phone logs
/// and related records hang off it, and how many times it was updated.
///
/// The counts are the next sequence numbers of its children (children are never deleted, so they are also
/// how many there are): the children are read by point lookups `0..count`. The version goes up with every
/// update, which rewrites the row, so a reader that finds the same row before and after reading the children
/// knows no update came in between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InteractionRow {
    pub(crate) record: Record,
    pub(crate) context: Context,
    pub(crate) phone_logs: u64,
    pub(crate) related_records: u64,
    pub(crate) version: u64,
}

/// The encoded shape of an [`InteractionRow`].
type RowShape<C> = (Vec<String>, C, u64, u64, u64);

impl InteractionRow {
    /// `[[values…], {context}, phone_logs, related_records, version]`.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        encode(&(
            self.record.values(),
            &self.context,
            self.phone_logs,
            self.related_records,
            self.version,
        ))
    }

    /// The row back from [`InteractionRow::encode`]'s bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let (values, context, phone_logs, related_records, version): RowShape<Context> =
            decode(bytes, "interaction")?;
        Ok(InteractionRow {
            record: Record::from_values(&openframe_core::schema::INTERACTION, values)?,
            context,
            phone_logs,
            related_records,
            version,
        })
    }
}

/// Just the interaction record of an [`InteractionRow`]'s bytes: what a query needs, without building the
/// context map it skips over.
pub(crate) fn decode_interaction_record(bytes: &[u8]) -> Result<Record> {
    let (values, _, _, _, _): RowShape<serde::de::IgnoredAny> = decode(bytes, "interaction")?;
    Record::from_values(&openframe_core::schema::INTERACTION, values)
}

/// A user as `[sys_id, user_name, password_hash, [roles…]]`.
pub(crate) fn encode_user(user: &User) -> Result<Vec<u8>> {
    encode(&(
        user.sys_id.as_str(),
        &user.user_name,
        &user.password_hash,
        &user.roles,
    ))
}

/// A user back from [`encode_user`]'s bytes.
pub(crate) fn decode_user(bytes: &[u8]) -> Result<User> {
    let (sys_id, user_name, password_hash, roles): (String, String, String, Vec<String>) =
        decode(bytes, "user")?;
    let sys_id = SysId::parse(&sys_id)
        .map_err(|rule| Error::internal(format!("stored user sys_id {rule}")))?;
    Ok(User {
        sys_id,
        user_name,
        password_hash,
        roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openframe_core::schema::{INTERACTION, PHONE_LOG, field};

    #[test]
    fn records_round_trip() {
        let mut log = Record::new(&PHONE_LOG);
        log.set(field::CALL_ID, "call \"1\" ✓");
        let bytes = encode_record(&log).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode_record(&PHONE_LOG, &bytes).unwrap(), log);
        // A row of the wrong width is an error, not a misread.
        assert!(decode_record(&INTERACTION, &bytes).is_err());
    }

    #[test]
    fn interaction_rows_round_trip() {
        let mut record = Record::new(&INTERACTION);
        record.set(field::NUMBER, "IMS0001001");
        let row = InteractionRow {
            record,
            context: [("k".to_owned(), "v".to_owned())].into(),
            phone_logs: 3,
            related_records: 1,
            version: 7,
        };
        let bytes = row.encode().unwrap();
        assert_eq!(InteractionRow::decode(&bytes).unwrap(), row);
        assert_eq!(decode_interaction_record(&bytes).unwrap(), row.record);
    }

    #[test]
    fn users_round_trip() {
        let user = User {
            sys_id: SysId::random(),
            user_name: "agent".into(),
            password_hash: "$argon2id$x".into(),
            roles: vec!["admin".into()],
        };
        assert_eq!(decode_user(&encode_user(&user).unwrap()).unwrap(), user);
    }

    #[test]
    fn unknown_versions_and_garbage_are_errors() {
        let mut bytes = encode_record(&Record::new(&PHONE_LOG)).unwrap();
        bytes[0] = FORMAT_VERSION + 1;
        assert!(matches!(
            decode_record(&PHONE_LOG, &bytes),
            Err(Error::Internal { .. })
        ));
        assert!(decode_record(&PHONE_LOG, &[]).is_err());
        assert!(decode_record(&PHONE_LOG, &[FORMAT_VERSION, b'{']).is_err());
    }
}
