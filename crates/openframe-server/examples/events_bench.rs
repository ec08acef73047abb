//! Load for `scripts/events-bench.sh`: many event-stream clients, or a create load that reports its rate.
//!
//! ```text
//! events_bench clients BASE USER PASSWORD N     # N streams, each filtered on its own agent; prints "connected N"
//! events_bench creates BASE USER PASSWORD SECONDS TASKS AGENTS
//!                                               # creates from TASKS tasks for SECONDS, each assigned to one of
//!                                               # AGENTS agents in turn; prints "creates N seconds S creates/s R"
//! ```
//!
//! Agent `i`'s sys_id is `i` in 32 hex digits, so that a create assigned to agent `i` reaches exactly the
//! stream client filtering on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn agent(i: u64) -> String {
    format!("{i:032x}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: events_bench clients BASE USER PASSWORD N | creates BASE USER PASSWORD SECONDS TASKS AGENTS";
    let (mode, base, user, password) = match args.as_slice() {
        [mode, base, user, password, ..] => {
            (mode.as_str(), base.clone(), user.clone(), password.clone())
        }
        _ => return Err(usage.into()),
    };
    let number = |i: usize| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args.get(i).ok_or(usage)?.parse()?)
    };
    let http = reqwest::Client::new();
    match mode {
        "clients" => {
            let n = number(4)?;
            let received = Arc::new(AtomicU64::new(0));
            let mut streams = Vec::new();
            for i in 0..n {
                let response = http
                    .get(format!(
                        "{base}/api/now/openframe/events?assigned_to={}",
                        agent(i)
                    ))
                    .basic_auth(&user, Some(&password))
                    .header("Accept", "text/event-stream")
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(format!("stream {i}: {}", response.status()).into());
                }
                streams.push(response);
            }
            println!("connected {n}");
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|mut response| {
                    let received = Arc::clone(&received);
                    tokio::spawn(async move {
                        while let Ok(Some(chunk)) = response.chunk().await {
                            let events = chunk.windows(7).filter(|w| w == b"\nevent:").count();
                            received.fetch_add(events as u64, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            // Runs until killed; says now and then how many events arrived.
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let open = tasks.iter().filter(|t| !t.is_finished()).count();
                eprintln!(
                    "events received {} on {open} open streams",
                    received.load(Ordering::Relaxed)
                );
            }
        }
        "creates" => {
            let seconds = number(4)?;
            let tasks = number(5)?;
            let agents = number(6)?.max(1);
            let done = Arc::new(AtomicU64::new(0));
            let next = Arc::new(AtomicU64::new(0));
            let until = Instant::now() + Duration::from_secs(seconds);
            let workers: Vec<_> = (0..tasks)
                .map(|_| {
                    let (http, base, user, password) =
                        (http.clone(), base.clone(), user.clone(), password.clone());
                    let (done, next) = (Arc::clone(&done), Arc::clone(&next));
                    tokio::spawn(async move {
                        while Instant::now() < until {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let body = serde_json::json!({"interaction": {
                                "userPhoneNumber": "+14089965744",
                                "clientSessionId": format!("bench-{i}"),
                                "additionalParams": {"assigned_to": agent(i % agents)}
                            }});
                            let ok = http
                                .post(format!("{base}/api/now/openframe/voice-interaction"))
                                .basic_auth(&user, Some(&password))
                                .json(&body)
                                .send()
                                .await
                                .is_ok_and(|r| r.status().is_success());
                            if ok {
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            let start = Instant::now();
            for worker in workers {
                worker.await?;
            }
            let (creates, elapsed) = (done.load(Ordering::Relaxed), start.elapsed().as_secs_f64());
            let rate = creates as f64 / elapsed;
            println!("creates {creates} seconds {elapsed:.2} creates/s {rate:.0}");
            Ok(())
        }
        _ => Err(usage.into()),
    }
}
