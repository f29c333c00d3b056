//! Shared test harness: a fresh store per test on SQLite or PostgreSQL, an `App` around it
//! with the in-memory transport, and helpers to build mail.
#![allow(dead_code)]

pub mod browser;
pub mod cli;
pub mod imap;
pub mod portal_app;
pub mod portal_http;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use maildesk::App;
use maildesk::config::{Config, OrganisationConfig};
use maildesk::outbound::{SentMail, Transport};
use maildesk::store::{Store, StoreOptions};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The admin URL of the test PostgreSQL that `scripts/test` starts.
pub fn pg_admin_url() -> String {
    std::env::var("MAILDESK_TEST_PG_URL")
        .expect("MAILDESK_TEST_PG_URL is not set: run the tests through scripts/test, which starts PostgreSQL")
}

/// A URL for a new, empty database of `db` kind (SQLite under `dir`).
pub async fn fresh_database_url(db: Db, dir: &Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("maildesk.db").display()),
        Db::Postgres => {
            use sqlx::Connection;
            let admin = pg_admin_url();
            let name = format!("md_test_{:016x}", rand::random::<u64>());
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to test PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            format!("{base}/{name}")
        }
    }
}

/// A config for tests: data under `dir`, the given database, Acme mapped as organisation.
pub fn test_config(dir: &Path, url: String) -> Config {
    let mut config = Config::load(None, Vec::new()).expect("defaults load");
    config.data_dir = dir.to_path_buf();
    config.database.url = url;
    config.desk.address = maildesk::domain::EmailAddress::parse("support@helpdesk.example").unwrap();
    config.maildir.path = dir.join("inbox");
    config.outbox.dir = dir.join("outbox");
    config.portal.base_url = "https://help.example".into();
    // Invitations have their own test; elsewhere they would only add a mail to count.
    config.portal.invite = false;
    config.organisations = vec![OrganisationConfig { name: "Acme Corp".into(), domains: vec!["acme.example".into()] }];
    config
}

/// An app on a fresh database, with mail captured in memory.
pub struct TestApp {
    pub app: Arc<App>,
    pub transport: Transport,
    pub sent: Arc<Mutex<Vec<SentMail>>>,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new(db: Db) -> TestApp {
        TestApp::with(db, |_| {}).await
    }

    /// An app whose test config `change` adjusts first.
    pub async fn with(db: Db, change: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database_url(db, dir.path()).await;
        let mut config = test_config(dir.path(), url);
        change(&mut config);
        let app = App::open(config).await.expect("open app");
        let (transport, sent) = Transport::memory();
        TestApp { app, transport, sent, dir }
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// A pooled connection to the store, for reading what happened.
    pub async fn db(&self) -> maildesk::store::Conn {
        self.app.store.conn().await.unwrap()
    }

    /// Moves ticket `n`'s last status change `days` into the past, as if time had passed.
    pub async fn age_status(&self, n: i64, days: i64) {
        use sqlx::Connection;
        let url = &self.app.config().database.url;
        let sql = "UPDATE tickets SET status_changed_at = status_changed_at - $1 WHERE id = $2";
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(days * 86_400).bind(n).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(days * 86_400).bind(n).execute(&mut conn).await.unwrap();
        }
    }

    /// Gives every ticket the same last activity (the latest any has), as if all had been
    /// written within one second: a test that lists by activity then sees ties, broken by
    /// number, whatever second each setup step fell into.
    pub async fn same_activity(&self) {
        use sqlx::Connection;
        let url = &self.app.config().database.url;
        let sql = "UPDATE tickets SET updated_at = (SELECT MAX(updated_at) FROM tickets)";
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }

    /// Runs the outbox sender once and returns everything sent so far.
    pub async fn flush_outbox(&self) -> Vec<SentMail> {
        let templates = maildesk::outbound::Templates::load(&self.app.config()).expect("templates");
        let sender =
            maildesk::daemon::sender(self.transport.clone(), Arc::new(arc_swap::ArcSwap::from_pointee(templates)));
        maildesk::outbound::deliver_due(&self.app, &sender).await.expect("deliver");
        self.sent.lock().unwrap().clone()
    }
}

/// Opens a store of `db` kind on a fresh database with blobs under `dir`.
pub async fn fresh_store(db: Db, dir: &Path) -> Store {
    let url = fresh_database_url(db, dir).await;
    Store::open(&StoreOptions {
        url,
        max_connections: 4,
        busy_timeout: Duration::from_secs(5),
        blob_dir: dir.join("blobs"),
    })
    .await
    .expect("open store")
}

/// A simple plain-text message.
pub fn mail(from: &str, subject: &str, message_id: Option<&str>, extra_headers: &str, body: &str) -> Vec<u8> {
    let id = message_id.map(|m| format!("Message-ID: <{m}>\n")).unwrap_or_default();
    format!(
        "From: {from}\nTo: support@helpdesk.example\nSubject: {subject}\nDate: Mon, 23 Nov 2026 10:00:00 +0100\n{id}{extra_headers}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
    .into_bytes()
}

/// Runs the same async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: common::Db) $body
            #[tokio::test]
            async fn sqlite() {
                run(common::Db::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                run(common::Db::Postgres).await
            }
        }
    };
}

/// Files in `dir` whose name ends in `suffix`.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(suffix)).collect()
}
