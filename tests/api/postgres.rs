//! A throwaway PostgreSQL for the whole test run: started with initdb and the
//! server binary on a temp dir and a free port (as the `postgres` user when we
//! are root, since initdb refuses root), or taken from `TEST_POSTGRES_URL`.
//! A template database is migrated once; each test clones its own from it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::OnceCell;

const TEMPLATE: &str = "riskgraph_template";

/// Where PostgreSQL's server binaries are: the newest Debian install, or PATH.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .find(|p| p.join("initdb").exists() && p.join("postgres").exists())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command run as the `postgres` user when we are root.
fn command(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a cluster that lives exactly as long as this process: the server
/// runs under a shell that stops it, and removes its files, once our end of
/// its stdin closes.
fn start_cluster(bin: &Path, durable: bool) -> String {
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("riskgraph-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown of the cluster dir failed");
    }
    let data = dir.join("data");
    let out = command(&bin.join("initdb"), root)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "-D",
        ])
        .arg(&data)
        .output()
        .expect("initdb runs");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    // Tests trade durability for speed; the bench measures what a
    // production server does, fsync and all, with memory for its working
    // set (the default 128 MB of shared buffers is far less than 100,000
    // risks and their indexes), room for a large change's WAL between
    // checkpoints, and the planner told that a page read at random costs
    // little more than one read in order, as on an SSD (README,
    // "PostgreSQL").
    let durability = if durable {
        "-c shared_buffers=2GB -c max_wal_size=8GB -c random_page_cost=1.1"
    } else {
        "-F -c full_page_writes=off -c synchronous_commit=off"
    };
    let server = format!(
        "{} -D {} -p {port} -h 127.0.0.1 -k {} -c max_connections=400 {durability} > {}/log 2>&1 & pid=$!; cat > /dev/null; kill -INT $pid; wait $pid; rm -rf {}",
        bin.join("postgres").display(),
        data.display(),
        dir.display(),
        dir.display(),
        dir.display(),
    );
    let mut child = command(Path::new("sh"), root)
        .args(["-c", &server])
        .stdin(Stdio::piped())
        .spawn()
        .expect("postgres starts");
    // Leak the pipe: it closes when the test process exits, and the server with it.
    std::mem::forget(child.stdin.take());
    std::mem::forget(child);
    let url = format!("postgres://postgres@127.0.0.1:{port}");
    for _ in 0..200 {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return url;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    panic!("postgres did not start: {log}");
}

/// The server URL (no database), or None when there is no PostgreSQL here.
fn server_url(durable: bool) -> Option<String> {
    if let Ok(url) = std::env::var("TEST_POSTGRES_URL") {
        return Some(url.trim_end_matches('/').to_owned());
    }
    match bin_dir() {
        Some(bin) => Some(start_cluster(&bin, durable)),
        None => {
            let required = std::env::var("REQUIRE_POSTGRES").as_deref() == Ok("1");
            assert!(
                !required,
                "REQUIRE_POSTGRES=1 but PostgreSQL's binaries are not installed"
            );
            None
        }
    }
}

async fn exec(url: &str, sql: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(url).await.expect("connects to postgres");
    db.execute_unprepared(sql).await.expect(sql);
    db.close().await.expect("closes");
}

static SERVER: OnceCell<Option<String>> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database cloned from the migrated template, or None without
/// PostgreSQL. The process's first call starts the server, `durable` or not.
pub async fn fresh_database(durable: bool) -> Option<String> {
    let server = SERVER
        .get_or_init(|| async {
            let server = tokio::task::spawn_blocking(move || server_url(durable))
                .await
                .expect("starts")?;
            exec(
                &format!("{server}/postgres"),
                &format!("DROP DATABASE IF EXISTS {TEMPLATE}"),
            )
            .await;
            exec(
                &format!("{server}/postgres"),
                &format!("CREATE DATABASE {TEMPLATE}"),
            )
            .await;
            let template = format!("{server}/{TEMPLATE}");
            {
                use migration::{Migrator, MigratorTrait};
                let db = sea_orm::Database::connect(&template)
                    .await
                    .expect("template");
                Migrator::up(&db, None)
                    .await
                    .expect("migrates the template");
                db.close().await.expect("closes");
            }
            Some(server)
        })
        .await
        .as_ref()?;
    let name = format!(
        "rg_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    exec(
        &format!("{server}/postgres"),
        &format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"),
    )
    .await;
    Some(format!("{server}/{name}"))
}
