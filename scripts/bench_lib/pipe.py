"""pipe: the Request Tracker corpus (../shared/peers/rt5_corpus.py) through `maildesk ingest`,
one process per message as an MTA pipe alias runs it: new requests first, then the replies
(their `[rt.example.com #@@TID@@]` tags filled in with the tickets the requests opened, like
rt5_feed.py). Then checks what was stored, like rt5_verify.py.

Two ways: `ingest` alone (each process opens the store and applies its message), and with
`maildesk serve` running on the same data directory, which takes each message over from
`ingest` (as RT's mail gateway hands each message to its server); then the CPU figures add
the daemon's CPU to the processes'."""

import json
import os
import resource
import subprocess
import threading
import time

from .common import (BenchError, Daemon, bare_id, header, maildesk_env, make_workdir, percentile, remove,
                     run_cli, say, warn)

PEERS = os.environ.get("MAILDESK_BENCH_PEERS", "/work/shared/peers")
RT_ENV = {
    "MAILDESK_DESK__TAG": "rt.example.com",
    "MAILDESK_DESK__ADDRESS": "rt@rt.example.com",
    "MAILDESK_MAILDIR__ENABLED": "false",
}


def children_cpu():
    """CPU seconds (user + system) of the children waited for so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_of(argv, cwd, env):
    """CPU seconds of one run of `argv` (which must succeed)."""
    before = children_cpu()
    subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=120)
    return children_cpu() - before


def process_cpu(pid):
    """CPU seconds a running process has used, all its threads (those that ended too)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def duplicate_cpu(binary, paths, work, env, rounds=3, daemon_cpu=lambda: 0.0):
    """The CPU of a duplicate `ingest` (a message already applied: what every message costs
    before its own work) and of a bare start (`--version`), alternated so that both see the
    same machine; seconds per process, means. What `daemon_cpu` (a running daemon's CPU so
    far) grows by meanwhile is added to the duplicates (all of it: the daemon's idle time
    between them too), and also returned on its own."""
    dup, bare = [], []
    daemon_before = daemon_cpu()
    for _ in range(rounds):
        for path in paths:
            bare.append(cpu_of([binary, "--version"], work, env))
            dup.append(cpu_of([binary, "ingest", path], work, env))
    served = daemon_cpu() - daemon_before
    return (sum(dup) + served) / len(dup), sum(bare) / len(bare), served / len(dup)


def make_corpus(outdir, n=300):
    """Writes the RT corpus (same parameters as rt5_bench.sh: seed 5, 100 senders)."""
    script = os.path.join(PEERS, "rt5_corpus.py")
    if not os.path.exists(script):
        raise BenchError(f"{script} not found (set MAILDESK_BENCH_PEERS to the peers directory)")
    out = subprocess.run(["python3", script, outdir, "-n", str(n)], check=True, capture_output=True, text=True)
    say(out.stdout.strip() or out.stderr.strip())
    with open(os.path.join(outdir, "manifest.json")) as f:
        manifest = json.load(f)
    for m in manifest["messages"]:
        with open(os.path.join(outdir, m["file"]), "rb") as f:
            m["msgid"] = bare_id(header(f.read(), "Message-ID"))
    return manifest


