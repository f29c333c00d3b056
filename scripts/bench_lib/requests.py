"""requests: the portal's request pages on a large database (issue 16), the daemon on one core.

The data set (scripts/bench_lib/requests_seed.py): T tickets and C comments (default 100,000
and 1,000,000) of ~T/50 organisations and ~T/5 contacts, seeded once per schema into a cache
directory and loaded from there on later runs: SQLite by copying the seeded file, PostgreSQL
by `pg_restore` of a dump made after its first seeding (by COPY from the SQLite seed again
when that dump does not restore), then VACUUM ANALYZE (what autovacuum would have done on a
live desk; nothing runs ANALYZE on SQLite, so neither does the bench).
The daemon merges SQLite's full-text index into one b-tree at start and then daily (the seed's,
written as a live desk writes it, is some twenty); the bench waits for that before measuring.

Two viewers, each with an account made by `maildesk contact invite EMAIL --password` (the
generated password is marked as not to be changed, one UPDATE, so the log-in lands on the
home page): a standard contact with ~20 tickets and the primary contact of the largest
organisation (5 % of the tickets). For each viewer and each page kind, an open-loop load
of R requests per second for S seconds (default 200 and 30):

  list     GET /requests, pages 1-3, sorted by activity, creation or priority, filtered by
           status, state (active/finished), priority and, for the primary contact, requester.
  search   GET /requests?q=WORDS: helpdesk words found in thousands of tickets, words of the
           viewer's subjects and conversations, rare words in theirs and only elsewhere, two
           words, a ticket number of theirs and one not theirs; some with a filter or page 2.
  detail   GET /requests/N for tickets the viewer may see (all of the standard contact's,
           500 of the organisation's for the primary contact), in turn.

Open loop: request k is due at start + k / R whatever happened to the ones before; a pool
of 64 keep-alive connections sends each as soon as it is due (or as soon as a connection
is free), and its latency is counted from the time it was due, not from when it was sent:
a server that falls behind cannot hide the queue behind a slower client (no coordinated
omission). A request still unsent 5 s after it was due is not sent at all and counts as
slower than that: an overloaded daemon shows as "p99 > 5 s", and the run still ends. Before
the load, up to 50 URLs of each page and viewer are fetched once, one at a time: the
warm-up, a first check of every answer, and what one request costs alone (median, slowest).
The load generator is threads of this process pinned to one core; `maildesk
serve` runs pinned to the other (`taskset -c`), and on PostgreSQL the server's processes
are pinned to the daemon's core too, so the server side has one core on both backends.

Every answer must be a 200; a detail page must name its ticket; a list or search page
may link only to tickets the viewer may see. Memory: VmRSS of the daemon before the load,
its peak sampled every 50 ms during the load, and VmHWM after (reset before the load by
/proc/PID/clear_refs, so that the two viewers' log-ins, 19 MiB of argon2 each, are not in it).
"""

import http.client
import json
import math
import os
import queue
import random
import re
import shutil
import subprocess
import threading
import time
import urllib.parse

from . import requests_seed as seed
from .common import (BenchError, Daemon, RssSampler, log_lines, maildesk_env, make_workdir, percentile, proc_status,
                     remove, run_cli, say, warn)
from .portal import Client, config_text, cores, cpu_seconds, free_port, own_cpu_seconds, pinned, wait_ready

PAGES = ("list", "search", "detail")
VIEWERS = ("standard", "primary")
CONNECTIONS = 64
GIVE_UP = 5.0  # seconds late at which a request is not sent any more (see open_loop)
LINK = re.compile(r'href="/requests/(\d+)')


# ----------------------------------------------------------------------------- the database

