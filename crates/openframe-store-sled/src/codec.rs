//! How values are encoded: one format-version byte, then a compact JSON array; for an interaction row, that
//! JSON compressed.
//!
//! Records are stored as the array of their values in column order (the table's field list,
//! [`openframe_core::schema`]), not as maps, so a row costs little more than its text. The version byte lets a
//! later release recognise rows written by this one and migrate them; a row with a version this build does not
//! know is refused as [`Error::Internal`] rather than misread.
//!
//! Interaction rows are LZ4-compressed (about a third of their JSON, which repeats sys_ids, times and user
//! names): sled copies a whole leaf, up to 16 rows, each time it rewrites or splits one, and writes it to its
//! log, so the bytes of a row are paid for many times over on the write path and again when a read decodes
//! the leaf.

use openframe_core::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD, Table};
use openframe_core::{Context, Error, InteractionAggregate, Record, Result, SysId, User};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

/// The format version of every value this build writes, and of the store as a whole (recorded in `meta`).
///
/// Version 1, the first sled store, kept each kind of key in a tree of its own and interaction rows without
/// a version; this build refuses such a store rather than convert it. Version 2 kept each phone log and
/// related record under a key of its own; version 3 keeps them in their interaction's row, and a version-2
/// store is converted when it is opened (the `migrate` module). Version 4 compresses the interaction row.
/// Only the interaction row changed: every other value reads the same in versions 2 to 4, and a version-3
/// row is still read as it is, so a version-3 store is opened without a conversion (its rows are compressed
/// as they are next written).
pub(crate) const FORMAT_VERSION: u8 = 4;

/// The version whose interaction rows held child counts instead of children.
pub(crate) const SEPARATE_CHILDREN_VERSION: u8 = 2;

/// The version whose interaction rows were plain JSON.
pub(crate) const PLAIN_ROW_VERSION: u8 = 3;

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT_VERSION];
    serde_json::to_writer(&mut out, value).map_err(Error::internal)?;
    Ok(out)
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    decode_version(
        bytes,
        what,
        &[SEPARATE_CHILDREN_VERSION, PLAIN_ROW_VERSION, FORMAT_VERSION],
    )
}

/// Decodes a value whose version byte is one of `versions`.
pub(crate) fn decode_version<T: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    versions: &[u8],
) -> Result<T> {
    match bytes.split_first() {
        Some((version, json)) if versions.contains(version) => serde_json::from_slice(json)
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

/// What `data` holds for one interaction under its `i` key: the whole aggregate (the record, its context,
/// its phone logs and related records in creation order) and how many times it was updated.
///
/// One value for the whole aggregate: a create or an update writes it with one insert, where a key per
/// child cost sled an insert each, and a read is one lookup that can never see half an update. A child's
/// position in its list is its address ([`child_address`](crate::layout::child_address)); it changes only
/// when an earlier sibling is deleted (`interactions::remove_children` moves the entries along).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InteractionRow {
    pub(crate) record: Record,
    pub(crate) context: Context,
    pub(crate) phone_logs: Vec<Record>,
    pub(crate) related_records: Vec<Record>,
    pub(crate) version: u64,
}

/// The encoded shape of an [`InteractionRow`]: record values, context, phone-log values, related-record
/// values, version.
type RowShape<R, C, L, V> = (R, C, L, L, V);

/// A list of records as the arrays of their values.
type Values = Vec<Vec<String>>;

impl InteractionRow {
    /// `[[values…], {context}, [[phone-log values…]…], [[related-record values…]…], version]`.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        fn values(records: &[Record]) -> Vec<&[String]> {
            records.iter().map(Record::values).collect()
        }
        let json = serde_json::to_vec(&(
            self.record.values(),
            &self.context,
            values(&self.phone_logs),
            values(&self.related_records),
            self.version,
        ))
        .map_err(Error::internal)?;
        compress_row(&json)
    }

    /// The row as a version-3 build wrote it (plain JSON), for tests of reading such stores.
    #[cfg(test)]
    pub(crate) fn encode_plain(&self) -> Vec<u8> {
        let compressed = self.encode().expect("encodes");
        let mut plain = vec![PLAIN_ROW_VERSION];
        plain.extend(decompress_row(&compressed).expect("decompresses"));
        plain
    }

    /// The aggregate the row holds.
    pub(crate) fn into_aggregate(self) -> InteractionAggregate {
        InteractionAggregate {
            interaction: self.record,
            context: self.context,
            phone_logs: self.phone_logs,
            related_records: self.related_records,
        }
    }

    /// A copy of the aggregate the row holds.
    pub(crate) fn to_aggregate(&self) -> InteractionAggregate {
        self.clone().into_aggregate()
    }

    /// The row back from [`InteractionRow::encode`]'s bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let (values, context, phone_logs, related_records, version): RowShape<
            Vec<String>,
            Context,
            Values,
            u64,
        > = decode_row(bytes)?;
        Ok(InteractionRow {
            record: Record::from_values(&INTERACTION, values)?,
            context,
            phone_logs: records(&PHONE_LOG, phone_logs)?,
            related_records: records(&RELATED_RECORD, related_records)?,
            version,
        })
    }
}

