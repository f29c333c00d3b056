"""Several `maildesk serve` nodes on one PostgreSQL (issue 19).

- Bulk intake: 1, 2 or 3 nodes (each its own data directory, one shared blob directory)
  start and share ten Dovecot mailboxes out under leases; then `per_box` mails are
  APPENDed into each mailbox, ten clients at once. Rate = mails ÷ the time from the first
  APPEND until every mail is a ticket.
- Fail-over: with three nodes sharing the mailboxes, `kill -9` of the node holding the first
  mailbox; time until another node holds all its mailboxes (read from the lease table).
- Outbox: the acknowledgements of the intake run, queued while the SMTP server could not be
  reached, are made due again and sent by 1 and then 3 nodes through the file transport
  (the claims and the leases on rows are what is measured, not an SMTP server). Rate =
  mails ÷ the time from the senders' start until every row is sent."""

import imaplib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .common import BenchError, Daemon, maildesk_env, make_workdir, remove, run_cli, say
from .imap import SERVERS, message, reset_mailboxes

# The mailboxes of the intake, kept apart from the other IMAP figures' (box01..box50).
BOXES = [f"box{i:02d}" for i in range(51, 61)]


def node_config(work, srv, node, users, blob_dir, takeover, smtp_port=None):
    """A node's config: its own data directory; the shared blob directory; every mailbox;
    SMTP to `smtp_port` (unreachable in the intake run, so acknowledgements stay queued)
    or else the file transport."""
    port, password = (srv[v] for v in SERVERS["dovecot"])
    lines = [f'data_dir = "{work}/var"', f'blob_dir = "{blob_dir}"',
             "[desk]", f'secret = "{"5a" * 32}"',
             "[cluster]", f'node = "{node}"', f"takeover_secs = {takeover}",
             "[maildir]", "enabled = false", "[portal]", "enabled = false", "invite = false",
             "[outbox]", "poll_interval_ms = 200", "max_automatic_per_hour = 1000000",
             "max_automatic_per_recipient_per_hour = 1000000", "retry_base_secs = 3600"]
    if smtp_port:
        lines += ['transport = "smtp"', "[smtp]", 'host = "127.0.0.1"', f"port = {smtp_port}", 'tls = "plain"']
    for user in users:
        lines += ["[[imap]]", f'name = "{user}"', 'host = "127.0.0.1"', f"port = {port}", 'tls = "plain"',
                  f'user = "{user}"', f'password = "{password}"']
    path = os.path.join(work, "maildesk.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def fill(srv, users, per_box, run):
    """APPENDs `per_box` mails into each mailbox, the mailboxes at once."""
    port, password = (srv[v] for v in SERVERS["dovecot"])

    def one(user):
        conn = imaplib.IMAP4("127.0.0.1", int(port))
        conn.login(user, password)
        for k in range(per_box):
            n = BOXES.index(user) * per_box + k + 1
            conn.append("INBOX", None, None, message(f"{user}@example.com", f"Cluster {user} {k} {run}", n))
        conn.logout()
    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(one, users))


def holders(db):
    """mailbox -> holder of its unexpired lease."""
    rows = db.rows("SELECT name, holder FROM leases WHERE name LIKE 'mailbox:imap:%' AND "
                   "expires_at > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)")
    return {name[len("mailbox:imap:"):]: holder.split("#")[0] for name, holder in rows}


def wait(what, timeout, done, daemons, every=0.02):
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise BenchError(f"cluster: timed out waiting for {what}")
        for d in daemons:
            d.check()
        time.sleep(every)


class Nodes:
    """Nodes on one database and blob directory, each in a work directory of its own."""

    def __init__(self, binary, base, db_env, srv, label, takeover):
        self.binary, self.base, self.db_env, self.srv, self.label = binary, base, db_env, srv, label
        self.takeover = takeover
        self.blobs = os.path.join(base, f"{label}-blobs")
        self.daemons, self.works = [], []

    def start(self, names, smtp_port=None):
        for name in names:
            work = make_workdir(self.base, f"{self.label}-{name}")
            config = node_config(work, self.srv, name, BOXES, self.blobs, self.takeover, smtp_port)
            env = maildesk_env({**self.db_env, "MAILDESK_CONFIG": config, "MAILDESK_LOG": "info"})
            self.daemons.append(Daemon(self.binary, work, env, os.path.join(work, "serve.log")))
            self.works.append(work)

    def stop(self):
        for d in self.daemons:
            d.stop()
        self.daemons = []


