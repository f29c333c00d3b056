"""bulk: N messages of the repo's corpus (corpus.py) waiting in the Maildir `new/` when
`maildesk serve` starts; timed until all N are in `cur/` (the daemon moves a message there
only once its effect is committed). Memory is sampled meanwhile; idle memory is read once the
outbox has drained. Then checks what was stored."""

import os
import time

from . import corpus
from .common import (BenchError, Daemon, RssSampler, count_files, maildesk_env, make_workdir, proc_status,
                     remove, run_cli, say, warn)


def make_corpus(base, n, seed=7):
    outdir = os.path.join(base, f"corpus-{n}")
    if os.path.exists(os.path.join(outdir, "manifest.json")):
        import json
        with open(os.path.join(outdir, "manifest.json")) as f:
            return outdir, json.load(f)
    t0 = time.perf_counter()
    manifest = corpus.generate(outdir, n, seed)
    s = manifest["summary"]
    say(f"bulk corpus: {n} msgs ({s['new']} new, {s['reply']} replies, {s['attachments']} with attachment, "
        f"{s['html']} with HTML, charsets {s['charsets']}), {s['bytes'] / 1048576:.1f} MiB, "
        f"made in {time.perf_counter() - t0:.1f} s")
    return outdir, manifest


def idle_fresh(binary, backend, base, wait=3.0, keep=False):
    """VmRSS of a daemon that started on an empty Maildir and a fresh database, after `wait` s."""
    work = make_workdir(base, f"idle-{backend.name}")
    db_env, db, cleanup = backend.fresh(work)
    env = maildesk_env(db_env)
    daemon = None
    try:
        run_cli(binary, ["ticket", "list", "--limit", "1"], work, env)
        daemon = Daemon(binary, work, env, os.path.join(work, "serve.log"))
        time.sleep(wait)
        daemon.check()
        return proc_status(daemon.pid, "VmRSS")
    finally:
        if daemon:
            daemon.stop()
        db.close()
        cleanup()
        if not keep:
            remove(work)


def run(binary, backend, corpus_dir, manifest, base, idle_wait=3.0, keep=False, label="bulk"):
    """One bulk run on a fresh database; returns a dict of figures."""
    msgs = manifest["messages"]
    n = len(msgs)
    work = make_workdir(base, f"{label}-{backend.name}")
    inbox = os.path.join(work, "var", "inbox")
    new_dir, cur_dir = os.path.join(inbox, "new"), os.path.join(inbox, "cur")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(inbox, sub))
    for m in msgs:  # hard links: the daemon only renames them
        os.link(os.path.join(corpus_dir, m["file"]), os.path.join(new_dir, m["file"]))
    db_env, db, cleanup = backend.fresh(work)
    env = maildesk_env(db_env)
    daemon = sampler = None
    try:
        run_cli(binary, ["ticket", "list", "--limit", "1"], work, env)  # the schema, untimed
        log = os.path.join(work, "serve.log")
        t0 = time.perf_counter()
        daemon = Daemon(binary, work, env, log)
        sampler = RssSampler(daemon.pid)
        sampler.start()
        timeline = [(0.0, 0)]
        deadline = t0 + max(120.0, n / 10)
        while True:
            now = time.perf_counter()
            done = count_files(cur_dir)
            timeline.append((now - t0, done))
            if done >= n:
                break
            daemon.check()
            if now > deadline:
                raise BenchError(f"{label}/{backend.name}: only {done} of {n} in cur/ after {now - t0:.0f} s; "
                                 f"log {log}")
            # listing a big directory costs CPU the daemon wants: poll at ~1 % of the elapsed time
            time.sleep(min(0.5, max(0.01, (now - t0) / 100)))
        elapsed = timeline[-1][0]
        peak_sampled = sampler.stop()
        hwm_bulk = proc_status(daemon.pid, "VmHWM")
        # the acknowledgements: wait until the outbox has nothing due
        outbox = os.path.join(work, "var", "outbox")
        t_drain = time.perf_counter()
        last, stable_since = -1, time.perf_counter()
        while True:
            daemon.check()
            pending = db.scalar("SELECT count(*) FROM outbox WHERE state = 'pending'")
            files = count_files(outbox, ".eml") if os.path.isdir(outbox) else 0
            if files != last:
                last, stable_since = files, time.perf_counter()
            if pending == 0 and time.perf_counter() - stable_since >= 1.0:
                break
            if time.perf_counter() - t_drain > max(120.0, n / 10):
                warn(f"{label}/{backend.name}: outbox still has {pending} pending after "
                     f"{time.perf_counter() - t_drain:.0f} s")
                break
            time.sleep(0.2)
        drain_s = time.perf_counter() - t_drain
        time.sleep(idle_wait)
        idle_rss = proc_status(daemon.pid, "VmRSS")
        hwm = proc_status(daemon.pid, "VmHWM")
        daemon.stop()
        daemon = None
        result = {
            "msgs": n, "elapsed_s": elapsed, "rate": n / elapsed,
            "peak_rss_sampled": peak_sampled, "hwm_bulk": hwm_bulk, "hwm_end": hwm,
            "idle_rss_after": idle_rss, "outbox_files": last, "drain_s": drain_s,
            "deciles": deciles(timeline, n),
        }
        result["verify"] = verify(db, manifest, cur_dir, f"{label}/{backend.name}")
        return result
    finally:
        if sampler:
            sampler.stop()
        if daemon:
            daemon.stop()
        db.close()
        cleanup()
        if not keep:
            remove(work)


