//! Several `maildesk serve` nodes on one PostgreSQL (issue 19): each IMAP mailbox is worked
//! by one node at a time under a lease, the nodes share the mailboxes out, a node that dies
//! or pauses is replaced within `cluster.takeover_secs`, and nothing is lost or applied
//! twice. Real daemons, the real Dovecot, Postfix and PostgreSQL.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cli::{Daemon, wait_until};
use common::imap::{ImapServer, dovecot};
use common::smtp::{header, inbox, smtp_port};

/// The reply-address key every node of a cluster is given.
static SECRET: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("{:032x}", rand::random::<u128>()));

/// The takeover time the tests run with: a few seconds.
const TAKEOVER_SECS: u64 = 3;

/// Nodes sharing one fresh PostgreSQL database and one blob directory.
struct Cluster {
    root: tempfile::TempDir,
    url: String,
    rt: tokio::runtime::Runtime,
    d: ImapServer,
    /// The mailboxes every node reads.
    mailboxes: Vec<String>,
}

impl Cluster {
    /// A fresh database, and `mailboxes` and the `customers`' INBOXes emptied.
    fn new(mailboxes: &[&str], customers: &[String]) -> Cluster {
        common::cli::secret(&SECRET);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let root = tempfile::tempdir().unwrap();
        let url = rt.block_on(common::fresh_database_url(common::Db::Postgres, root.path()));
        let d = dovecot();
        for user in mailboxes.iter().copied().chain(customers.iter().map(String::as_str)) {
            rt.block_on(d.reset(user));
        }
        Cluster { root, url, rt, d, mailboxes: mailboxes.iter().map(|m| m.to_string()).collect() }
    }

