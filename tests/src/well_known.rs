//! A vendor's `/.well-known/claimlog.json` served on loopback, standing in
//! for `https://<domain>` (the log maps the domain to this base URL with its
//! `well_known_base_urls` setting, `spec/vendor.md`).

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Serves `body` as `/.well-known/claimlog.json` (anything else: 404) on a
/// free loopback port, from a thread that lives as long as the test process;
/// returns the base URL (`http://127.0.0.1:<port>`).
pub fn serve_well_known(body: String) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A failed exchange only fails the log's fetch, which the test sees.
            let _ = answer(stream, &body);
        }
    });
    Ok(base)
}

/// Answers one request on `stream` (one request per connection).
fn answer(mut stream: TcpStream, body: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let (status, body) = if request.starts_with("GET /.well-known/claimlog.json ") {
        ("200 OK", body)
    } else {
        ("404 Not Found", "")
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