def run(binary, backend, corpus_dir, manifest, base, keep=False, with_daemon=False):
    """One pipe run on a fresh database; returns a dict of figures. `with_daemon`: with
    `maildesk serve` running on the data directory, taking the messages over."""
    work = make_workdir(base, f"pipe-{backend.name}{'-daemon' if with_daemon else ''}")
    db_env, db, cleanup = backend.fresh(work)
    env = maildesk_env({**RT_ENV, **db_env})
    log_path = os.path.join(work, "ingest.log")
    daemon = None

    def daemon_cpu():
        return process_cpu(daemon.pid) if daemon else 0.0

    try:
        run_cli(binary, ["ticket", "list", "--json", "--limit", "1"], work, env)  # creates the schema
        if with_daemon:
            # At info, as a daemon logs: one line per message (counted below).
            daemon = Daemon(binary, work, {**env, "MAILDESK_LOG": "info"}, os.path.join(work, "serve.log"))
            socket = os.path.join(work, "var", "ingest.sock")
            deadline = time.monotonic() + 30
            while not os.path.exists(socket):
                daemon.check()
                if time.monotonic() > deadline:
                    raise BenchError(f"maildesk serve made no {socket} in 30 s")
                time.sleep(0.05)
        msgs = manifest["messages"]
        new = [m for m in msgs if m["kind"] == "new"]
        replies = [m for m in msgs if m["kind"] == "reply"]
        times, failures = [], []

        def feed(path, m):
            # No `timeout=` on subprocess: with one, Python polls the child with growing
            # sleeps (0.5, 1, 2, 4, 8 ms ...) and a 9 ms process is seen to end at 15.5 ms.
            # A watchdog timer kills a stuck process instead; the wait itself blocks.
            t0 = time.perf_counter()
            proc = subprocess.Popen([binary, "ingest", path], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=log)
            watchdog = threading.Timer(120, proc.kill)
            watchdog.start()
            rc = proc.wait()
            watchdog.cancel()
            dt = time.perf_counter() - t0
            if rc == -9:
                rc = "killed after 120 s"
            times.append(dt)
            if rc != 0:
                failures.append((m["file"], rc))

        with open(log_path, "ab") as log:
            cpu0 = children_cpu() + daemon_cpu()
            t0 = time.perf_counter()
            for m in new:
                feed(os.path.join(corpus_dir, m["file"]), m)
            wall_new = time.perf_counter() - t0
            # untimed: which ticket each request opened (by its Message-ID), then the replies
            # get their ticket numbers in the subject tag
            tickets = {bare_id(mid): int(t) for mid, t in db.rows("SELECT message_id, ticket_id FROM thread_ids")}
            seq2ticket = {m["seq"]: tickets.get(m["msgid"]) for m in new}
            reply_dir = os.path.join(work, "replies")
            os.makedirs(reply_dir)
            paths = []
            for m in replies:
                with open(os.path.join(corpus_dir, m["file"]), "rb") as f:
                    raw = f.read()
                t = seq2ticket.get(m["reply_to_seq"])
                raw = raw.replace(b"@@TID@@", str(t if t is not None else 999999).encode())
                path = os.path.join(reply_dir, m["file"])
                with open(path, "wb") as f:
                    f.write(raw)
                paths.append(path)
            t0 = time.perf_counter()
            for path, m in zip(paths, replies):
                feed(path, m)
            wall_reply = time.perf_counter() - t0
            cpu = children_cpu() + daemon_cpu() - cpu0
        wall = wall_new + wall_reply
        if daemon:
            with open(daemon.log_path, "rb") as f:
                handed = f.read().count(b"source=pipe")
            if handed < len(msgs):
                warn(f"pipe/{backend.name} with the daemon: only {handed} of {len(msgs)} messages went through it")
        dup, bare, served = duplicate_cpu(binary, [os.path.join(corpus_dir, m["file"]) for m in new[:50]], work, env,
                                  rounds=5 if daemon else 3, daemon_cpu=daemon_cpu)
        if daemon:
            daemon.check()
        result = {
            "msgs": len(msgs), "wall_s": wall, "rate": len(msgs) / wall,
            "p50_ms": percentile(times, 50) * 1000, "p95_ms": percentile(times, 95) * 1000,
            "max_ms": max(times) * 1000, "failures": len(failures),
            "cpu_ms": cpu / len(msgs) * 1000, "dup_cpu_ms": dup * 1000, "bare_cpu_ms": bare * 1000,
            "cpu_ratio": dup / bare, "dup_daemon_ms": served * 1000,
        }
        if failures:
            warn(f"pipe/{backend.name}: {len(failures)} ingest processes failed, first {failures[:3]}; "
                 f"log {log_path}")
        result["verify"] = verify(db, manifest, seq2ticket, backend.name)
        return result
    finally:
        if daemon:
            daemon.stop()
        db.close()
        cleanup()
        if not keep:
            remove(work)


def verify(db, manifest, seq2ticket, label):
    """What rt5_verify.py checks, on maildesk's tables."""
    msgs = manifest["messages"]
    new = [m for m in msgs if m["kind"] == "new"]
    replies = [m for m in msgs if m["kind"] == "reply"]
    # A tenth of the corpus's replies come from someone not on the ticket (tag and
    # References only). Request Tracker files them on the ticket; maildesk opens a ticket
    # of their own with a note naming the other (issue 11: a stranger never speaks on
    # someone else's ticket).
    requester = {m["seq"]: m["from"].lower() for m in new}
    on_ticket = [m for m in replies if m["from"].lower() == requester.get(m["reply_to_seq"])]
    strangers = [m for m in replies if m["from"].lower() != requester.get(m["reply_to_seq"])]
    comment_ticket = {bare_id(mid): int(t) for mid, t in
                      db.rows("SELECT message_id, ticket_id FROM comments WHERE message_id IS NOT NULL")}
    subjects = {int(i): s for i, s in db.rows("SELECT id, subject FROM tickets")}
    distinct = {t for t in seq2ticket.values() if t is not None}
    own_ticket = lambda m: comment_ticket.get(m["msgid"])  # noqa: E731
    checks = {
        "tickets": (db.scalar("SELECT count(*) FROM tickets"), len(new) + len(strangers)),
        "requests_opened_own_ticket": (len(distinct), len(new)),
        "comments": (db.scalar("SELECT count(*) FROM comments"), len(msgs) + len(strangers)),
        "replies_on_right_ticket": (sum(1 for m in on_ticket if own_ticket(m) is not None
                                        and own_ticket(m) == seq2ticket.get(m["reply_to_seq"])),
                                    len(on_ticket)),
        "strangers_on_own_ticket": (sum(1 for m in strangers if own_ticket(m) is not None
                                        and own_ticket(m) not in distinct), len(strangers)),
        "pdf_attachments": (db.scalar("SELECT count(*) FROM attachments WHERE content_type = 'application/pdf'"),
                            sum(1 for m in msgs if m.get("pdf"))),
        "subjects_exact": (sum(1 for m in new if " ".join(subjects.get(seq2ticket.get(m["seq"]), "").split())
                               == " ".join(m["subject"].split())), len(new)),
        "quarantined": (db.scalar("SELECT count(*) FROM quarantine"), 0),
    }
    bad = {k: v for k, v in checks.items() if v[0] != v[1]}
    if bad:
        warn(f"pipe/{label}: check failed: " + ", ".join(f"{k} {g}/{w}" for k, (g, w) in bad.items()))
    return {"ok": not bad, "checks": checks}