def intake(binary, backend, srv, base, nodes, per_box, takeover, keep=False):
    """Bulk intake by `nodes` nodes; with three, then the fail-over and the outbox."""
    work = make_workdir(base, f"cluster-{nodes}")
    db_env, db, cleanup = backend.fresh(work)
    env = maildesk_env({**db_env, "MAILDESK_CONFIG": node_config(work, srv, "setup", [], work, takeover)})
    run_cli(binary, ["ticket", "list", "--limit", "1"], work, env)  # the schema, before the clock starts
    reset_mailboxes(srv, BOXES)
    run = os.urandom(3).hex()
    total = per_box * len(BOXES)
    group = Nodes(binary, base, db_env, srv, f"cluster-{nodes}", takeover)
    out = {"nodes": nodes, "mails": total}
    try:
        # SMTP to a port nothing listens on: the acknowledgements stay queued for the outbox run.
        group.start([f"n{i + 1}" for i in range(nodes)], smtp_port=1)
        started = time.perf_counter()
        share = -(-len(BOXES) // nodes)

        def shared():
            held = list(holders(db).values())
            return len(held) == len(BOXES) and all(0 < held.count(f"n{i + 1}") <= share for i in range(nodes))
        wait("the mailboxes shared out", 120, shared, group.daemons)
        out["shared_s"] = time.perf_counter() - started
        began = time.perf_counter()
        filling = threading.Thread(target=fill, args=(srv, BOXES, per_box, run))
        filling.start()
        wait(f"{total} tickets", 600, lambda: db.scalar("SELECT count(*) FROM tickets") >= total, group.daemons,
             every=0.05)
        filling.join()
        out["intake_s"] = time.perf_counter() - began
        out["intake_rate"] = total / out["intake_s"]
        held = holders(db)
        out["sharing"] = sorted(list(held.values()).count(f"n{i + 1}") for i in range(nodes))
        out["tickets_once"] = db.scalar("SELECT count(DISTINCT subject) FROM tickets") == total
        say(f"cluster/{nodes} node(s): mailboxes shared out {out['shared_s']:.1f} s after the start, "
            f"{out['sharing']} per node; {total} mails in {out['intake_s']:.1f} s = {out['intake_rate']:.0f} msg/s; "
            f"each mail one ticket: {out['tickets_once']}")
        if nodes == 3:
            out["failover_s"] = failover(group, db, takeover)
            group.stop()
            out["outbox"] = {senders: outbox(group, db, senders) for senders in (1, 3)}
    finally:
        group.stop()
        db.close()
        cleanup()
        if not keep:
            remove(work)
            for w in group.works:
                remove(w)
            remove(group.blobs)
    return out


def failover(group, db, takeover):
    """Kills the holder of the first mailbox; seconds until others hold all its mailboxes."""
    before = holders(db)
    victim = before[BOXES[0]]
    index = int(victim[1:]) - 1
    theirs = [m for m, node in before.items() if node == victim]
    daemon = group.daemons[index]
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.proc.wait()
    killed = time.perf_counter()
    others = [d for i, d in enumerate(group.daemons) if i != index]

    def taken():
        now = holders(db)
        return all(now.get(m) not in (None, victim) for m in theirs)
    wait("the killed node's mailboxes taken over", 4 * takeover, taken, others)
    took = time.perf_counter() - killed
    say(f"cluster/fail-over: {len(theirs)} mailbox(es) of the killed node taken over in {took:.2f} s "
        f"(cluster.takeover_secs = {takeover})")
    return took


def outbox(group, db, senders):
    """Every queued acknowledgement due again; seconds for `senders` nodes to send them all."""
    total = db.scalar("SELECT count(*) FROM outbox")
    db.rows("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = 0, sent_at = NULL, "
            "last_error = NULL RETURNING 1")
    began = time.perf_counter()
    group.start([f"s{senders}-{i + 1}" for i in range(senders)])
    wait(f"{total} mails sent", 600, lambda: db.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'") >= total,
         group.daemons, every=0.05)
    took = time.perf_counter() - began
    group.stop()
    sent_files = sum(len([f for f in os.listdir(os.path.join(w, "var", "outbox")) if f.endswith(".eml")])
                     for w in group.works[-senders:] if os.path.isdir(os.path.join(w, "var", "outbox")))
    say(f"cluster/outbox: {total} mails by {senders} sender(s) in {took:.1f} s = {total / took:.0f} mails/s "
        f"({sent_files} files written)")
    return {"mails": total, "seconds": took, "rate": total / took, "files": sent_files}