    /// The config of node `name`: its own data directory, the shared database, blob
    /// directory and reply key, every mailbox, and the test Postfix for its mail.
    fn config(&self, name: &str) -> PathBuf {
        let dir = self.root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = format!(
            "data_dir = \"{var}\"\nblob_dir = \"{blobs}\"\n\
             [database]\nurl = \"{url}\"\nmax_connections = 12\n\
             [desk]\naddress = \"support@helpdesk.example\"\nsecret = \"{secret}\"\n\
             [cluster]\nnode = \"{name}\"\ntakeover_secs = {TAKEOVER_SECS}\n\
             [maildir]\nenabled = false\n[portal]\nenabled = false\ninvite = false\n\
             [outbox]\ntransport = \"smtp\"\npoll_interval_ms = 200\n\
             max_automatic_per_recipient_per_hour = 100000\nmax_automatic_per_hour = 100000\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"plain\"\n",
            var = dir.join("var").display(),
            blobs = self.root.path().join("blobs").display(),
            url = self.url,
            secret = *SECRET,
            smtp = smtp_port(),
        );
        for mailbox in &self.mailboxes {
            text.push_str(&self.d.mailbox_toml(mailbox, "plain", &self.d.ca, ""));
        }
        let path = dir.join("maildesk.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts node `name`.
    fn start(&self, name: &str) -> Node {
        let config = self.config(name);
        let dir = config.parent().unwrap().to_path_buf();
        let daemon = Daemon::start(&dir, &[("MAILDESK_CONFIG", config.to_str().unwrap())]);
        Node { name: name.to_string(), daemon }
    }

    /// Starts the nodes `names` and waits until they share the mailboxes out evenly (each
    /// holds as many): the nodes, and who holds which mailbox then.
    fn start_sharing<const N: usize>(&self, names: [&str; N]) -> ([Node; N], BTreeMap<String, (String, i64)>) {
        let nodes = names.map(|name| self.start(name));
        let each = self.mailboxes.len() / N;
        wait_until(&format!("the nodes to share the mailboxes out, {each} each"), Duration::from_secs(30), || {
            let held = self.holders();
            held.len() == self.mailboxes.len()
                && by_node(&held).values().all(|n| *n == each)
                && by_node(&held).len() == N
        });
        (nodes, self.holders())
    }

    /// Asserts that the tickets are `count`, each subject once: every mail applied once.
    fn assert_each_mail_once(&self, count: usize) -> Vec<String> {
        let subjects = self.subjects();
        let distinct: BTreeSet<&String> = subjects.iter().collect();
        assert_eq!((subjects.len(), distinct.len()), (count, count), "each mail once");
        subjects
    }

    fn sql<T>(&self, query: impl FnOnce(sqlx::PgConnection) -> futures::future::BoxFuture<'static, T>) -> T {
        use sqlx::Connection;
        self.rt.block_on(async {
            let conn = sqlx::PgConnection::connect(&self.url).await.expect("connect to the cluster's database");
            query(conn).await
        })
    }

    /// The mailbox leases now: mailbox → (holder's node, generation), unexpired only.
    fn holders(&self) -> BTreeMap<String, (String, i64)> {
        holders(&self.url, &self.rt)
    }

    /// The tickets' subjects, one entry per ticket.
    fn subjects(&self) -> Vec<String> {
        self.sql(|mut c| {
            Box::pin(async move {
                sqlx::query_scalar::<_, String>("SELECT subject FROM tickets").fetch_all(&mut c).await.unwrap()
            })
        })
    }

    /// The acknowledgements queued: (Message-ID, state).
    fn outbox(&self) -> Vec<(String, String)> {
        self.sql(|mut c| {
            Box::pin(async move {
                sqlx::query_as::<_, (String, String)>("SELECT message_id, state FROM outbox")
                    .fetch_all(&mut c)
                    .await
                    .unwrap()
            })
        })
    }

    /// Puts `count` requests into each mailbox at once (see [`fill`]).
    fn fill(&self, count: usize, senders: &[String], tag: &str) {
        self.rt.block_on(fill(&self.d, &self.mailboxes, count, senders, tag, Duration::ZERO));
    }
}

/// Puts `count` requests into each of `mailboxes`, from `senders` in turn, `pause` apart;
/// subjects name the mailbox and the number. One IMAP session per mailbox, the mailboxes
/// at once.
async fn fill(d: &ImapServer, mailboxes: &[String], count: usize, senders: &[String], tag: &str, pause: Duration) {
    futures::future::join_all(mailboxes.iter().enumerate().map(|(m, mailbox)| async move {
        let mut s = d.session(mailbox).await;
        for i in 0..count {
            let from = &senders[(m * count + i) % senders.len()];
            let raw = common::imap::request(from, &format!("{tag} {mailbox} {i}"));
            s.append("INBOX", None, None, &raw).await.expect("append");
            tokio::time::sleep(pause).await;
        }
        s.logout().await.unwrap();
    }))
    .await;
}

/// The unexpired mailbox leases of the database at `url`: mailbox → (node, generation).
fn holders(url: &str, rt: &tokio::runtime::Runtime) -> BTreeMap<String, (String, i64)> {
    use sqlx::Connection;
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect to the cluster's database");
        let rows = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT name, holder, generation FROM leases
             WHERE name LIKE 'mailbox:imap:%' AND expires_at > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        )
        .fetch_all(&mut c)
        .await
        // Before the first node made the schema: no lease yet.
        .unwrap_or_default();
        rows.into_iter()
            .map(|(name, holder, generation)| {
                let node = holder.split('#').next().unwrap_or_default().to_string();
                (name.trim_start_matches("mailbox:imap:").to_string(), (node, generation))
            })
            .collect()
    })
}

/// Each mailbox's lease holders as seen, in order: (node, generation).
type Seen = BTreeMap<String, Vec<(String, i64)>>;

