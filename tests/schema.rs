//! The two migration sets describe one schema: a fresh SQLite and a fresh PostgreSQL
//! database, each migrated by `Store::open`, are read back from their catalogs and must
//! have the same tables, columns (type family, nullability, default), primary keys,
//! generated ids, unique constraints, indexes and foreign keys. A column, index or key
//! added to one dialect only fails here, naming it.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Db;
use maildesk::store::{Store, StoreOptions};
use sqlx::{Connection, Row};

/// Something that exists on one backend only, by design: a whole table (`fact: None`) or
/// one fact of a table exactly as [`Schema`] writes it (`Some("index x on t (c)")`). Every
/// entry says why it is allowed.
struct Allowed {
    on: Db,
    table: &'static str,
    fact: Option<&'static str>,
}

const fn whole_table(on: Db, table: &'static str) -> Allowed {
    Allowed { on, table, fact: None }
}

const BACKEND_ONLY: &[Allowed] = &[
    // sqlx's record of applied migrations: its own table on each backend, with its own types.
    whole_table(Db::Sqlite, "_sqlx_migrations"),
    whole_table(Db::Postgres, "_sqlx_migrations"),
    // SQLite keeps the counters of AUTOINCREMENT columns here; PostgreSQL's identity
    // columns keep theirs in sequences, which are no table.
    whole_table(Db::Sqlite, "sqlite_sequence"),
    // A backend's own search objects (an FTS5 table and its shadow tables, a tsvector
    // column and its GIN index) belong here, each with its reason.
    // SQLite's full-text index of subjects and public comments (src/store/search.rs): the
    // FTS5 table and the shadow tables FTS5 keeps it in.
    whole_table(Db::Sqlite, "ticket_words"),
    whole_table(Db::Sqlite, "ticket_words_config"),
    whole_table(Db::Sqlite, "ticket_words_data"),
    whole_table(Db::Sqlite, "ticket_words_docsize"),
    whole_table(Db::Sqlite, "ticket_words_idx"),
    // PostgreSQL's full-text words of the same texts: each public comment's, stored, and
    // each ticket's (subject and public comments) with their GIN index.
    Allowed {
        on: Db::Postgres,
        table: "comments",
        fact: Some("column comments.search_words: tsvector NULL default none"),
    },
    Allowed {
        on: Db::Postgres,
        table: "tickets",
        fact: Some("column tickets.search_words: tsvector NOT NULL default ''"),
    },
    Allowed { on: Db::Postgres, table: "tickets", fact: Some("index tickets_search_words on tickets (search_words)") },
];

/// A database schema as a set of facts, each a line about one table, in words that both
/// backends share once their types are sorted into families.
#[derive(Debug, Default)]
struct Schema {
    facts: BTreeSet<(String, String)>,
}

impl Schema {
    fn add(&mut self, table: &str, fact: String) {
        self.facts.insert((table.to_string(), fact));
    }

    fn has(&self, table: &str, fact: Option<&str>) -> bool {
        self.facts.iter().any(|(t, f)| t == table && fact.is_none_or(|fact| f == fact))
    }

    /// The facts of `self` that `other` lacks, except what only `db` has by design.
    fn only_here(&self, other: &Schema, db: Db) -> Vec<String> {
        let allowed = |(table, fact): &&(String, String)| {
            BACKEND_ONLY.iter().any(|a| a.on == db && a.table == table && a.fact.is_none_or(|f| f == fact))
        };
        self.facts.difference(&other.facts).filter(|f| !allowed(f)).map(|(_, fact)| fact.clone()).collect()
    }
}

/// The type family of a column's declared type. SQLite keeps the declaration as written
/// (`BIGINT`, `BOOLEAN`), so a flag declared `BOOLEAN` in both dialects is `boolean` on
/// both, and one declared `BOOLEAN` on one side and `BIGINT` on the other is drift, though
/// SQLite stores both as integers. Times are Unix seconds in integer columns, so a
/// timestamp type on one side is drift too, and is sorted apart. An unknown type fails, so that a new kind of
/// column is a decision taken here rather than a silent match.
fn family(declared: &str) -> &'static str {
    let t = declared.trim().to_ascii_lowercase();
    let t = t.split('(').next().unwrap_or("").trim();
    match t {
        "integer" | "int" | "bigint" | "smallint" | "int2" | "int4" | "int8" | "serial" | "bigserial"
        | "smallserial" => "integer",
        "text" | "varchar" | "character varying" | "char" | "character" | "clob" => "text",
        "blob" | "bytea" => "blob",
        "boolean" | "bool" => "boolean",
        // PostgreSQL's full-text words; SQLite keeps its own in an FTS5 table.
        "tsvector" => "tsvector",
        "real" | "float" | "float4" | "float8" | "double" | "double precision" => "real",
        "numeric" | "decimal" => "numeric",
        // SQLite's own tables declare no type; a migration never should.
        "" => "untyped",
        "timestamp"
        | "timestamptz"
        | "timestamp with time zone"
        | "timestamp without time zone"
        | "datetime"
        | "date" => "timestamp",
        _ => panic!("unknown column type {declared:?}: give it a family in tests/schema.rs"),
    }
}

