//! `serve(config, listener, shutdown)` in-process on 127.0.0.1:0.

use claimlog::cosignature::CosignerKey;
use claimlog::note::KeyName;
use claimlog::witness_wire::parse_size_body;
use claimlog_witness::sim::SimLog;
use claimlog_witness::{LogSet, ServeConfig, serve};

/// Twenty concurrent requests from the same cosigned size to twenty
/// different sizes: exactly one is cosigned, every other one gets 409 with
/// the winner's size, and the state never goes back. Then a graceful
/// shutdown returns Ok. (Whether two of them overlap between check and
/// commit depends on scheduling; the deterministic race, with a barrier
/// between check and commit, is the unit test
/// `concurrent_requests_never_roll_back_*`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_over_http_and_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SimLog::new("serve.example/log", [5; 32]);
    let mut logs = LogSet::new();
    logs.add(None, &log.vkey()).unwrap();
    let key = CosignerKey::from_seed(KeyName::new("serve.example/w").unwrap(), [6; 32]).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/add-checkpoint", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServeConfig {
        logs,
        key,
        data_dir: dir.path().join("data"),
    };
    let server = tokio::spawn(serve(config, listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let resp = client.post(url).body(body).send().await.unwrap();
            (resp.status().as_u16(), resp.bytes().await.unwrap())
        }
    };

    for i in 0..5 {
        log.append(format!("e{i}").as_bytes());
    }
    assert_eq!(post(log.request(0).to_bytes()).await.0, 200);
    let mut bodies = Vec::new();
    for i in 5..25 {
        log.append(format!("e{i}").as_bytes());
        bodies.push((log.size(), log.request(5).to_bytes()));
    }
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|(size, body)| {
            let post = post(body);
            tokio::spawn(async move { (size, post.await) })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = Vec::new();
    for t in tasks {
        let (size, (status, body)) = t.await.unwrap();
        match status {
            200 => winners.push(size),
            409 => conflicts.push(parse_size_body(&body).unwrap()),
            other => panic!("size {size}: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one commit from size 5");
    assert_eq!(conflicts.len(), 19);
    // Every loser was told the winner's size (none saw a rollback).
    assert!(conflicts.iter().all(|&s| s == winners[0]), "{conflicts:?}");
    // From the winner's size, the log moves on to its latest checkpoint.
    assert_eq!(post(log.request(winners[0]).to_bytes()).await.0, 200);
    assert_eq!(post(log.request(5).to_bytes()).await.0, 409);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