def ensure_seed(lite, binary, cache_root, tickets, comments):
    """The cached seed directory (seed.db, meta.json), seeded now if missing."""
    cache = seed.cache_dir(cache_root, tickets, comments)
    meta_path = os.path.join(cache, "meta.json")
    if os.path.exists(meta_path) and os.path.exists(os.path.join(cache, "seed.db")):
        return cache, _load(meta_path)
    seed.clear_stale(cache_root, cache, tickets, comments)
    shutil.rmtree(cache, ignore_errors=True)
    partial = cache + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    say(f"requests: seeding {tickets:,} tickets and {comments:,} comments into SQLite (once per schema; "
        f"cache {cache})")
    meta = seed.seed_sqlite(lite, binary, os.path.join(partial, "seed.db"), tickets, comments, partial)
    shutil.rmtree(os.path.join(partial, "var"), ignore_errors=True)
    _save(os.path.join(partial, "meta.json"), meta)
    os.replace(partial, cache)
    say(f"requests: SQLite seeded in {meta['sqlite_s']:.0f} s ({meta['sqlite_comments_s']:.0f} s of it the comments)")
    return cache, meta


def _load(path):
    with open(path) as f:
        return json.load(f)


def _save(path, meta):
    with open(path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(path + ".tmp", path)


def load_database(lite, binary, backend, work, cache, meta, pg_bindir):
    """The seeded database for this run: (environment, Database, cleanup, seconds, how)."""
    db_env, db, cleanup = backend.fresh(work)
    t0 = time.perf_counter()
    try:
        if backend.name == "sqlite":
            os.makedirs(os.path.join(work, "var"), mode=0o700, exist_ok=True)
            shutil.copyfile(os.path.join(cache, "seed.db"), db.path)
            os.chmod(db.path, 0o600)
            return db_env, db, cleanup, time.perf_counter() - t0, "copied"
        if not pg_bindir:
            raise BenchError("requests: no PostgreSQL tools (BENCH_PG_BINDIR) to seed or restore with")
        url = urllib.parse.urlsplit(db_env["MAILDESK_DATABASE__URL"])
        name, host, port = url.path.lstrip("/"), url.hostname, url.port
        dump = os.path.join(cache, "postgres.dump")
        how = None
        if os.path.exists(dump):
            try:
                _pg(pg_bindir, "pg_restore", "-j", "2", "--no-owner", "-h", host, "-p", str(port), "-U", "postgres",
                    "-d", name, dump)
                how = "restored from the dump"
            except BenchError as e:
                first = next((line for line in str(e).splitlines() if "ERROR" in line), str(e)[:300])
                warn(f"requests: the dump of the seeded PostgreSQL database does not restore ({first.strip()}); "
                     f"seeding by COPY instead, now and on later runs of this schema")
                os.remove(dump)
                meta["dump_fails"] = first.strip()
                _save(os.path.join(cache, "meta.json"), meta)
                db.close()
                cleanup()
                db_env, db, cleanup = backend.fresh(work)
                name = urllib.parse.urlsplit(db_env["MAILDESK_DATABASE__URL"]).path.lstrip("/")
        if how is None:
            env = maildesk_env(db_env)
            say("requests: seeding PostgreSQL from the SQLite seed (COPY)")
            took = seed.seed_postgres(lite, pg_bindir, host, port, name, binary, os.path.join(cache, "seed.db"), work,
                                      env)
            meta["postgres_s"] = took
            how = f"seeded by COPY in {took:.0f} s"
            if not meta.get("dump_fails"):
                _pg(pg_bindir, "pg_dump", "-Fc", "-Z", "1", "-h", host, "-p", str(port), "-U", "postgres",
                    "-f", dump + ".partial", name)
                os.replace(dump + ".partial", dump)
                how += " and dumped to the cache"
            _save(os.path.join(cache, "meta.json"), meta)
        a0 = time.perf_counter()
        _pg(pg_bindir, "psql", "-X", "-q", "-h", host, "-p", str(port), "-U", "postgres", "-d", name,
            "-c", "VACUUM ANALYZE")
        how += f" (VACUUM ANALYZE {time.perf_counter() - a0:.0f} s of it)"
        return db_env, db, cleanup, time.perf_counter() - t0, how
    except BaseException:
        db.close()
        cleanup()
        raise


def _pg(bindir, tool, *args):
    p = subprocess.run([os.path.join(bindir, tool), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        err = p.stderr.strip()
        first = next((line for line in err.splitlines() if "ERROR" in line), "")  # the cause, before its echoes
        raise BenchError(f"requests: {tool} failed ({p.returncode}): {first}\n{err[-1500:]}")


def check_counts(db, meta, label):
    """The database holds the seeded counts (a trigger or migration did not lose rows)."""
    for table in ("tickets", "comments", "ticket_participants"):
        n = db.scalar(f"SELECT count(*) FROM {table}")
        if n != meta["counts"][table]:
            raise BenchError(f"{label}: {table} has {n:,} rows, the seed {meta['counts'][table]:,}")


# ----------------------------------------------------------------------------- viewers and URLs

def wait_tidied(daemon, log, label, timeout=180.0):
    """Waits for the daemon's first housekeeping to merge the seeded SQLite full-text index
    (which, like a live desk's, is some twenty b-trees: see store::search's
    tidy_search_index), as it does at start and daily; returns its log line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.check()
        with open(log, "rb") as f:
            for raw in f:
                line = raw.decode("utf-8", "replace")
                if "tidied the search index" in line:
                    say(f"{label}: {line.strip()[-120:]}")
                    return line.strip()
        time.sleep(0.2)
    warn(f"{label}: the daemon did not tidy the search index within {timeout:.0f} s")
    return None


def sign_in(lite, binary, work, env, db, backend, port, viewer):
    """An account for `viewer` (by the command line), logged in: its session cookie."""
    email = viewer["email"]
    password = run_cli(binary, ["contact", "invite", email, "--password"], work, env).strip()
    # The bench's only write besides the seed: no forced change of the generated password.
    sql = f"UPDATE accounts SET must_change = FALSE WHERE contact_id = {int(viewer['contact_id'])}"
    if backend.name == "sqlite":
        conn = lite.connect(db.path, timeout=30)
        with conn:
            conn.execute(sql)
        conn.close()
    else:
        db.rows(sql)
    c = Client(port)
    try:
        c.begin("/login")
        token, _ = c.log_in(email, password, True)
        return c.cookies(token)
    finally:
        c.close()


def urls(meta, kind, rng):
    """{page: [path]} for viewer `kind`."""
    v = meta["viewers"][kind]
    lists = ["", "page=2", "page=3", "sort=created", "sort=priority", "sort=created&page=2", "sort=priority&page=3",
             "state=active", "state=finished", "state=finished&page=3", "status=open", "status=closed&page=2",
             "status=waiting-on-customer", "priority=high", "priority=urgent&state=active"]
    if kind == "primary":
        for i, who in enumerate(v["colleagues"][:3]):
            lists.append(f"requester={urllib.parse.quote(who)}" + ("&state=finished" if i == 1 else ""))
    searches = []
    for i, (_, q) in enumerate(meta["searches"][kind]):
        qs = f"q={urllib.parse.quote_plus(q)}"
        searches.append(qs)
        if i % 3 == 0:  # some with a filter, a sort or a second page
            searches.append(qs + ("&state=active", "&page=2", "&sort=created")[i // 3 % 3])
    visible = v["visible"]
    details = visible if len(visible) <= 500 else rng.sample(visible, 500)
    return {"list": ["/requests" + (f"?{q}" if q else "") for q in lists],
            "search": [f"/requests?{q}" for q in searches],
            "detail": [f"/requests/{n}" for n in details]}


def checker(visible):
    """check(path, status, body) -> (problem or None, tickets linked)."""
    allowed = set(visible)

    def check(path, status, body):
        if status != 200:
            return f"{path} answered {status}", 0
        if path.startswith("/requests/"):
            n = path.rsplit("/", 1)[1]
            return (None if f"#{n}" in body else f"{path} does not name #{n}"), 1
        linked = {int(n) for n in LINK.findall(body)}
        foreign = linked - allowed
        if foreign:
            return f"{path} links to {len(foreign)} ticket(s) the viewer may not see, e.g. #{min(foreign)}", len(linked)
        return None, len(linked)
    return check


# ----------------------------------------------------------------------------- open-loop load

def server_busy(core):
    """(busy, total) jiffies of CPU `core` since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                return sum(v) - idle, sum(v)
    return 0, 0


def fetch(conn, port, path, cookie):
    """GET `path` on keep-alive connection `conn`, with `cookie` unless it is None (an
    anonymous visitor): (connection to use next, status, body)."""
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie is not None else {})
        resp = conn.getresponse()
        return conn, resp.status, resp.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        conn.close()
        return http.client.HTTPConnection("127.0.0.1", port, timeout=60), 0, f"{type(e).__name__}: {e}"


def cookie_of(cookie, k):
    """The cookie of request k: `cookie` itself, or with a list (many signed-in visitors)
    its entries in turn."""
    return cookie[k % len(cookie)] if isinstance(cookie, (list, tuple)) else cookie


def probe(port, paths, cookie, check, limit=50):
    """The first `limit` of `paths` once each, one at a time (a closed loop: the warm-up, and
    what one request costs with nothing else running). Returns (ms, path, problem) slowest first."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for k, path in enumerate(paths[:limit]):
        t0 = time.perf_counter()
        conn, status, body = fetch(conn, port, path, cookie_of(cookie, k))
        out.append(((time.perf_counter() - t0) * 1000, path, check(path, status, body)[0]))
    conn.close()
    return sorted(out, reverse=True)


def open_loop(port, paths, cookie, check, rate, seconds, pid, server_core, postmaster=None):
    """GETs `paths` in turn, request k due at start + k / rate, for `seconds`. A request
    not yet sent GIVE_UP seconds after it was due is not sent: its latency counts as
    infinite (an overloaded server then shows as p99 > GIVE_UP, and the run still ends).
    `cookie` is one visitor's (None: anonymous) or a list whose entries take turns. The CPU
    time of the daemon `pid` is read before and after, and with `postmaster` that of
    PostgreSQL's processes too."""
    n = max(1, int(rate * seconds))
    jobs = queue.SimpleQueue()
    out = [None] * n

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while True:
                job = jobs.get()
                if job is None:
                    return
                k, due = job
                sent = time.perf_counter()
                if sent - due > GIVE_UP:
                    out[k] = (math.inf, None, sent - due, None, None)
                    continue
                path = paths[k % len(paths)]
                conn, status, body = fetch(conn, port, path, cookie_of(cookie, k))
                done = time.perf_counter()
                problem, linked = check(path, status, body)
                out[k] = (done - due, done - sent, sent - due, problem, linked)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    d0, c0, s0, p0 = cpu_seconds(pid), own_cpu_seconds(), server_busy(server_core), postgres_cpu(postmaster)
    start = time.perf_counter() + 0.05
    lag = 0.0
    for k in range(n):
        due = start + k / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        else:
            lag = max(lag, -wait)
        jobs.put((k, due))
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    d1, c1, s1, p1 = cpu_seconds(pid), own_cpu_seconds(), server_busy(server_core), postgres_cpu(postmaster)
    db_cpu = sum(v - p0.get(k, 0.0) for k, v in p1.items())
    lat = [r[0] * 1000 for r in out]
    sent = [r for r in out if r[1] is not None]
    service = [r[1] * 1000 for r in sent] or [math.inf]
    problems = [r[3] for r in sent if r[3]]
    return {"n": n, "answered": len(sent), "given_up": n - len(sent), "wall_s": wall, "rate": len(sent) / seconds,
            "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90), "p99_ms": percentile(lat, 99),
            "max_ms": max(lat), "service_p50_ms": percentile(service, 50), "service_p99_ms": percentile(service, 99),
            "queued_p99_ms": percentile([r[2] * 1000 for r in out], 99), "dispatch_lag_ms": lag * 1000,
            "errors": len(problems), "problems": sorted(set(problems))[:5],
            "linked_mean": sum(r[4] for r in sent) / max(1, len(sent)),
            "cpu_ms_per_request": (d1 - d0) * 1000 / max(1, len(sent)), "cpu_client": (c1 - c0) / wall,
            "server_cpu_ms_per_request": (d1 - d0 + db_cpu) * 1000 / max(1, len(sent)),
            "server_core_busy": (s1[0] - s0[0]) / max(1, s1[1] - s0[1]) if server_core is not None else None}


def shown(v):
    """Milliseconds for the progress lines; a request given up shows as over GIVE_UP."""
    return f"> {GIVE_UP:.0f} s" if math.isinf(v) else f"{v:.1f} ms"


def reset_hwm(pid, label="requests"):
    """Sets VmHWM back to the current VmRSS (Linux >= 4.0), so that it tells the load's peak."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        warn(f"{label}: could not reset VmHWM ({e}): it includes the log-ins")


# ----------------------------------------------------------------------------- PostgreSQL's processes

def _children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def postgres_cpu(postmaster):
    """{pid: CPU seconds} of the PostgreSQL server's processes ({} without `postmaster`)."""
    out = {}
    for pid in [postmaster, *_children(postmaster)] if postmaster else ():
        try:
            out[pid] = cpu_seconds(pid)
        except (OSError, ValueError, IndexError):  # gone meanwhile
            pass
    return out


def postmaster_of(db):
    """The pid of the PostgreSQL server that `db` is connected to (its backend's parent)."""
    backend_pid = int(db.rows("SELECT pg_backend_pid()")[0][0])
    with open(f"/proc/{backend_pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def set_affinity(postmaster, cpus):
    """Puts the PostgreSQL server (postmaster and every process it runs; new backends inherit
    it) on `cpus`."""
    for pid in [postmaster, *_children(postmaster)]:
        try:
            os.sched_setaffinity(pid, cpus)
        except OSError:  # gone meanwhile
            pass


# ----------------------------------------------------------------------------- one run

def run(binary, backend, base, cache_root, tickets=100_000, comments=1_000_000, rate=200.0, seconds=30.0,
        pg_bindir=None, idle_wait=3.0, keep=False):
    """One run on one backend; returns a dict of figures."""
    if shutil.which("taskset") is None:
        raise BenchError("requests: taskset (util-linux) is needed to pin the daemon to one core")
    label = f"requests/{backend.name}"
    server_core, client_core = cores()
    if server_core is None:
        warn("requests: one core only: the daemon and the load generator share it (figures are high)")
    lite = seed.sqlite(cache_root)
    cache, meta = ensure_seed(lite, binary, cache_root, tickets, comments)
    work = make_workdir(base, f"requests-{backend.name}")
    daemon = db = cleanup = postmaster = pg_cpus = None
    try:
        db_env, db, cleanup, took, how = load_database(lite, binary, backend, work, cache, meta, pg_bindir)
        check_counts(db, meta, label)
        r = {"tickets": tickets, "comments": comments, "rate": rate, "seconds": seconds, "load_s": took,
             "load_how": how, "seed_sqlite_s": meta.get("sqlite_s"), "seed_postgres_s": meta.get("postgres_s"),
             "viewers": {k: {"email": v["email"], "asked": v["asked"], "visible": len(v["visible"])}
                         for k, v in meta["viewers"].items()}}
        say(f"{label}: database {how} in {took:.1f} s")
        port = free_port()
        config = os.path.join(work, "maildesk.toml")
        with open(config, "w") as f:
            # Housekeeping would close resolved tickets older than a week and mail their
            # requesters: writes that are no part of what is measured.
            f.write(config_text(port) + "\n[desk]\nauto_close_days = 0\n")
        # Warnings, and the daemon's line saying it tidied the search index (wait_tidied).
        env = maildesk_env({**db_env, "MAILDESK_CONFIG": config, "MAILDESK_PORTAL__ENABLED": "true",
                            "MAILDESK_LOG": "warn,maildesk::daemon=info"})
        rng = random.Random(16)
        if backend.name == "postgres":  # the database's work counts as the server's
            postmaster = postmaster_of(db)
            pg_cpus = os.sched_getaffinity(postmaster)
            if server_core is not None:
                set_affinity(postmaster, {server_core})
        prefix = ("taskset", "-c", str(server_core)) if server_core is not None else ()
        daemon = Daemon(binary, work, env, os.path.join(work, "serve.log"), prefix=prefix)
        wait_ready(daemon, port)
        if backend.name == "sqlite":
            r["tidied"] = wait_tidied(daemon, os.path.join(work, "serve.log"), label)
        with pinned(client_core):
            cookies = {k: sign_in(lite, binary, work, env, db, backend, port, meta["viewers"][k]) for k in VIEWERS}
            time.sleep(idle_wait)
            daemon.check()
            r["rss_idle"] = proc_status(daemon.pid, "VmRSS")
            plans = {k: urls(meta, k, rng) for k in VIEWERS}
            checks = {k: checker(meta["viewers"][k]["visible"]) for k in VIEWERS}
            # Warm-up: up to 50 URLs of each page and viewer once, one at a time (also the
            # first check of every answer, and what one request costs alone).
            t0 = time.perf_counter()
            for page in PAGES:
                for k in VIEWERS:
                    alone = probe(port, plans[k][page], cookies[k], checks[k])
                    bad = [p for _, _, p in alone if p]
                    if bad:
                        raise BenchError(f"{label}: warm-up, {page} as the {k} contact: {bad[:3]}")
                    times = sorted(ms for ms, _, _ in alone)
                    r[f"alone_{page}_{k}"] = {"n": len(times), "p50_ms": percentile(times, 50),
                                              "max_ms": times[-1], "slowest": alone[:3]}
                    say(f"{label}: {page:6} as {k:8}, one at a time: {len(times)} URLs, median "
                        f"{percentile(times, 50):.1f} ms, slowest {alone[0][0]:.1f} ms ({alone[0][1]})")
                    daemon.check()
            say(f"{label}: warm-up in {time.perf_counter() - t0:.1f} s; measuring {rate:.0f} req/s for "
                f"{seconds:.0f} s per page and viewer")
            r["hwm_before"] = proc_status(daemon.pid, "VmHWM")  # the log-ins' argon2 hashes (19 MiB each)
            reset_hwm(daemon.pid)
            sampler = RssSampler(daemon.pid)
            sampler.start()
            ok = True
            for page in PAGES:
                for k in VIEWERS:
                    f = open_loop(port, plans[k][page], cookies[k], checks[k], rate, seconds, daemon.pid, server_core,
                                  postmaster)
                    f["urls"] = len(plans[k][page])
                    r[f"{page}_{k}"] = f
                    busy = f"server core {f['server_core_busy'] * 100:.0f} % busy, " if f["server_core_busy"] else ""
                    say(f"{label}: {page:6} as {k:8}: {f['n']} requests due ({f['urls']} URLs), {f['answered']} "
                        f"answered at {f['rate']:.1f}/s ({f['linked_mean']:.1f} tickets/page): p50 "
                        f"{shown(f['p50_ms'])}, p90 {shown(f['p90_ms'])}, p99 {shown(f['p99_ms'])}, max "
                        f"{shown(f['max_ms'])} (service p50 {shown(f['service_p50_ms'])} / p99 "
                        f"{shown(f['service_p99_ms'])}); CPU per request {f['server_cpu_ms_per_request']:.2f} ms "
                        f"(the daemon's {f['cpu_ms_per_request']:.2f} ms), "
                        f"{busy}client CPU {f['cpu_client'] * 100:.0f} %, dispatch lag max "
                        f"{f['dispatch_lag_ms']:.1f} ms")
                    if f["given_up"]:
                        warn(f"{label}: {page} as the {k} contact: the daemon did not keep up with {rate:.0f}/s: "
                             f"{f['given_up']} of {f['n']} requests were still unsent {GIVE_UP:.0f} s after they "
                             f"were due (counted as slower than that)")
                    if f["errors"]:
                        warn(f"{label}: {page} as the {k} contact: {f['errors']} bad answers, e.g. {f['problems']}")
                        ok = False
                    daemon.check()
            r["rss_peak"] = sampler.stop()
            r["hwm"] = proc_status(daemon.pid, "VmHWM")
            r["rss_after"] = proc_status(daemon.pid, "VmRSS")
            r["ok"] = ok
            errors = [line for _, line in log_lines(daemon.log_path) if " ERROR " in line]
            if errors:
                r["log_errors"] = len(errors)
                warn(f"{label}: the daemon logged {len(errors)} error(s), the first: {errors[0][:400]}")
        daemon.check()
        daemon.stop()
        daemon = None
        say(f"{label}: daemon memory: VmRSS {r['rss_idle']:.1f} MiB before the load, peak {r['rss_peak']:.1f} MiB "
            f"during it (sampled every 50 ms), VmHWM {r['hwm']:.1f} MiB")
        return r
    finally:
        if daemon:
            daemon.stop()
        if postmaster:
            set_affinity(postmaster, pg_cpus)
        if db:
            db.close()
        if cleanup:
            cleanup()
        if not keep:
            remove(work)