/// `[FORMAT_VERSION]`, the JSON's length (4 bytes, little-endian), then the JSON as one LZ4 block.
fn compress_row(json: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(json.len())
        .map_err(|_| Error::internal("an interaction row of 4 GiB or more"))?;
    let mut out = vec![0; ROW_HEADER + lz4_flex::block::get_maximum_output_size(json.len())];
    out[0] = FORMAT_VERSION;
    out[1..ROW_HEADER].copy_from_slice(&len.to_le_bytes());
    let compressed = lz4_flex::block::compress_into(json, &mut out[ROW_HEADER..])
        .map_err(|e| Error::internal(format!("compressing an interaction row: {e}")))?;
    out.truncate(ROW_HEADER + compressed);
    Ok(out)
}

/// The version byte and the length before a compressed row's block.
const ROW_HEADER: usize = 5;

/// An interaction row's JSON, from a compressed (current) or a plain (version-3) row.
fn decode_row<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, _)) => {
            let json = decompress_row(bytes)?;
            serde_json::from_slice(&json)
                .map_err(|e| Error::internal(format!("corrupt interaction row: {e}")))
        }
        _ => decode_version(bytes, "interaction", &[PLAIN_ROW_VERSION]),
    }
}

/// The JSON back from [`compress_row`]'s bytes; anything malformed is an `Internal` error, never a panic.
fn decompress_row(bytes: &[u8]) -> Result<Vec<u8>> {
    let corrupt = |why: &str| Error::internal(format!("corrupt interaction row: {why}"));
    let (header, block) = bytes
        .split_at_checked(ROW_HEADER)
        .ok_or_else(|| corrupt("too short"))?;
    let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    let len = usize::try_from(len).map_err(|_| corrupt("too long"))?;
    // An LZ4 block expands at most 255-fold: a larger length is corrupt, and is not allocated.
    if len > block.len().saturating_mul(255) {
        return Err(corrupt("its length does not fit its block"));
    }
    let json = lz4_flex::block::decompress(block, len).map_err(|e| corrupt(&e.to_string()))?;
    if json.len() == len {
        Ok(json)
    } else {
        Err(corrupt("shorter than its length"))
    }
}

fn records(table: &'static Table, values: Values) -> Result<Vec<Record>> {
    values
        .into_iter()
        .map(|v| Record::from_values(table, v))
        .collect()
}

/// Just the interaction record of an [`InteractionRow`]'s bytes: what a query needs, without building the
/// context and children it skips over.
pub(crate) fn decode_interaction_record(bytes: &[u8]) -> Result<Record> {
    let (values, ..): RowShape<Vec<String>, IgnoredAny, IgnoredAny, IgnoredAny> =
        decode_row(bytes)?;
    Record::from_values(&INTERACTION, values)
}

/// Just the phone logs (`table` [`PHONE_LOG`]) or related records of an [`InteractionRow`]'s bytes.
pub(crate) fn decode_children(table: &'static Table, bytes: &[u8]) -> Result<Vec<Record>> {
    let values = if table == &PHONE_LOG {
        let (_, _, logs, ..): RowShape<IgnoredAny, IgnoredAny, Values, IgnoredAny> =
            decode_row(bytes)?;
        logs
    } else {
        let (_, _, _, related, _): (IgnoredAny, IgnoredAny, IgnoredAny, Values, IgnoredAny) =
            decode_row(bytes)?;
        related
    };
    records(table, values)
}

/// A user as `[sys_id, user_name, password_hash, [roles…], name]`; rows written before users had a full
/// name end after the roles, and read back with none.
#[derive(serde::Serialize, serde::Deserialize)]
struct UserRow(
    String,
    String,
    String,
    Vec<String>,
    #[serde(default)] String,
);

/// A user as a [`UserRow`].
pub(crate) fn encode_user(user: &User) -> Result<Vec<u8>> {
    encode(&UserRow(
        user.sys_id.as_str().to_owned(),
        user.user_name.clone(),
        user.password_hash.clone(),
        user.roles.clone(),
        user.name.clone(),
    ))
}

