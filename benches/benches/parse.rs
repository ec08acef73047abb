//! Parsing and validating the reference POST body: bytes to the value tree to a `VoiceInteractionRequest`,
//! in JSON and in XML, as the HTTP layer does for every request.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openframe_benches::bodies::{CREATE_JSON, CREATE_XML, UPDATE_JSON};
use openframe_core::{Mode, VoiceInteractionRequest};
use openframe_http::wire::Format;
use openframe_http::wire::parse_body;

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let cases = [
        ("create_json", CREATE_JSON, Format::Json, Mode::Create),
        ("create_xml", CREATE_XML, Format::Xml, Mode::Create),
        ("update_json", UPDATE_JSON, Format::Json, Mode::Update),
    ];
    for (name, bytes, format, mode) in cases {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let value = match format {
                    // What the JSON path of `parse_body` is, without its whitespace check.
                    Format::Json => serde_json::from_slice(black_box(bytes)).expect("JSON"),
                    other => parse_body(other, black_box(bytes)).expect("XML"),
                };
                VoiceInteractionRequest::parse(&value, mode).expect("valid")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
