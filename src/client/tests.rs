//! The client's handling of what a log answers, against a loopback fake
//! that answers each path as the test says: size caps, status codes, tile
//! lengths, the partial-bundle fallback and vendor-API answers about
//! something else. (Answers checked against a real log's tiles, and
//! tampered ones, are in the tests crate: `tests/tests/verify.rs`.)

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

use super::{ClientError, LogClient, MAX_TILE_BYTES};
use crate::claim::Domain;
use crate::note::MAX_NOTE_SIZE;
use crate::tiles::{Bundle, Tile, TileError, encode_bundle};

/// Serves `routes` (path -> status, body; anything else 404) on loopback,
/// one request per connection; returns the base URL.
async fn fake(routes: Vec<(String, u16, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes: Arc<HashMap<String, (u16, Vec<u8>)>> =
        Arc::new(routes.into_iter().map(|(p, s, b)| (p, (s, b))).collect());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut request = String::new();
                if reader.read_line(&mut request).await.is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("");
                let (status, body) = routes.get(path).cloned().unwrap_or((404, Vec::new()));
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let stream = reader.get_mut();
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    base
}

#[test]
fn base_urls_are_checked() {
    for bad in ["ftp://log.example", "http://log.example/?q=1", "not a url"] {
        assert!(
            matches!(LogClient::new(bad), Err(ClientError::InvalidBaseUrl { .. })),
            "{bad}"
        );
    }
    assert_eq!(
        LogClient::new("http://log.example/").unwrap().base(),
        "http://log.example"
    );
}

#[tokio::test]
async fn answers_over_the_cap_or_with_an_error_status_are_refused() {
    let base = fake(vec![
        ("/checkpoint".into(), 200, vec![b'a'; MAX_NOTE_SIZE + 1]),
        ("/tile/0/000".into(), 503, vec![b'x'; 1000]),
    ])
    .await;
    let client = LogClient::new(&base).unwrap();
    let err = client.checkpoint_note().await.unwrap_err();
    assert_eq!(
        err,
        ClientError::TooLarge {
            url: format!("{base}/checkpoint"),
            max: MAX_NOTE_SIZE
        }
    );
    let tile = Tile::new(0, 0, 256).unwrap();
    match client.tile(tile).await.unwrap_err() {
        // The error body is cut to 200 bytes.
        ClientError::Status {
            status: 503,
            body,
            url,
        } => {
            assert_eq!(body.len(), 200);
            assert_eq!(url, format!("{base}/tile/0/000"));
        }
        other => panic!("{other}"),
    }
    // A 404 on a required path is a status error too.
    let empty = LogClient::new(&fake(vec![]).await).unwrap();
    assert!(matches!(
        empty.checkpoint_note().await,
        Err(ClientError::Status { status: 404, .. })
    ));
}

#[tokio::test]
async fn tiles_of_the_wrong_length_are_refused_and_partials_fall_back_to_full() {
    let full: Vec<u8> = (0..MAX_TILE_BYTES).map(|i| i as u8).collect();
    let base = fake(vec![
        // A partial tile of width 3 that is one byte short.
        ("/tile/0/001.p/3".into(), 200, vec![0; 3 * 32 - 1]),
        // A partial tile that is gone: read from the full tile.
        ("/tile/0/002".into(), 200, full.clone()),
    ])
    .await;
    let client = LogClient::new(&base).unwrap();
    let short = Tile::new(0, 1, 3).unwrap();
    assert_eq!(
        client.tile(short).await.unwrap_err(),
        ClientError::Tile(TileError::BadTileData {
            path: short.path(),
            got: 95,
            expected: 96
        })
    );
    let gone = Tile::new(0, 2, 5).unwrap();
    assert_eq!(client.tile(gone).await.unwrap(), full[..5 * 32]);
}

#[tokio::test]
async fn a_gone_partial_bundle_is_read_from_the_full_one() {
    let entries: Vec<Vec<u8>> = (0..256u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let base = fake(vec![(
        "/tile/entries/000".into(),
        200,
        encode_bundle(&entries).unwrap(),
    )])
    .await;
    let client = LogClient::new(&base).unwrap();
    let got = client
        .entry_bundle(Bundle::new(0, 7).unwrap())
        .await
        .unwrap();
    assert_eq!(got, entries[..7]);
    // A bundle that decodes to fewer entries than its width is refused.
    let short = fake(vec![(
        "/tile/entries/000.p/7".into(),
        200,
        encode_bundle(&entries[..6]).unwrap(),
    )])
    .await;
    let client = LogClient::new(&short).unwrap();
    assert!(matches!(
        client.entry_bundle(Bundle::new(0, 7).unwrap()).await,
        Err(ClientError::Tile(_))
    ));
}

#[tokio::test]
async fn a_vendor_answer_about_another_domain_is_refused() {
    let answer = br#"{"domain":"other.example","treeSize":1,"keyBinding":{"logIndex":0,"leafHash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","sequence":1,"statementSha256":"0000000000000000000000000000000000000000000000000000000000000000","integratedTime":1},"history":[],"services":[]}"#;
    let base = fake(vec![(
        "/v1/vendors/chat.example".into(),
        200,
        answer.to_vec(),
    )])
    .await;
    let client = LogClient::new(&base).unwrap();
    let chat = Domain::parse("chat.example").unwrap();
    match client.vendor(&chat).await.unwrap_err() {
        ClientError::BadResponse { reason, .. } => {
            assert!(reason.contains("other.example"), "{reason}")
        }
        other => panic!("{other}"),
    }
    // Not enrolled: a 404 is `None`, not an error.
    let none = Domain::parse("none.example").unwrap();
    assert_eq!(client.vendor(&none).await.unwrap(), None);
}
