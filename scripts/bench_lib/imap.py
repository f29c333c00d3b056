"""IMAP: mail sent by SMTP to the test Postfix, delivered into the test Dovecot, picked up by
`maildesk serve` idling (IDLE) on the mailbox. Latency = SMTP accepted (sendmail() returned)
-> the ticket's row is visible in the database (polled every few ms). Our own share comes from
the daemon's log: IDLE reported new data (`mailbox changed`, debug) -> `message applied`
(info, logged after the commit).

Per server (Dovecot and Cyrus side by side): mail put into INBOX with APPEND, as a delivery
agent would; latency = APPEND answered OK -> the ticket's row is visible."""

import imaplib
import os
import smtplib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

from .common import (BenchError, Daemon, log_lines, maildesk_env, make_workdir, percentile, remove,
                     run_cli, say, warn)


# Where each test IMAP server listens: (port variable, password variable).
SERVERS = {"dovecot": ("MAILDESK_TEST_IMAP_PORT", "MAILDESK_TEST_IMAP_PASSWORD"),
           "cyrus": ("MAILDESK_TEST_CYRUS_PORT", "MAILDESK_TEST_CYRUS_PASSWORD")}


def config_toml(work, srv, users, server="dovecot"):
    port, password = (srv[v] for v in SERVERS[server])
    lines = [f'data_dir = "{work}/var"', "[maildir]", "enabled = false", "[portal]", "enabled = false"]
    for user in users:
        lines += ["[[imap]]", f'name = "{user}"', 'host = "127.0.0.1"', f'port = {port}',
                  'tls = "plain"', f'user = "{user}"', f'password = "{password}"',
                  f'addresses = ["{user}@example.com"]']
    path = os.path.join(work, "maildesk.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def reset_mailboxes(srv, users, server="dovecot"):
    """Empties INBOX and the done folder of each user (mail from an earlier run)."""
    port, password = (srv[v] for v in SERVERS[server])
    for user in users:
        conn = imaplib.IMAP4("127.0.0.1", int(port))
        try:
            conn.login(user, password)
            for folder in ("INBOX", "maildesk-done", "INBOX.maildesk-done"):
                typ, data = conn.select(folder)
                if typ == "OK" and int(data[0]) > 0:
                    conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                    conn.expunge()
        finally:
            try:
                conn.logout()
            except Exception:  # noqa: BLE001
                pass


def message(to, subject, n):
    return (f"From: Customer {n} <cust{n}@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: <{uuid.uuid4().hex}@example.org>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Hello, the printer on floor {n % 7} shows error E{n}. Please help.\r\n").encode()


class Poller:
    """Sees new tickets by their subjects, remembering when each was first seen."""

    def __init__(self, db):
        self.db, self.last_id, self.seen = db, 0, {}

    def poll(self):
        rows = self.db.rows(f"SELECT id, subject FROM tickets WHERE id > {self.last_id} ORDER BY id")
        now = time.perf_counter()
        for i, subject in rows:
            self.last_id = max(self.last_id, int(i))
            self.seen.setdefault(subject, now)
        return now

    def wait_for(self, subjects, timeout, interval, daemon):
        deadline = time.perf_counter() + timeout
        while True:
            now = self.poll()
            if all(s in self.seen for s in subjects):
                return True
            if now > deadline:
                return False
            daemon.check()
            time.sleep(interval)


def one_at_a_time(poller, daemon, subjects, gap, deliver):
    """Delivers a mail per subject with `deliver(i, subject)`, each once the one before is
    committed; returns the latencies (delivery answered -> ticket row seen) and the missed."""
    latencies, missed = [], 0
    for i, subject in enumerate(subjects):
        deliver(i, subject)
        delivered = time.perf_counter()
        if poller.wait_for([subject], 30, 0.002, daemon):
            latencies.append(poller.seen[subject] - delivered)
        else:
            missed += 1
        time.sleep(gap)
    return latencies, missed


def _start(binary, backend, srv, base, users, label, keep, server="dovecot"):
    work = make_workdir(base, f"{label}-{backend.name}")
    db_env, db, cleanup = backend.fresh(work)
    env = maildesk_env({**db_env, "MAILDESK_CONFIG": config_toml(work, srv, users, server),
                        "MAILDESK_LOG": "info,maildesk::sources::imap=debug"})
    run_cli(binary, ["ticket", "list", "--limit", "1"], work, env)
    log = os.path.join(work, "serve.log")
    daemon = Daemon(binary, work, env, log)

    def finish():
        daemon.stop()
        db.close()
        cleanup()
        if not keep:
            remove(work)
    return daemon, db, log, finish


def run_one(binary, backend, srv, base, mails=200, gap=0.1, keep=False):
    """Mails one at a time to box01; returns latencies and our own share (seconds)."""
    user = "box01"
    reset_mailboxes(srv, [user])
    daemon, db, log, finish = _start(binary, backend, srv, base, [user], "imap-one", keep)
    smtp = None
    try:
        poller = Poller(db)
        smtp = smtplib.SMTP("127.0.0.1", int(srv["MAILDESK_TEST_SMTP_PORT"]), timeout=30)
        to = f"{user}@example.com"
        run = uuid.uuid4().hex[:6]
        warm = f"Warm-up {run}"
        smtp.sendmail("cust0@example.org", [to], message(to, warm, 0))
        if not poller.wait_for([warm], 60, 0.01, daemon):
            raise BenchError(f"imap/{backend.name}: the warm-up mail was not picked up within 60 s; log {log}")
        time.sleep(0.3)
        first_send_wall = time.time()
        latencies, missed = one_at_a_time(
            poller, daemon, [f"Pick-up {i + 1} {run}" for i in range(mails)], gap,
            lambda i, subject: smtp.sendmail(f"cust{i + 1}@example.org", [to], message(to, subject, i + 1)))
        smtp.quit()
        smtp = None
        daemon.stop()
        own = own_share(log, user, first_send_wall)
        if missed:
            warn(f"imap/{backend.name}: {missed} of {mails} mails not committed within 30 s; log {log}")
        if len(own) < 0.9 * mails:
            warn(f"imap/{backend.name}: only {len(own)} of {mails} 'mailbox changed' -> 'message applied' "
                 f"pairs in the log ({log})")
        return {"n": len(latencies), "missed": missed,
                "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "max": max(latencies or [0]),
                "own_n": len(own), "own_p50": percentile(own, 50) if own else None,
                "own_p99": percentile(own, 99) if own else None}
    finally:
        if smtp:
            try:
                smtp.close()
            except Exception:  # noqa: BLE001
                pass
        finish()


def run_append(binary, backend, srv, base, server, mails=200, gap=0.1, keep=False):
    """Mails one at a time APPENDed to INBOX of box20 on `server`; returns latencies (s)."""
    user = "box20"
    port, password = (srv[v] for v in SERVERS[server])
    reset_mailboxes(srv, [user], server)
    daemon, db, log, finish = _start(binary, backend, srv, base, [user], f"imap-{server}", keep, server)
    conn = None
    try:
        poller = Poller(db)
        conn = imaplib.IMAP4("127.0.0.1", int(port))
        conn.login(user, password)
        to = f"{user}@example.com"
        run = uuid.uuid4().hex[:6]
        warm = f"Warm-up {run}"
        conn.append("INBOX", None, None, message(to, warm, 0))
        if not poller.wait_for([warm], 60, 0.01, daemon):
            raise BenchError(f"imap-{server}/{backend.name}: the warm-up mail was not picked up within 60 s; log {log}")
        time.sleep(0.3)
        latencies, missed = one_at_a_time(
            poller, daemon, [f"Append {i + 1} {run}" for i in range(mails)], gap,
            lambda i, subject: conn.append("INBOX", None, None, message(to, subject, i + 1)))
        if missed:
            warn(f"imap-{server}/{backend.name}: {missed} of {mails} mails not committed within 30 s; log {log}")
        return {"n": len(latencies), "missed": missed,
                "p50": percentile(latencies, 50) if latencies else None,
                "p99": percentile(latencies, 99) if latencies else None}
    finally:
        if conn:
            try:
                conn.logout()
            except Exception:  # noqa: BLE001
                pass
        finish()


def own_share(log, user, since):
    """Seconds from each `mailbox changed` (IDLE reported data) of `user` to the next
    `message applied` of that mailbox, for changes after `since` (unix time)."""
    pairs, changed = [], None
    for t, line in log_lines(log):
        if "mailbox changed" in line and f"mailbox={user}" in line:
            if changed is None:
                changed = t
        elif "message applied" in line and f"imap:{user}" in line:
            if changed is not None and changed >= since:
                pairs.append(t - changed)
            changed = None
    return pairs


def run_busy(binary, backend, srv, base, boxes=50, per_box=4, threads=10, keep=False):
    """`per_box` mails to each of `boxes` mailboxes from `threads` SMTP clients at once."""
    users = [f"box{i:02d}" for i in range(1, boxes + 1)]
    reset_mailboxes(srv, users)
    daemon, db, log, finish = _start(binary, backend, srv, base, users, "imap-busy", keep)
    try:
        poller = Poller(db)
        run = uuid.uuid4().hex[:6]
        port = int(srv["MAILDESK_TEST_SMTP_PORT"])
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            warm = []
            for u in users:
                subject = f"Warm-up {u} {run}"
                smtp.sendmail("cust0@example.org", [f"{u}@example.com"], message(f"{u}@example.com", subject, 0))
                warm.append(subject)
        if not poller.wait_for(warm, 120, 0.05, daemon):
            raise BenchError(f"imap-busy/{backend.name}: warm-up mails not all picked up within 120 s; log {log}")
        time.sleep(1.0)
        jobs = [(u, f"Busy {u} {k + 1} {run}") for k in range(per_box) for u in users]
        sent, local = {}, threading.local()
        connections, lock = [], threading.Lock()

        def send(job):
            if not hasattr(local, "smtp"):
                local.smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
                with lock:
                    connections.append(local.smtp)
            u, subject = job
            to = f"{u}@example.com"
            local.smtp.sendmail("cust1@example.org", [to], message(to, subject, len(subject)))
            sent[subject] = time.perf_counter()

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(send, j) for j in jobs]
            subjects = [s for _, s in jobs]
            ok = poller.wait_for(subjects, 300, 0.005, daemon)
            for f in futures:
                f.result()
        for c in connections:
            try:
                c.quit()
            except Exception:  # noqa: BLE001
                pass
        lags = [poller.seen[s] - sent[s] for s in subjects if s in poller.seen and s in sent]
        if not ok:
            warn(f"imap-busy/{backend.name}: {len(subjects) - len(lags)} of {len(subjects)} mails not committed "
                 f"within 300 s; log {log}")
        total = max(poller.seen[s] for s in subjects if s in poller.seen) - start if lags else None
        return {"n": len(lags), "p50": percentile(lags, 50), "p99": percentile(lags, 99),
                "max": max(lags or [0]), "total_s": total}
    finally:
        finish()
