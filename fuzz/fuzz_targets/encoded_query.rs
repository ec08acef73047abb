//! The Table API's parameters: `sysparm_query` (the encoded query), `sysparm_limit`, `sysparm_offset` and
//! `sysparm_fields`, one per line of the input, for the table its first byte picks. A query that parses is
//! also run over a few records, so matching and ordering see what parsing let through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openframe_core::query::{TableQuery, parse_field_list};
use openframe_core::schema::TABLES;
use openframe_core::Record;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let table = TABLES[pick as usize % TABLES.len()];
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let query = lines.next();
    let limit = lines.next();
    let offset = lines.next();
    if let Some(fields) = lines.next() {
        let _ = parse_field_list(table, fields);
    }
    if let Ok(q) = TableQuery::parse(table, query, limit, offset) {
        let records: Vec<Record> = (0..3)
            .map(|i| {
                // Values drawn from the input itself, so a filter can match them.
                let mut r = Record::new(table);
                for name in table.field_names() {
                    let value: String = text.chars().skip(i * 4).take(4 + i).collect();
                    r.set(name, value);
                }
                r
            })
            .collect();
        let _ = q.run_in_memory(&records);
    }
});