/// A user back from [`encode_user`]'s bytes.
pub(crate) fn decode_user(bytes: &[u8]) -> Result<User> {
    let UserRow(sys_id, user_name, password_hash, roles, name) = decode(bytes, "user")?;
    let sys_id = SysId::parse(&sys_id)
        .map_err(|rule| Error::internal(format!("stored user sys_id {rule}")))?;
    Ok(User {
        sys_id,
        user_name,
        name,
        password_hash,
        roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openframe_core::schema::field;

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
        let log = |call_id: &str| {
            let mut log = Record::new(&PHONE_LOG);
            log.set(field::CALL_ID, call_id);
            log
        };
        let mut related = Record::new(&RELATED_RECORD);
        related.set(field::DOCUMENT_ID, "d");
        let row = InteractionRow {
            record,
            context: [("k".to_owned(), "v".to_owned())].into(),
            phone_logs: vec![log("1"), log("2")],
            related_records: vec![related],
            version: 7,
        };
        let bytes = row.encode().unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(InteractionRow::decode(&bytes).unwrap(), row);
        assert_eq!(decode_interaction_record(&bytes).unwrap(), row.record);
        assert_eq!(decode_children(&PHONE_LOG, &bytes).unwrap(), row.phone_logs);
        assert_eq!(
            decode_children(&RELATED_RECORD, &bytes).unwrap(),
            row.related_records
        );
    }

    /// A row like the reference's example create makes: sys_ids, times and a user name, repeated.
    fn example_row() -> InteractionRow {
        let (sys_id, now, user) = (SysId::random(), "2026-12-04 18:52:55", "admin");
        let stamped = |table: &'static Table| {
            let mut record = Record::new(table);
            record.set(field::SYS_ID, SysId::random().as_str());
            for (name, value) in [
                (field::SYS_CREATED_ON, now),
                (field::SYS_UPDATED_ON, now),
                (field::SYS_CREATED_BY, user),
                (field::SYS_UPDATED_BY, user),
            ] {
                record.set(name, value);
            }
            if table != &INTERACTION {
                record.set(field::INTERACTION, sys_id.as_str());
            }
            record
        };
        let mut record = stamped(&INTERACTION);
        record.set(field::SYS_ID, sys_id.as_str());
        InteractionRow {
            record,
            context: [("devicetype".to_owned(), "genesys".to_owned())].into(),
            phone_logs: (0..3).map(|_| stamped(&PHONE_LOG)).collect(),
            related_records: (0..2).map(|_| stamped(&RELATED_RECORD)).collect(),
            version: 0,
        }
    }

    #[test]
    fn interaction_rows_are_compressed_and_version_3_rows_still_read() {
        let row = example_row();
        let compressed = row.encode().unwrap();
        let plain = row.encode_plain();
        assert_eq!(plain[0], PLAIN_ROW_VERSION);
        assert!(
            compressed.len() * 2 < plain.len(),
            "{} compressed bytes, {} plain",
            compressed.len(),
            plain.len()
        );
        assert_eq!(InteractionRow::decode(&plain).unwrap(), row);
        assert_eq!(decode_interaction_record(&plain).unwrap(), row.record);
        assert_eq!(decode_children(&PHONE_LOG, &plain).unwrap(), row.phone_logs);
    }

    #[test]
    fn corrupt_compressed_rows_are_errors_and_allocate_nothing_absurd() {
        let bytes = example_row().encode().unwrap();
        let mut huge = bytes.clone();
        huge[1..ROW_HEADER].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut short = bytes.clone();
        short[1..ROW_HEADER].copy_from_slice(&1u32.to_le_bytes());
        for corrupt in [
            huge,
            short,
            bytes[..bytes.len() / 2].to_vec(),
            bytes[..3].to_vec(),
            vec![FORMAT_VERSION],
        ] {
            assert!(
                matches!(
                    InteractionRow::decode(&corrupt),
                    Err(Error::Internal { .. })
                ),
                "{corrupt:?}"
            );
        }
    }

    #[test]
    fn records_of_version_2_still_read() {
        let mut log = Record::new(&PHONE_LOG);
        log.set(field::CALL_ID, "1");
        let mut bytes = encode_record(&log).unwrap();
        bytes[0] = SEPARATE_CHILDREN_VERSION;
        assert_eq!(decode_record(&PHONE_LOG, &bytes).unwrap(), log);
        // An interaction row of version 2 has another shape: only the migration reads it.
        let row = InteractionRow {
            record: Record::new(&INTERACTION),
            context: Context::new(),
            phone_logs: Vec::new(),
            related_records: Vec::new(),
            version: 0,
        };
        let mut bytes = row.encode().unwrap();
        bytes[0] = SEPARATE_CHILDREN_VERSION;
        assert!(InteractionRow::decode(&bytes).is_err());
    }

    #[test]
    fn users_round_trip() {
        let user = User {
            sys_id: SysId::random(),
            user_name: "agent".into(),
            name: "Abel Tuter".into(),
            password_hash: "$argon2id$x".into(),
            roles: vec!["admin".into()],
        };
        assert_eq!(decode_user(&encode_user(&user).unwrap()).unwrap(), user);
    }

    #[test]
    fn users_stored_without_a_full_name_read_back_with_none() {
        let sys_id = SysId::random();
        let old = encode(&(sys_id.as_str(), "agent", "$argon2id$x", ["admin"])).unwrap();
        let user = decode_user(&old).unwrap();
        assert_eq!((user.user_name.as_str(), user.name.as_str()), ("agent", ""));
        assert_eq!(user.sys_id, sys_id);
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
