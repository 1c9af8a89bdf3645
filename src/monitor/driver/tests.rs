//! The reporter and its webhook (spec/monitor.md "Webhook") against a
//! loopback webhook that fails on purpose: retries with back-off, order,
//! giving up after the last attempt, and the bounded queue.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::{Reporter, Webhook};
use crate::monitor::{EventKind, MonitorEvent};

/// What the fake webhook does with one POST.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Answer with this status.
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Wait for the test's release, then answer 200.
    Hold,
}

/// A loopback webhook answering the n-th POST with `script[n]` (200 after
/// the script); records every body received, with whether it was accepted.
struct FakeHook {
    url: String,
    seen: Arc<Mutex<Vec<(String, bool)>>>,
    release: Arc<Notify>,
}

impl FakeHook {
    async fn start(script: Vec<Act>) -> FakeHook {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let (s, r) = (Arc::clone(&seen), Arc::clone(&release));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, release, script) = (Arc::clone(&s), Arc::clone(&r), script.clone());
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream);
                    // reqwest may reuse the connection: one request after another.
                    loop {
                        let Some(body) = read_request(&mut reader).await else {
                            return;
                        };
                        let act = {
                            let mut seen = seen.lock().unwrap();
                            let act = script.get(seen.len()).copied().unwrap_or(Act::Status(200));
                            let accepted = matches!(act, Act::Hold | Act::Status(200..=299));
                            seen.push((body, accepted));
                            act
                        };
                        let status = match act {
                            Act::Drop => return,
                            Act::Hold => {
                                release.notified().await;
                                200
                            }
                            Act::Status(s) => s,
                        };
                        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                        if reader.get_mut().write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeHook { url, seen, release }
    }

    fn seen(&self) -> Vec<(String, bool)> {
        self.seen.lock().unwrap().clone()
    }

    fn accepted(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|(_, ok)| *ok)
            .map(|(b, _)| b)
            .collect()
    }
}

/// Reads one request; its body, or `None` at the end of the connection.
async fn read_request(reader: &mut BufReader<tokio::net::TcpStream>) -> Option<String> {
    let mut len = 0;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == "\r\n" && !first {
            break;
        }
        first = false;
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await.ok()?;
    String::from_utf8(body).ok()
}

/// Collects what the reporter prints.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Printed {
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }
}

fn hook(url: &str, queue: usize, attempts: u32) -> Webhook {
    Webhook {
        queue,
        attempts,
        first_delay: Duration::from_millis(20),
        ..Webhook::new(url.to_owned())
    }
}

/// Event number `i` (distinct lines).
fn event(i: usize) -> MonitorEvent {
    MonitorEvent {
        kind: EventKind::LogUnreachable {
            error: format!("outage {i}"),
        },
        checkpoint: None,
    }
}

fn line(i: usize) -> String {
    event(i).to_json_line()
}

#[tokio::test]
async fn webhook_retries_after_a_500_and_a_dropped_connection_in_order() {
    let fake = FakeHook::start(vec![Act::Status(500), Act::Drop]).await;
    let printed = Printed::default();
    let mut reporter = Reporter::new(
        vec![],
        Some(hook(&fake.url, 16, 5)),
        Box::new(printed.clone()),
    );
    let started = Instant::now();
    for i in 0..3 {
        reporter.report(event(i));
    }
    reporter.finish().await;
    // Two failures: waits of 20 and 40 ms before the third attempt.
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(printed.lines(), [line(0), line(1), line(2)]);
    let seen: Vec<String> = fake.seen().into_iter().map(|(b, _)| b).collect();
    assert_eq!(seen, [line(0), line(0), line(0), line(1), line(2)]);
    assert_eq!(fake.accepted(), [line(0), line(1), line(2)]);
}

#[tokio::test]
async fn webhook_gives_up_after_the_last_attempt_and_goes_on() {
    let fake = FakeHook::start(vec![Act::Status(503); 3]).await;
    let printed = Printed::default();
    let mut reporter = Reporter::new(
        vec![],
        Some(hook(&fake.url, 16, 3)),
        Box::new(printed.clone()),
    );
    reporter.report(event(0));
    reporter.report(event(1));
    reporter.finish().await;
    let seen: Vec<String> = fake.seen().into_iter().map(|(b, _)| b).collect();
    assert_eq!(seen, [line(0), line(0), line(0), line(1)]);
    assert_eq!(fake.accepted(), [line(1)]);
    assert_eq!(printed.lines(), [line(0), line(1)]);
}

#[tokio::test]
async fn a_full_webhook_queue_drops_for_the_webhook_only() {
    let fake = FakeHook::start(vec![Act::Hold]).await;
    let printed = Printed::default();
    let mut reporter = Reporter::new(
        vec![],
        Some(hook(&fake.url, 2, 5)),
        Box::new(printed.clone()),
    );
    reporter.report(event(0));
    // The first event is out of the queue and held at the webhook...
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.seen().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the webhook never got the first event"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ... so two more fill the queue and the next two are dropped, for the
    // webhook only: the reporter does not wait, and prints all five.
    for i in 1..5 {
        reporter.report(event(i));
    }
    assert_eq!(printed.lines(), (0..5).map(line).collect::<Vec<_>>());
    fake.release.notify_one();
    reporter.finish().await;
    assert_eq!(fake.accepted(), [line(0), line(1), line(2)]);
}

#[tokio::test]
async fn watch_filters_entry_events_but_not_driver_events() {
    let printed = Printed::default();
    let mut reporter = Reporter::new(vec!["chat.example".into()], None, Box::new(printed.clone()));
    reporter.report(event(0));
    let entry = |domain: &str| MonitorEvent {
        kind: EventKind::ClaimWithdrawn {
            entry: crate::monitor::EntryRef {
                log_index: 1,
                integrated_time: Some(1),
                domain: Some(domain.into()),
                service: None,
                sequence: None,
                statement_sha256: None,
            },
            claim_id: "c".into(),
            effective_from: crate::claim::Timestamp::from_unix(0).unwrap(),
        },
        checkpoint: None,
    };
    reporter.report(entry("notes.example"));
    reporter.report(entry("Chat.Example"));
    reporter.finish().await;
    let lines = printed.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], line(0));
    assert!(lines[1].contains("Chat.Example"), "{lines:?}");
}