/// A default as both backends write it: PostgreSQL adds casts (`''::text`).
fn default_of(expr: Option<String>) -> String {
    let Some(expr) = expr else { return "none".into() };
    let mut e = expr.trim().to_string();
    while let Some(at) = e.rfind("::") {
        let cast = &e[at + 2..];
        if cast.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_') {
            e.truncate(at);
        } else {
            break;
        }
    }
    let e = e.trim();
    let e = e.strip_prefix('(').and_then(|x| x.strip_suffix(')')).unwrap_or(e);
    e.to_ascii_lowercase()
}

fn column_fact(table: &str, column: &str, family: &str, not_null: bool, default: String) -> String {
    let null = if not_null { "NOT NULL" } else { "NULL" };
    format!("column {table}.{column}: {family} {null} default {default}")
}

/// PostgreSQL's ON DELETE code, in the words SQLite's pragma uses.
fn pg_action(code: &str) -> &'static str {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        other => panic!("unknown foreign key action {other:?}"),
    }
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect to the SQLite database");
    let mut schema = Schema::default();
    let tables: Vec<(String, String)> =
        sqlx::query_as("SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    for (table, sql) in &tables {
        schema.add(table, format!("table {table}"));
        let columns =
            sqlx::query("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let mut key: Vec<(i64, String, String)> = Vec::new();
        for c in &columns {
            let (name, declared): (String, String) = (c.get("name"), c.get("type"));
            let pk: i64 = c.get("pk");
            // SQLite lets NULL into a PRIMARY KEY column that is not INTEGER PRIMARY KEY
            // unless NOT NULL is written (a compatibility quirk it keeps); PostgreSQL never
            // does. The migrations write the same key: compare what they mean.
            let not_null = c.get::<i64, _>("notnull") == 1 || pk > 0;
            if pk > 0 {
                key.push((pk, name.clone(), declared.clone()));
            }
            schema.add(table, column_fact(table, &name, family(&declared), not_null, default_of(c.get("dflt_value"))));
        }
        key.sort();
        let names: Vec<&str> = key.iter().map(|(_, n, _)| n.as_str()).collect();
        if !names.is_empty() {
            schema.add(table, format!("primary key {table} ({})", names.join(", ")));
        }
        // An INTEGER PRIMARY KEY is the rowid: assigned by the database, and never reused
        // only with AUTOINCREMENT, which is what an identity column gives on PostgreSQL.
        if let [(_, name, declared)] = key.as_slice()
            && declared.eq_ignore_ascii_case("integer")
        {
            let reused =
                if sql.to_ascii_uppercase().contains("AUTOINCREMENT") { "never reused" } else { "may be reused" };
            schema.add(table, format!("generated id {table}.{name}: {reused}"));
        }
        let indexes: Vec<(String, bool, String, bool)> =
            sqlx::query_as("SELECT name, \"unique\" = 1, origin, partial = 1 FROM pragma_index_list(?) ORDER BY name")
                .bind(table)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        for (index, unique, origin, partial) in indexes {
            let columns: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            let columns: Vec<String> =
                columns.into_iter().map(|c| c.unwrap_or_else(|| "(expression)".into())).collect();
            match origin.as_str() {
                // The primary key is a fact of its own, above.
                "pk" => {}
                // A UNIQUE constraint: its index is named by SQLite, by position.
                "u" => schema.add(table, format!("unique {table} ({})", columns.join(", "))),
                _ => schema.add(table, index_fact(&index, table, &columns, unique, partial)),
            }
        }
        let keys = sqlx::query(
            "SELECT id, seq, \"table\" AS parent, \"from\" AS child_column, \"to\" AS parent_column, on_delete \
             FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        )
        .bind(table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut by_id: std::collections::BTreeMap<i64, (String, Vec<String>, Vec<String>, String)> = Default::default();
        for k in &keys {
            let entry =
                by_id.entry(k.get("id")).or_insert_with(|| (k.get("parent"), vec![], vec![], k.get("on_delete")));
            entry.1.push(k.get("child_column"));
            // `REFERENCES t` without a column names t's primary key.
            entry.2.push(k.get::<Option<String>, _>("parent_column").unwrap_or_else(|| "(primary key)".into()));
        }
        for (parent, from, to, on_delete) in by_id.into_values() {
            schema.add(table, foreign_key_fact(table, &from, &parent, &to, &on_delete));
        }
    }
    conn.close().await.unwrap();
    schema
}

fn index_fact(index: &str, table: &str, columns: &[String], unique: bool, partial: bool) -> String {
    format!(
        "index {index} on {table} ({}){}{}",
        columns.join(", "),
        if unique { " unique" } else { "" },
        if partial { " partial" } else { "" }
    )
}

fn foreign_key_fact(table: &str, from: &[String], parent: &str, to: &[String], on_delete: &str) -> String {
    format!("foreign key {table} ({}) references {parent} ({}) on delete {on_delete}", from.join(", "), to.join(", "))
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to the PostgreSQL database");
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for table in &tables {
        schema.add(table, format!("table {table}"));
    }
    let columns = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, is_nullable::text AS nullable, \
         column_default::text AS dflt, is_identity::text AS ident \
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for c in &columns {
        let (table, column): (String, String) = (c.get("t"), c.get("c"));
        let default: Option<String> = c.get("dflt");
        // A serial's default draws from its sequence: an identity in all but name.
        let serial = default.as_deref().is_some_and(|d| d.starts_with("nextval("));
        if c.get::<String, _>("ident") == "YES" || serial {
            schema.add(&table, format!("generated id {table}.{column}: never reused"));
        }
        let default = if serial { None } else { default };
        let not_null = c.get::<String, _>("nullable") == "NO";
        schema.add(
            &table,
            column_fact(&table, &column, family(&c.get::<String, _>("ty")), not_null, default_of(default)),
        );
    }
    // Every index on a table of the schema; the ones that carry a PRIMARY KEY or UNIQUE
    // constraint are that constraint (PostgreSQL names them `<table>_pkey`, `<table>_<column>_key`).
    let indexes = sqlx::query(
        "SELECT i.relname::text AS index, t.relname::text AS t, ix.indisunique AS is_unique, \
         ix.indpred IS NOT NULL AS partial, c.contype::text AS constraint_kind, \
         (SELECT array_agg(COALESCE(a.attname::text, '(expression)') ORDER BY k.n) \
            FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
           WHERE k.n <= ix.indnkeyatts) AS columns \
         FROM pg_index ix \
         JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         LEFT JOIN pg_constraint c ON c.conindid = ix.indexrelid AND c.contype IN ('p', 'u') \
         WHERE ns.nspname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for ix in &indexes {
        let (index, table): (String, String) = (ix.get("index"), ix.get("t"));
        let columns: Vec<String> = ix.get("columns");
        match ix.get::<Option<String>, _>("constraint_kind").as_deref() {
            Some("p") => schema.add(&table, format!("primary key {table} ({})", columns.join(", "))),
            Some("u") => schema.add(&table, format!("unique {table} ({})", columns.join(", "))),
            _ => schema.add(&table, index_fact(&index, &table, &columns, ix.get("is_unique"), ix.get("partial"))),
        }
    }
    let keys = sqlx::query(
        "SELECT t.relname::text AS t, p.relname::text AS parent, c.confdeltype::text AS on_delete, \
         (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) \
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS from_columns, \
         (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n) \
            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS to_columns \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class p ON p.oid = c.confrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         WHERE c.contype = 'f' AND ns.nspname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for k in &keys {
        let (from, to): (Vec<String>, Vec<String>) = (k.get("from_columns"), k.get("to_columns"));
        let (table, parent): (String, String) = (k.get("t"), k.get("parent"));
        schema.add(&table, foreign_key_fact(&table, &from, &parent, &to, pg_action(&k.get::<String, _>("on_delete"))));
    }
    conn.close().await.unwrap();
    schema
}

fn listed(facts: &[String]) -> String {
    if facts.is_empty() { "(nothing)".into() } else { facts.join("\n  ") }
}

/// Migrates a fresh database of `db` kind through the store and returns its URL.
async fn migrated(db: Db, dir: &std::path::Path) -> String {
    let url = common::fresh_database_url(db, dir).await;
    let store = Store::open(&StoreOptions {
        url: url.clone(),
        max_connections: 2,
        busy_timeout: Duration::from_secs(5),
        blob_dir: dir.join("blobs"),
    })
    .await
    .expect("open and migrate the store");
    store.close().await;
    url
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_give_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_schema(&migrated(Db::Sqlite, dir.path()).await).await;
    let postgres = postgres_schema(&migrated(Db::Postgres, dir.path()).await).await;
    // The comparison must have something to compare.
    for schema in [&sqlite, &postgres] {
        assert!(schema.has("tickets", Some("table tickets")), "{:#?}", schema.facts);
        assert!(schema.facts.iter().any(|(_, f)| f.starts_with("index ")), "{:#?}", schema.facts);
    }
    let (only_sqlite, only_postgres) =
        (sqlite.only_here(&postgres, Db::Sqlite), postgres.only_here(&sqlite, Db::Postgres));
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "migrations/sqlite and migrations/postgres have drifted apart: add a migration pair that \
         brings them together (never edit an applied migration), or, for an object one backend \
         has by design, an entry in BACKEND_ONLY.\nonly on SQLite:\n  {}\nonly on PostgreSQL:\n  {}",
        listed(&only_sqlite),
        listed(&only_postgres)
    );
    // Every allowed object still exists: a stale entry would hide the next one of its name.
    for allowed in BACKEND_ONLY {
        let schema = if allowed.on == Db::Sqlite { &sqlite } else { &postgres };
        assert!(
            schema.has(allowed.table, allowed.fact),
            "BACKEND_ONLY names {} {:?} on {:?}, which it does not have",
            allowed.table,
            allowed.fact,
            allowed.on
        );
    }
}
