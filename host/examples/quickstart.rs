//! Offline quick start: serves a small demo admin API on 127.0.0.1, applies the example
//! project in `examples/quickstart` to it with the apirun command line, shows the state, and
//! runs `up` a second time to show that nothing is sent twice.
//!
//! Run it with `cargo run --release --example quickstart`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Default)]
struct Realm {
    name: String,
    clients: Vec<Value>,
    roles: Vec<Value>,
}

/// The demo API: realms and their clients, kept in memory.
fn serve(server: Arc<tiny_http::Server>, realms: Arc<Mutex<BTreeMap<String, Realm>>>) {
    for mut request in server.incoming_requests() {
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        let method = request.method().as_str().to_string();
        let path: Vec<String> = request
            .url()
            .split('?')
            .next()
            .unwrap_or("")
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let input: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let mut realms = realms.lock().expect("demo state");
        let (status, reply) = match (
            method.as_str(),
            path.iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
        ) {
            ("POST", ["realms"]) => {
                let id = format!("r{}", realms.len() + 1);
                let name = input["name"].as_str().unwrap_or("unnamed").to_string();
                realms.insert(
                    id.clone(),
                    Realm {
                        name: name.clone(),
                        ..Realm::default()
                    },
                );
                (201, json!({"id": id, "name": name}))
            }
            ("GET", ["realms", id]) => match realms.get(*id) {
                Some(r) => (
                    200,
                    json!({"id": id, "name": r.name, "clients": r.clients, "roles": r.roles}),
                ),
                None => (404, json!({"error": "no such realm"})),
            },
            ("POST", ["realms", id, "clients"]) => match realms.get_mut(*id) {
                Some(r) => {
                    let client = json!({
                        "id": input["clientId"].as_str().unwrap_or("client"),
                        "uuid": format!("c{}", r.clients.len() + 1),
                    });
                    r.clients.push(client.clone());
                    (201, json!({"client": client}))
                }
                None => (404, json!({"error": "no such realm"})),
            },
            ("POST", ["realms", id, "roles"]) => match realms.get_mut(*id) {
                Some(r) => {
                    let role = json!({"name": input["name"].as_str().unwrap_or("role"), "client": input["client"]});
                    r.roles.push(role.clone());
                    (201, json!({"role": role}))
                }
                None => (404, json!({"error": "no such realm"})),
            },
            ("DELETE", ["realms", id, "roles", name]) => match realms.get_mut(*id) {
                Some(r) => {
                    r.roles.retain(|role| role["name"] != *name);
                    (204, Value::Null)
                }
                None => (404, json!({"error": "no such realm"})),
            },
            ("DELETE", ["realms", id]) => match realms.remove(*id) {
                Some(_) => (204, Value::Null),
                None => (404, json!({"error": "no such realm"})),
            },
            ("DELETE", ["realms", id, "clients", uuid]) => match realms.get_mut(*id) {
                Some(r) => {
                    r.clients.retain(|c| c["uuid"] != *uuid);
                    (204, Value::Null)
                }
                None => (404, json!({"error": "no such realm"})),
            },
            _ => (404, json!({"error": "no such route"})),
        };
        let text = if reply.is_null() {
            String::new()
        } else {
            reply.to_string()
        };
        let response = tiny_http::Response::from_string(text)
            .with_status_code(status)
            .with_header(
                tiny_http::Header::from_bytes("Content-Type", "application/json")
                    .expect("static header"),
            );
        let _ = request.respond(response);
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry
            .path()
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn apirun(args: &[&str]) -> u8 {
    let mut argv = vec!["apirun"];
    argv.extend_from_slice(args);
    println!("\n$ {}", argv.join(" "));
    apirun::cli::run_from(argv)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| e.to_string())?);
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("demo server has no IP address")?;
    let realms = Arc::new(Mutex::new(BTreeMap::new()));
    {
        let (server, realms) = (server.clone(), realms.clone());
        std::thread::spawn(move || serve(server, realms));
    }
    println!("demo API listening on http://{addr}");

    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let work = tempfile::tempdir()?;
    copy_dir(&source, work.path())?;
    let config = work.path().join("config.yaml");
    let text = std::fs::read_to_string(&config)?
        .replace("http://127.0.0.1:8080", &format!("http://{addr}"));
    std::fs::write(&config, text)?;
    let config = config.to_string_lossy().into_owned();

    let mut failed = 0;
    for args in [
        vec!["validate", "--config", &config],
        vec!["up", "--dry-run", "--config", &config],
        vec!["up", "--config", &config],
        vec!["status", "--config", &config],
        vec!["up", "--config", &config],
        vec!["down", "--to", "1", "--config", &config],
        vec!["status", "--history", "--config", &config],
    ] {
        if apirun(&args) != 0 {
            failed += 1;
        }
    }
    let realms = realms.lock().map_err(|_| "demo state poisoned")?;
    println!("\ndemo API now holds {} realm(s):", realms.len());
    for (id, realm) in realms.iter() {
        println!(
            "  {id}: {} with {} client(s) and {} role(s)",
            realm.name,
            realm.clients.len(),
            realm.roles.len()
        );
    }
    if failed > 0 {
        return Err(format!("{failed} command(s) failed").into());
    }
    println!(
        "\nquick start finished: the project in examples/quickstart was applied, recorded and partly rolled back."
    );
    Ok(())
}
