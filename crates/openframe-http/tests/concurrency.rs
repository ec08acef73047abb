//! 128 concurrent creates through the router on SQLite: all succeed, every number distinct.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use openframe_testkit::{TestApp, reference_post};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_get_distinct_numbers() {
    let app = std::sync::Arc::new(TestApp::sqlite().await);
    let tasks: Vec<_> = (0..128)
        .map(|_| {
            let app = std::sync::Arc::clone(&app);
            tokio::spawn(async move {
                let reply = app
                    .call(
                        Method::POST,
                        "/api/now/openframe/voice-interaction",
                        Some(&reference_post()),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
                reply.json()["result"]["number"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    let mut numbers = HashSet::new();
    for task in tasks {
        numbers.insert(task.await.expect("task"));
    }
    let expected: HashSet<String> = (1001..1001 + 128)
        .map(openframe_core::number::format_number)
        .collect();
    assert_eq!(numbers, expected);
}
