//! `client:` TLS settings really apply to the requests steps send: a loopback HTTPS server
//! with a self-signed certificate is refused by default, reached with `insecure: true`, and
//! refused again when `max_tls_version` is below what the server speaks.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apirun_tests::Project;

/// An HTTPS server on 127.0.0.1 that answers every request with `200 {"ok":true}`; it speaks
/// only TLS 1.3. Returns its URL and a counter of requests that completed a handshake.
fn https_server() -> (String, Arc<AtomicUsize>) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("self-signed certificate");
    let cert_der = cert.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            if !request.windows(4).any(|w| w == b"\r\n\r\n") {
                continue;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"ok":true}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
            conn.send_close_notify();
            let _ = conn.complete_io(&mut tcp);
        }
    });
    (url, served)
}

fn project(url: &str, client: &str) -> Project {
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!("migrate_dir: migration\nenv:\n  - name: base\n    value: {url}\n{client}"),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/ok\"\n  response:\n    result_code: [\"200\"]\n    env_from:\n      ok: ok\n",
    );
    p
}

#[test]
fn a_self_signed_certificate_is_refused_by_default() {
    let (url, served) = https_server();
    let p = project(&url, "");
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    assert!(
        run.stderr.to_lowercase().contains("certificate"),
        "{}",
        run.stderr
    );
    assert_eq!(served.load(Ordering::SeqCst), 0);
}

#[test]
fn insecure_accepts_it() {
    let (url, served) = https_server();
    let p = project(&url, "client:\n  insecure: true\n");
    p.apirun(&["up"]).ok();
    assert_eq!(served.load(Ordering::SeqCst), 1);
    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT value FROM stored_env WHERE name = 'ok'",
    );
    assert_eq!(rows, vec![vec!["true".to_string()]]);
}

#[test]
fn max_tls_version_below_the_server_is_refused() {
    let (url, served) = https_server();
    let p = project(
        &url,
        "client:\n  insecure: true\n  max_tls_version: \"1.2\"\n",
    );
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    assert_eq!(
        served.load(Ordering::SeqCst),
        0,
        "the handshake must fail before any request"
    );
}