def deciles(timeline, n):
    """msg/s of each successive tenth of the run, interpolated from (seconds, done) samples."""
    def time_at(count):
        for (t1, c1), (t2, c2) in zip(timeline, timeline[1:]):
            if c2 >= count:
                if c2 == c1:
                    return t2
                return t1 + (t2 - t1) * (count - c1) / (c2 - c1)
        return timeline[-1][0]
    marks = [time_at(n * k / 10) for k in range(11)]
    marks[0] = 0.0
    # the first tenth includes start-up; report rates where the interval is measurable
    return [(n / 10) / (b - a) if b > a else None for a, b in zip(marks, marks[1:])]


def verify(db, manifest, cur_dir, label):
    msgs = manifest["messages"]
    new = [m for m in msgs if m["kind"] == "new"]
    replies = [m for m in msgs if m["kind"] == "reply"]
    ticket_of = {mid: int(t) for mid, t in
                 db.rows("SELECT message_id, ticket_id FROM comments WHERE message_id IS NOT NULL")}
    seq2ticket = {m["seq"]: ticket_of.get(m["msgid"].strip("<>")) for m in new}
    flagged = sum(1 for name in os.listdir(cur_dir) if name.rsplit(":2,", 1)[-1].find("F") >= 0)
    checks = {
        "tickets": (db.scalar("SELECT count(*) FROM tickets"), len(new)),
        "comments": (db.scalar("SELECT count(*) FROM comments"), len(msgs)),
        "requests_opened_own_ticket": (len({t for t in seq2ticket.values() if t is not None}), len(new)),
        "replies_on_right_ticket": (sum(1 for m in replies if ticket_of.get(m["msgid"].strip("<>")) is not None
                                        and ticket_of.get(m["msgid"].strip("<>")) == seq2ticket.get(m["reply_to_seq"])),
                                    len(replies)),
        "attachments": (db.scalar("SELECT count(*) FROM attachments WHERE NOT inline"),
                        sum(1 for m in msgs if m.get("attachment"))),
        "quarantined": (db.scalar("SELECT count(*) FROM quarantine"), 0),
        "flagged_in_cur": (flagged, 0),
    }
    in_order = sum(1 for m in new if seq2ticket.get(m["seq"]) == m["seq"])
    bad = {k: v for k, v in checks.items() if v[0] != v[1]}
    if bad:
        warn(f"{label}: check failed: " + ", ".join(f"{k} {g}/{w}" for k, (g, w) in bad.items()))
    return {"ok": not bad, "checks": checks, "tickets_in_corpus_order": in_order}