/// Watches the lease table every 50 ms from its own thread until dropped: every (holder,
/// generation) each mailbox's lease was seen with, in order.
struct LeaseWatch {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaseWatch {
    fn start(url: &str) -> LeaseWatch {
        let (seen, stop) = (Arc::new(Mutex::new(Seen::new())), Arc::new(AtomicBool::new(false)));
        let (url, seen2, stop2) = (url.to_string(), seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            while !stop2.load(Ordering::Relaxed) {
                for (mailbox, held) in holders(&url, &rt) {
                    let mut seen = seen2.lock().unwrap();
                    let list = seen.entry(mailbox).or_default();
                    if list.last() != Some(&held) {
                        list.push(held);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        LeaseWatch { seen, stop, thread: Some(thread) }
    }

    fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for LeaseWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Node {
    name: String,
    daemon: Daemon,
}

/// How many messages of `mailbox` a node applied, by its `log`.
fn applied_from(log: &str, mailbox: &str) -> usize {
    let source = format!("source=imap:{mailbox}");
    log.lines().filter(|l| l.contains("message applied") && l.contains(&source)).count()
}

/// How many nodes hold a mailbox each: node → mailboxes.
fn by_node(holders: &BTreeMap<String, (String, i64)>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (node, _) in holders.values() {
        *out.entry(node.clone()).or_insert(0) += 1;
    }
    out
}

/// The Message-IDs of every mail in the INBOXes of `users`, as many times as each came.
fn received_ids(c: &Cluster, users: &[String]) -> Vec<String> {
    users
        .iter()
        .flat_map(|u| c.rt.block_on(inbox(&c.d, u)))
        .filter_map(|raw| header(&raw, "Message-ID"))
        .map(|id| id.trim_matches(['<', '>']).to_string())
        .collect()
}

/// The Dovecot users `box<n>` for `range`: the customers of a test, who receive its
/// acknowledgements. No other test's mailboxes: a mail sent again late lands in its own.
fn users(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| format!("box{n:02}")).collect()
}

fn addresses(users: &[String]) -> Vec<String> {
    users.iter().map(|u| format!("{u}@example.com")).collect()
}

/// Messages about racing on a mailbox, which no node may log.
const RACING: &[&str] = &["EXPUNGEISSUED", "mailbox unavailable", "no longer works the mailbox"];

#[test]
fn two_nodes_share_ten_mailboxes_and_every_mail_becomes_one_ticket_with_one_acknowledgement() {
    let boxes: Vec<String> = (1..=10).map(|n| format!("box{n:02}")).collect();
    let boxes: Vec<&str> = boxes.iter().map(String::as_str).collect();
    let customers = users(21..=30);
    let c = Cluster::new(&boxes, &customers);
    let (mut nodes, sharing) = c.start_sharing(["alpha", "beta"]);
    // From here on, while the mail is taken in, no mailbox changes hands.
    let watch = LeaseWatch::start(&c.url);

    c.fill(100, &addresses(&customers), "Cluster");
    wait_until("a ticket for each of 1000 mails", Duration::from_secs(240), || c.subjects().len() >= 1000);
    wait_until("every acknowledgement sent", Duration::from_secs(120), || {
        let outbox = c.outbox();
        outbox.len() >= 1000 && outbox.iter().all(|(_, state)| state == "sent")
    });
    wait_until("every acknowledgement delivered", Duration::from_secs(120), || {
        received_ids(&c, &customers).len() >= 1000
    });

    // Every mail one ticket.
    let subjects = c.assert_each_mail_once(1000);
    let distinct: BTreeSet<&String> = subjects.iter().collect();
    for mailbox in &boxes {
        for i in 0..100 {
            assert!(distinct.contains(&format!("Cluster {mailbox} {i}")), "{mailbox} {i} has its ticket");
        }
    }
    // Every notification sent once, with distinct Message-IDs, none missing.
    let queued: BTreeSet<String> = c.outbox().into_iter().map(|(id, _)| id).collect();
    let received = received_ids(&c, &customers);
    let received_set: BTreeSet<String> = received.iter().cloned().collect();
    assert_eq!(queued.len(), 1000, "one acknowledgement per ticket");
    assert_eq!(received.len(), 1000, "each delivered once");
    assert_eq!(received_set, queued, "the Message-IDs delivered are the ones queued");

    // Every mailbox was held by one node the whole time, the two sharing them out.
    let seen = watch.seen();
    for mailbox in &boxes {
        let holders = &seen[*mailbox];
        assert_eq!(holders.len(), 1, "{mailbox} never changed hands: {holders:?}");
        assert_eq!(holders[0], sharing[*mailbox]);
    }
    // The nodes applied exactly the mail of the mailboxes they held, and never raced.
    let logs: Vec<String> = nodes.iter().map(|n| n.daemon.log()).collect();
    for (node, log) in nodes.iter().zip(&logs) {
        for mailbox in &boxes {
            let applied = applied_from(log, mailbox);
            let expected = if sharing[*mailbox].0 == node.name { 100 } else { 0 };
            assert_eq!(applied, expected, "{} applied {applied} of {mailbox}", node.name);
        }
        for racing in RACING {
            assert!(!log.contains(racing), "{} logged {racing:?}:\n{log}", node.name);
        }
    }
    // A clean stop gives the leases up at once.
    for node in &mut nodes {
        assert_eq!(node.daemon.terminate().code(), Some(0));
    }
    assert!(c.holders().is_empty(), "no lease outlives a clean stop: {:?}", c.holders());
    for mailbox in &boxes {
        assert_eq!(c.rt.block_on(c.d.count(mailbox, "INBOX")), 0, "{mailbox}: every message moved out");
    }
}

#[test]
fn a_killed_node_is_replaced_within_the_takeover_time_and_nothing_is_lost_or_applied_twice() {
    let boxes = ["box11", "box12", "box13", "box14", "box15", "box16"];
    let customers = users(31..=35);
    let c = Cluster::new(&boxes, &customers);
    let (mut nodes, before) = c.start_sharing(["one", "two", "three"]);
    let victim_name = before["box11"].0.clone();
    let victim = nodes.iter().position(|n| n.name == victim_name).unwrap();
    let victims_boxes: Vec<String> =
        before.iter().filter(|(_, (node, _))| *node == victim_name).map(|(m, _)| m.clone()).collect();

    // Mail arrives while the victim is killed, mid-batch.
    let filling = {
        let (senders, mailboxes) = (addresses(&customers), c.mailboxes.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(fill(&dovecot(), &mailboxes, 50, &senders, "Kill", Duration::from_millis(20)));
        })
    };
    wait_until("the victim's mailboxes under way", Duration::from_secs(60), || {
        let log = nodes[victim].daemon.log();
        victims_boxes.iter().all(|m| applied_from(&log, m) >= 5)
    });
    nodes[victim].daemon.kill_9();
    let killed = Instant::now();
    let taken_over =
        common::cli::wait_for("another node to take the victim's mailboxes", Duration::from_secs(30), || {
            let held = c.holders();
            victims_boxes
                .iter()
                .all(|m| held.get(m).is_some_and(|(node, _)| *node != victim_name))
                .then(|| killed.elapsed())
        });
    assert!(
        taken_over <= Duration::from_millis(TAKEOVER_SECS * 1000 + 250),
        "taken over in {taken_over:?}, more than cluster.takeover_secs = {TAKEOVER_SECS}"
    );
    filling.join().unwrap();

    wait_until("a ticket for each of 300 mails", Duration::from_secs(120), || c.subjects().len() >= 300);
    wait_until("every acknowledgement sent", Duration::from_secs(120), || {
        let outbox = c.outbox();
        outbox.len() >= 300 && outbox.iter().all(|(_, state)| state == "sent")
    });
    // Nothing lost, nothing applied twice.
    c.assert_each_mail_once(300);
    let queued: BTreeSet<String> = c.outbox().into_iter().map(|(id, _)| id).collect();
    assert_eq!(queued.len(), 300, "one acknowledgement per ticket");
    wait_until("every acknowledgement delivered", Duration::from_secs(120), || {
        let received: BTreeSet<String> = received_ids(&c, &customers).into_iter().collect();
        received == queued
    });
    // A mail whose sending the kill cut short is sent again with the same Message-ID: at
    // most the victim's few in flight come twice.
    let received = received_ids(&c, &customers);
    assert!(received.len() - queued.len() <= 8, "{} deliveries of {} mails", received.len(), queued.len());
    let after = c.holders();
    for mailbox in &victims_boxes {
        assert!(after[mailbox].1 > before[mailbox].1, "{mailbox}: a new generation");
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (node, _) in after.values() {
        *counts.entry(node.as_str()).or_default() += 1;
    }
    assert_eq!(counts.values().sum::<usize>(), 6);
    assert_eq!(counts.len(), 2, "the two survivors have them all: {after:?}");
    for mailbox in &boxes {
        wait_until(&format!("{mailbox} emptied"), Duration::from_secs(30), || {
            c.rt.block_on(c.d.count(mailbox, "INBOX")) == 0
        });
    }
}

#[test]
fn a_node_paused_past_its_lease_touches_the_mailbox_no_more_when_it_wakes() {
    let boxes = ["box17", "box18"];
    let customers = users(36..=37);
    let c = Cluster::new(&boxes, &customers);
    let (mut nodes, before) = c.start_sharing(["north", "south"]);
    let (paused_name, _) = before["box17"].clone();
    let paused = nodes.iter().position(|n| n.name == paused_name).unwrap();
    let other = 1 - paused;
    let pid = nodes[paused].daemon.pid().to_string();
    let signal = |sig: &str| assert!(std::process::Command::new("kill").args([sig, &pid]).status().unwrap().success());

    signal("-STOP");
    let stopped = Instant::now();
    wait_until("the other node to take box17", Duration::from_secs(30), || {
        c.holders().get("box17").is_some_and(|(node, _)| *node == nodes[other].name)
    });
    assert!(stopped.elapsed() <= Duration::from_millis(TAKEOVER_SECS * 1000 + 250), "{:?}", stopped.elapsed());
    c.fill(10, &addresses(&customers), "Paused");
    wait_until("the other node to apply the mail", Duration::from_secs(60), || c.subjects().len() >= 20);

    let log_before = nodes[paused].daemon.log().len();
    signal("-CONT");
    c.fill(10, &addresses(&customers), "Woken");
    wait_until("the paused node to see that its lease is gone", Duration::from_secs(30), || {
        nodes[paused].daemon.log()[log_before..].contains("no longer works the mailbox")
    });
    wait_until("every mail applied", Duration::from_secs(60), || c.subjects().len() >= 40);
    c.assert_each_mail_once(40);
    // Under its old lease the woken node applied nothing more of box17; it may take a
    // mailbox again only under a new lease.
    let woke = nodes[paused].daemon.log()[log_before..].to_string();
    let retaken = woke.lines().position(|l| l.contains("this node works the mailbox now"));
    let applied = woke.lines().position(|l| l.contains("message applied") && l.contains("source=imap:box17"));
    if let Some(applied) = applied {
        assert!(retaken.is_some_and(|r| r < applied), "box17 touched under the old lease:\n{woke}");
    }
    let paused_log = nodes[paused].daemon.log();
    assert_eq!(
        applied_from(&paused_log[..log_before], "box17"),
        0,
        "nothing arrived before the pause, so nothing was applied by it"
    );
    for node in &mut nodes {
        assert_eq!(node.daemon.terminate().code(), Some(0));
    }
}

/// A config for a node of its own data directory `dir` on the database at `url`, with
/// `secret` as desk.secret (empty: none).
fn node_config(dir: &std::path::Path, url: &str, secret: &str) -> maildesk::config::Config {
    let mut config = common::test_config(dir, url.to_string());
    config.desk.secret = maildesk::config::Secret::new(secret);
    config
}

#[tokio::test]
async fn the_nodes_sign_with_one_reply_key_and_a_node_with_another_is_refused_at_start() {
    use maildesk::domain::{EmailAddress, TicketNumber};
    let root = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(common::Db::Postgres, root.path()).await;
    let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
    // Two nodes without desk.secret: the first makes the key, in the database; the second
    // takes it from there.
    let a = maildesk::App::open(node_config(&a_dir, &url, "")).await.expect("the first node");
    let b = maildesk::App::open(node_config(&b_dir, &url, "")).await.expect("the second node");
    assert!(!a_dir.join("reply-secret").exists() && !b_dir.join("reply-secret").exists(), "no node keeps a key file");
    let customer = EmailAddress::parse("carla@example.com").unwrap();
    for ticket in [1, 42, 9_999] {
        let address = EmailAddress::parse(&a.reply_addresses.for_ticket(TicketNumber(ticket))).unwrap();
        let checked = b.reply_addresses.check(&address, &customer);
        assert!(checked.is_some(), "node b takes node a's reply address for ticket {ticket}");
    }
    assert_eq!(a.portal_key, b.portal_key, "a form signed on one node is accepted by the other");
    a.store.close().await;
    b.store.close().await;

    // A node configured with another key is refused at start, and says why.
    let other = format!("{:064x}", 7u8);
    let refused = maildesk::App::open(node_config(&root.path().join("c"), &url, &other)).await.unwrap_err().to_string();
    assert!(refused.contains("differs from the one the other nodes sign with"), "{refused}");
    assert!(refused.contains("desk.secret"), "{refused}");
    assert!(!refused.contains(&other), "the key is never shown: {refused}");
    // As is one that kept a key of its own in its data directory.
    let d_dir = root.path().join("d");
    std::fs::create_dir_all(&d_dir).unwrap();
    std::fs::write(d_dir.join("reply-secret"), "5".repeat(64)).unwrap();
    let refused = maildesk::App::open(node_config(&d_dir, &url, "")).await.unwrap_err().to_string();
    assert!(refused.contains(&d_dir.join("reply-secret").display().to_string()), "{refused}");
    assert!(refused.contains("another reply-address key"), "{refused}");

    // A single node's kept key, on its first start on PostgreSQL, becomes the shared one:
    // the reply addresses it handed out stay valid on every node.
    let url = common::fresh_database_url(common::Db::Postgres, root.path()).await;
    let e_dir = root.path().join("e");
    std::fs::create_dir_all(&e_dir).unwrap();
    std::fs::write(e_dir.join("reply-secret"), "6".repeat(64)).unwrap();
    let e = maildesk::App::open(node_config(&e_dir, &url, "")).await.expect("the node with a kept key");
    let f = maildesk::App::open(node_config(&root.path().join("f"), &url, "")).await.expect("a new node");
    let before = maildesk::inbound::ReplyAddresses::new(&e.config().desk.address, "6".repeat(64).as_bytes());
    let address = EmailAddress::parse(&before.for_ticket(TicketNumber(7))).unwrap();
    assert!(f.reply_addresses.check(&address, &customer).is_some(), "the old key's address counts on the new node");
}

/// A node with the portal: `serve` on a free port of its own (see
/// [`common::portal_http::serve_on_free_port`]), with `config` and `env`.
fn serve_portal(config: &std::path::Path, env: &[(&str, &str)]) -> (Daemon, String) {
    let dir = config.parent().unwrap();
    let mut all = vec![("MAILDESK_CONFIG", config.to_str().unwrap()), ("MAILDESK_PORTAL__ENABLED", "true")];
    all.extend_from_slice(env);
    common::portal_http::serve_on_free_port(dir, &all)
}

/// `maildesk` with node `config`, run to its end: its standard output (it must succeed).
fn cli(config: &std::path::Path, args: &[&str]) -> String {
    let dir = config.parent().unwrap();
    let out = common::cli::run(common::cli::maildesk(dir).args(args).env("MAILDESK_CONFIG", config));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Node A (its own data directory) takes the mail in with `maildesk ingest`, as an MTA
/// would run it there; node B runs `serve`. So what B sends and shows of A's mail it can
/// only have from the directory and database they share.
#[test]
fn an_attachment_received_on_one_node_is_shown_live_relayed_and_downloaded_through_another() {
    let customers = users(38..=38);
    let c = Cluster::new(&[], &customers);
    c.rt.block_on(c.d.reset("staff5"));
    let (a, b) = (c.config("a"), c.config("b"));
    cli(&a, &["staff", "add", "staff5@example.com", "--name", "Sam"]);
    // Node B's sender polls once a minute: what it sends within seconds of node A's
    // commit, it heard of through the database (LISTEN/NOTIFY).
    let (mut node_b, base) = serve_portal(&b, &[("MAILDESK_OUTBOX__POLL_INTERVAL_MS", "60000")]);
    let ingest = |raw: &[u8]| {
        let file = a.parent().unwrap().join(format!("mail-{:x}.eml", rand::random::<u64>()));
        std::fs::write(&file, raw).unwrap();
        cli(&a, &["ingest", file.to_str().unwrap()]);
    };

    // The customer's request comes in on node A; node B tells the staff member.
    ingest(&common::imap::request("box38@example.com", "Printer on fire"));
    let notice = common::cli::wait_for("the staff notice, sent by node B", Duration::from_secs(20), || {
        c.rt.block_on(inbox(&c.d, "staff5")).into_iter().next()
    });
    let reply_to = header(&notice, "Reply-To").unwrap();
    let staff_address = reply_to.trim_end_matches('>').rsplit('<').next().unwrap().to_string();

    // The customer signs in on node B and opens the request, its page following it live.
    let password = cli(&a, &["contact", "invite", "box38@example.com", "--password"]).trim().to_string();
    common::cli::secret(&password);
    let mut browser = common::portal_http::Client::new(&base);
    let csrf = browser.get("/login").csrf();
    browser.post("/login", &[("csrf", &csrf), ("email", "box38@example.com"), ("password", &password)]);
    let csrf = browser.get("/password/change").csrf();
    let new_password = format!("Cluster-{:016x}", rand::random::<u64>());
    common::cli::secret(&new_password);
    browser.post("/password/change", &[("csrf", &csrf), ("current", &password), ("new", &new_password)]);
    assert_eq!(browser.get("/requests/1").status, 200);
    let mut live = browser.events("/requests/1/events?after=0");
    live.read_until("Printer on fire");

    // The staff member's answer, with a file, comes in on node A too.
    let answer = format!(
        "From: Sam <staff5@example.com>\r\nTo: {staff_address}\r\nSubject: Re: Printer on fire\r\nMessage-ID: <s5.{:x}@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nPlease follow the steps attached.\r\n--b1\r\nContent-Type: text/plain; name=\"steps.txt\"\r\nContent-Disposition: attachment; filename=\"steps.txt\"\r\n\r\n1. Unplug. 2. Wait.\r\n--b1--\r\n",
        rand::random::<u64>()
    );
    ingest(answer.as_bytes());
    let blobs = c.root.path().join("blobs");
    assert!(!a.parent().unwrap().join("var/blobs").exists(), "node A keeps no blobs of its own");
    assert!(std::fs::read_dir(&blobs).unwrap().count() > 1, "the file is in the shared directory");
    // The page open on node B hears of it.
    live.read_until("Please follow the steps attached.");

    // Node B relays it to the customer, the file along.
    let relay = common::cli::wait_for("the relayed answer, sent by node B", Duration::from_secs(20), || {
        c.rt.block_on(inbox(&c.d, "box38")).into_iter().find(|m| m.contains("Please follow the steps"))
    });
    let parsed = mail_parser::MessageParser::default().parse(relay.as_bytes()).unwrap();
    use mail_parser::MimeHeaders;
    let file = parsed.attachments().find(|f| f.attachment_name() == Some("steps.txt")).expect("the attachment");
    assert_eq!(file.contents(), b"1. Unplug. 2. Wait.");

    // And the customer downloads it from node B's portal.
    let page = browser.get("/requests/1");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Please follow the steps attached."), "{}", page.body);
    let link = regex::Regex::new(r#"href="(/requests/1/files/\d+)""#).unwrap();
    let link = link.captures(&page.body).unwrap_or_else(|| panic!("a link to the file:\n{}", page.body))[1].to_string();
    let download = browser.get(&link);
    assert_eq!(download.status, 200);
    assert_eq!(download.body, "1. Unplug. 2. Wait.");
    assert_eq!(node_b.terminate().code(), Some(0));
}

/// A solution imported with node A's config is found by a search on node B's portal, which
/// follows the knowledge base's changes in the database.
#[test]
fn a_solution_imported_on_one_node_is_found_by_a_search_on_another() {
    let c = Cluster::new(&[], &[]);
    let (a, b) = (c.config("a"), c.config("b"));
    let (mut node_a, _) = serve_portal(&a, &[]);
    let (mut node_b, base) = serve_portal(&b, &[]);
    let word = format!("quokka{:08x}", rand::random::<u32>());
    let solutions = c.root.path().join("solutions");
    std::fs::create_dir_all(&solutions).unwrap();
    std::fs::write(
        solutions.join("reset-the-printer.md"),
        format!(
            "---\ntitle: Reset the {word} printer\ncategory: Hardware\nlanguage: en\nvisibility: public\n---\n\
             Hold the {word} button for ten seconds until the light blinks.\n"
        ),
    )
    .unwrap();
    let mut browser = common::portal_http::Client::new(&base);
    let search = format!("/kb/search?q={word}");
    let before = browser.get(&search);
    assert_eq!(before.status, 200);
    assert!(!before.body.contains(&format!("Reset the {word} printer")), "not there before the import");

    cli(&a, &["kb", "import", solutions.to_str().unwrap()]);
    let imported = Instant::now();
    common::cli::wait_until("node B to find the solution", Duration::from_secs(10), || {
        browser.get(&search).body.contains(&format!("Reset the {word} printer"))
    });
    let found_after = imported.elapsed();
    assert!(found_after < Duration::from_secs(5), "found {found_after:?} after the import: within seconds");
    let page = browser.get("/kb/reset-the-printer");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("until the light blinks"), "{}", page.body);
    for node in [&mut node_a, &mut node_b] {
        assert_eq!(node.terminate().code(), Some(0));
    }
}
