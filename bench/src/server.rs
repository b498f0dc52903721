//! The harness's own loopback API: HTTP/1.1 with keep-alive on 127.0.0.1, a fixed pool of
//! worker threads, and answers that cost next to nothing, so the figures measure the client
//! side. Every request gets `201 {"id":"<n>"}` (`200` for methods other than POST): the value
//! each benchmark migration extracts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Worker threads: one connection each at a time. Stages with a bound of 4 use 4 connections
/// at once; idle keep-alive connections give their worker back after [`IDLE`].
const WORKERS: usize = 8;
/// How long a worker waits for the next request on a kept-alive connection.
const IDLE: Duration = Duration::from_secs(2);
/// Largest request head or body accepted; anything larger closes the connection.
const MAX_REQUEST_BYTES: usize = 1 << 20;
/// Requests served on one connection before the server closes it (bounds every loop).
const MAX_REQUESTS_PER_CONNECTION: u64 = 1_000_000;

/// A running loopback server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    accept: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Listen on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (tx, rx): (SyncSender<TcpStream>, Receiver<TcpStream>) =
            std::sync::mpsc::sync_channel(64);
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::with_capacity(WORKERS);
        for i in 0..WORKERS {
            let rx = rx.clone();
            let stop = stop.clone();
            let served = served.clone();
            workers.push(
                std::thread::Builder::new()
                    .name(format!("bench-http-{i}"))
                    .spawn(move || {
                        loop {
                            let next = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => break,
                            };
                            let Ok(stream) = next else { break };
                            serve(stream, &stop, &served);
                        }
                    })?,
            );
        }
        let accept_stop = stop.clone();
        let accept = std::thread::Builder::new()
            .name("bench-http-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream
                        && tx.send(stream).is_err()
                    {
                        break;
                    }
                }
            })?;
        Ok(Self {
            addr,
            stop,
            served,
            accept: Some(accept),
            workers,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag; its sender drops and the workers end.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Answer requests on one connection until the client closes it, it stays idle, it sends
/// something this server does not handle, or the server stops.
fn serve(stream: TcpStream, stop: &AtomicBool, served: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // Request line.
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let method = line.split(' ').next().unwrap_or("").to_string();
        // Headers.
        let mut content_length = 0usize;
        let mut close = false;
        let mut head = line.len();
        let mut ok = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    ok = false;
                    break;
                }
                Ok(n) => head += n,
            }
            if head > MAX_REQUEST_BYTES {
                ok = false;
                break;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    match value.parse::<usize>() {
                        Ok(n) if n <= MAX_REQUEST_BYTES => content_length = n,
                        _ => ok = false,
                    }
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    // Only Content-Length bodies are supported.
                    ok = false;
                } else if name.eq_ignore_ascii_case("connection")
                    && value.eq_ignore_ascii_case("close")
                {
                    close = true;
                }
            }
        }
        if !ok {
            break;
        }
        let mut body = vec![0u8; content_length];
        if reader.read_exact(&mut body).is_err() {
            break;
        }
        let n = served.fetch_add(1, Ordering::SeqCst) + 1;
        let (status, reason) = if method == "POST" {
            (201, "Created")
        } else {
            (200, "OK")
        };
        let payload = format!("{{\"id\":\"{n}\"}}");
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{payload}",
            payload.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if writer.write_all(response.as_bytes()).is_err() || close {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(
        stream: &mut TcpStream,
        reader: &mut BufReader<TcpStream>,
        request: &str,
    ) -> String {
        stream.write_all(request.as_bytes()).expect("send");
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                length = v.trim().parse().expect("length");
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        format!("{head}\n{}", String::from_utf8_lossy(&body))
    }

    #[test]
    fn answers_on_a_kept_alive_connection_with_counted_ids() {
        let server = Server::start().expect("start");
        let addr = server.url().trim_start_matches("http://").to_string();
        let mut stream = TcpStream::connect(&addr).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let first = exchange(
            &mut stream,
            &mut reader,
            "POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        );
        assert!(first.starts_with("HTTP/1.1 201 Created\r\n"), "{first}");
        assert!(first.ends_with("{\"id\":\"1\"}"), "{first}");
        let second = exchange(
            &mut stream,
            &mut reader,
            "GET /items HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{second}");
        assert!(second.ends_with("{\"id\":\"2\"}"), "{second}");
        assert_eq!(server.served(), 2);
        drop(stream);
        drop(reader);
        drop(server);
    }
}
