"""kb: the knowledge base with 100,000 generated solutions (issue 17), the daemon on one core.

The solutions (scripts/bench_lib/kb_corpus.py) are generated once into a cache directory.
SQLite only: the index (tantivy, `<data_dir>/kb-index/`) is the same whatever the database;
the store only feeds it, and keeps the rate limits and the statistics the pages write.
On a fresh database, in this order:

  import   `maildesk kb import DIR` of all N files (one process, pinned to the daemon's core):
           its wall time, its peak RSS, and the database's size after.
  build    `maildesk kb search WORD` right after, no daemon running: that process takes the
           index's lock, so it is the writer, finds no index and builds it from the store
           (`desk::kb::catch_up`: 1,000 solutions a commit) before it answers. Its wall time
           is the build's (plus a process start and one search); then the size of
           `kb-index/` (du) and its segments.
  accounts A customers (default: enough that each stays under the suggestions' rate limit,
           desk::kb_pages::SUGGESTS_PER_MINUTE = 120 a minute per contact) made by `maildesk
           contact invite EMAIL --password`, the forced change of the generated password
           switched off (one UPDATE, as requests.py does).
  daemon   `maildesk serve` with the portal on, pinned to one core (`taskset -c`); the time
           until its log says `opened the knowledge base index` (a writer: it holds the lock),
           then VmRSS (and its anonymous / file-mapped parts) idle, before any request.
  search   GET /kb/search?q=... as an anonymous visitor (public solutions only): the mix of
           kb_corpus.SEARCH_MIX, its distinct URLs in turn. First each once, one at a time (the
           warm-up, a check of every answer, and what a search page costs alone, by kind);
           then an open loop of R requests per second for S seconds (default 100 and 30),
           requests.open_loop: latency from the time each request was due. p50/p99 are the
           whole page's: the search, the category list under the search box (one SQL
           query), the page's rendering. The issue's 10 ms is for the search; the page's p99
           is held to it (the search alone is not observable from outside the process);
           the category list's SQL is timed alone (Python's SQLite, read only) to tell the
           two apart.
  suggest  GET /kb/suggest?q=... as the A signed-in customers in turn (request k as customer
           k mod A), title prefixes as typed (2-4 words, a third cut inside the last word, as
           the form's script sends after 300 ms without a key), 500 URLs in turn, at R per s
           for S s; alone first (50), and `q=` empty alone (the session and the rate limit's
           write, no search: what a suggestion costs besides the search). Every answer must
           be a 200 (a 429 is a failed check).
  memory   the daemon's VmRSS sampled every 50 ms during both loads (peak), VmHWM after
           (reset after the log-ins, whose argon2 blocks would be in it), VmRSS after.

Checks: every answer a 200; no search page links to a solution visible to customers only;
each answer counted with the solutions it lists; no `suggestion rate limit reached` in the
daemon's log.
"""

import json
import math
import os
import re
import shutil
import statistics
import subprocess
import time

from . import kb_corpus
from . import requests_seed as seed
from .common import (BenchError, Daemon, RssSampler, log_lines, maildesk_env, make_workdir, percentile, proc_status,
                     remove, run_cli, say, warn)
from .portal import Client, config_text, cores, free_port, pinned, wait_ready
from .requests import GIVE_UP, open_loop, probe, reset_hwm, shown

SOLUTION_LINK = re.compile(r'href="/kb/(d\d{3})(?:/|%2F)(s\d{6})[?"]')  # the slug's "/" may be encoded
SUGGESTS_PER_MINUTE = 120  # desk::kb_pages::SUGGESTS_PER_MINUTE
OPENED = "opened the knowledge base index"


def accounts_for(rate):
    """Customers enough that R suggestions a second, taken in turn, keep each under 80 % of
    the rate limit in any minute."""
    return max(10, math.ceil(rate * 60 / (0.8 * SUGGESTS_PER_MINUTE)))


def timed_cli(binary, args, cwd, env, prefix=()):
    """A maildesk command: (stdout, wall seconds, peak RSS MiB (os.wait4's rusage), peak
    anonymous RSS MiB (RssAnon, sampled every 50 ms): the rest of the RSS is mapped files)."""
    out_path, err_path = os.path.join(cwd, "cli.out"), os.path.join(cwd, "cli.err")
    anon = 0.0
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen([*prefix, binary, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err)
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            anon = max(anon, rss_anon_mib(p.pid))
            time.sleep(0.05)
        took = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    if p.returncode != 0:
        with open(err_path, encoding="utf-8", errors="replace") as f:
            raise BenchError(f"maildesk {' '.join(args)} failed ({p.returncode}): {f.read().strip()[-2000:]}")
    return stdout, took, usage.ru_maxrss / 1024, anon


def rss_anon_mib(pid):
    """A running process's anonymous resident memory (RssAnon), MiB; 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def du_mib(path):
    """Disk usage of a directory tree (allocated blocks), MiB."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total / 1048576


def segments(index_dir):
    """(segments, documents incl. deleted, deleted) of the index's last commit."""
    try:
        with open(os.path.join(index_dir, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None, None, None
    segs = meta.get("segments", [])
    deleted = sum((s.get("deletes") or {}).get("num_deleted_docs", 0) for s in segs)
    return len(segs), sum(s.get("max_doc", 0) for s in segs), deleted


def wait_opened(daemon, log, label, timeout=120.0):
    """Seconds until the daemon's log says it opened the index (None: it did not)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        daemon.check()
        with open(log, "rb") as f:
            for raw in f:
                line = raw.decode("utf-8", "replace")
                if OPENED in line:
                    return time.perf_counter() - t0, line.strip()
        time.sleep(0.02)
    warn(f"{label}: the daemon's log did not say '{OPENED}' within {timeout:.0f} s")
    return None, None



def search_checker(customers_only, found):
    """check(path, status, body) for an anonymous visitor's search page; `found[path]` =
    solutions listed."""
    def check(path, status, body):
        if status != 200:
            return f"{path} answered {status}", 0
        linked = [f"{d}/{s}" for d, s in SOLUTION_LINK.findall(body)]
        found[path] = len(linked)
        hidden = [s for s in linked if s in customers_only]
        if hidden:
            return f"{path} shows {len(hidden)} solution(s) for customers only to a visitor, e.g. {hidden[0]}", 0
        return None, len(linked)
    return check


def suggest_check(path, status, body):
    if status != 200:
        return f"{path} answered {status}", 0
    return None, body.count("?from=suggestion")


def categories_sql_ms(lite, db_path, runs=20):
    """Median ms of the search page's category list, the daemon's SQL (store::kb_activity::
    solution_categories, for a visitor), in Python's SQLite on the same file, read only."""
    conn = lite.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    sql = ("SELECT s.category, COUNT(*) FROM solutions s WHERE s.category IS NOT NULL AND s.visibility IN (?) "
           "GROUP BY s.category ORDER BY s.category")
    times = []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            conn.execute(sql, ("public",)).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
        plan = " | ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("public",)).fetchall())
    finally:
        conn.close()
    return statistics.median(times), plan


def sign_in_all(port, emails, passwords, label):
    cookies = []
    for email, password in zip(emails, passwords):
        c = Client(port)
        try:
            c.begin("/login")
            token, _ = c.log_in(email, password, True)
            cookies.append(c.cookies(token))
        finally:
            c.close()
    say(f"{label}: {len(cookies)} customers signed in")
    return cookies


def figures_line(f):
    return (f"{f['n']} requests due, {f['answered']} answered at {f['rate']:.1f}/s ({f['linked_mean']:.1f} "
            f"solutions/answer): p50 {shown(f['p50_ms'])}, p90 {shown(f['p90_ms'])}, p99 {shown(f['p99_ms'])}, max "
            f"{shown(f['max_ms'])} (service p50 {shown(f['service_p50_ms'])} / p99 {shown(f['service_p99_ms'])}); "
            f"daemon CPU {f['cpu_ms_per_request']:.2f} ms a request"
            + (f", its core {f['server_core_busy'] * 100:.0f} % busy" if f["server_core_busy"] else "")
            + f"; client CPU {f['cpu_client'] * 100:.0f} %, dispatch lag max {f['dispatch_lag_ms']:.1f} ms")


def run(binary, backend, base, cache_root, requests_cache, solutions=100_000, rate=100.0, seconds=30.0,
        accounts=None, idle_wait=3.0, keep=False):
    """One run (SQLite); returns a dict of figures."""
    if shutil.which("taskset") is None:
        raise BenchError("kb: taskset (util-linux) is needed to pin the daemon to one core")
    label = f"kb/{backend.name}"
    server_core, client_core = cores()
    if server_core is None:
        warn("kb: one core only: the daemon and the load generator share it (figures are high)")
    prefix = ("taskset", "-c", str(server_core)) if server_core is not None else ()
    accounts = accounts or accounts_for(rate)
    corpus, meta = kb_corpus.ensure(cache_root, solutions)
    customers_only = set(meta["customers_only"])
    lite = seed.sqlite(requests_cache)  # a current SQLite (maildesk's schema needs >= 3.43)
    work = make_workdir(base, f"kb-{backend.name}")
    db_env, db, cleanup = backend.fresh(work)
    daemon = None
    try:
        port = free_port()
        config = os.path.join(work, "maildesk.toml")
        with open(config, "w") as f:
            f.write(config_text(port))
        env = maildesk_env({**db_env, "MAILDESK_CONFIG": config, "MAILDESK_PORTAL__ENABLED": "true",
                            "MAILDESK_LOG": "warn,maildesk::desk::kb=info"})
        r = {"solutions": solutions, "rate": rate, "seconds": seconds, "accounts": accounts,
             "corpus": {k: meta[k] for k in ("words", "bytes", "by", "key", "helpdesk_df")},
             "generated_s": meta.get("generated_s")}

        # Import, then the index's build by the first process that searches.
        out, r["import_s"], r["import_rss"], r["import_anon"] = timed_cli(binary, ["kb", "import", "--json", corpus],
                                                                         work, env, prefix)
        done = json.loads(out)
        if done.get("added") != solutions:
            raise BenchError(f"{label}: kb import added {done.get('added')} of {solutions}: {done}")
        r["db_mib"] = sum(os.path.getsize(p) for p in (db.path, db.path + "-wal") if os.path.exists(p)) / 1048576
        say(f"{label}: imported {solutions:,} solutions in {r['import_s']:.1f} s (peak RSS "
            f"{r['import_rss']:.0f} MiB, {r['import_anon']:.0f} of it anonymous); database {r['db_mib']:.0f} MiB")
        index_dir = os.path.join(work, "var", "kb-index")
        out, r["build_s"], r["build_rss"], r["build_anon"] = timed_cli(binary, ["kb", "search", "--json", "password"],
                                                                       work, env, prefix)
        if not json.loads(out):
            raise BenchError(f"{label}: `kb search password` after the build found nothing")
        r["index_mib"] = du_mib(index_dir)
        r["segments_built"], r["docs_built"], r["deleted_built"] = segments(index_dir)
        say(f"{label}: index built by `kb search` in {r['build_s']:.1f} s (peak RSS {r['build_rss']:.0f} MiB, "
            f"{r['build_anon']:.0f} of it anonymous): "
            f"{r['index_mib']:.1f} MiB on disk, {r['segments_built']} segments, {r['docs_built']:,} documents "
            f"({r['deleted_built']:,} deleted)")
        r["categories_sql_ms"], r["categories_plan"] = categories_sql_ms(lite, db.path)
        say(f"{label}: the search page's category list, its SQL alone: {r['categories_sql_ms']:.2f} ms "
            f"({r['categories_plan']})")

        # Customers, before the daemon runs (one argon2 hash each).
        t0 = time.perf_counter()
        emails = [f"kbcustomer{i:03d}@bench.example" for i in range(accounts)]
        passwords = [run_cli(binary, ["contact", "invite", e, "--password"], work, env).strip() for e in emails]
        conn = lite.connect(db.path, timeout=30)
        with conn:  # the bench's only write besides the import: no forced change of the password
            conn.execute("UPDATE accounts SET must_change = FALSE")
        conn.close()
        say(f"{label}: {accounts} customer accounts made in {time.perf_counter() - t0:.1f} s")

        log = os.path.join(work, "serve.log")
        daemon = Daemon(binary, work, env, log, prefix=prefix)
        r["open_s"], r["opened_line"] = wait_opened(daemon, log, label)
        wait_ready(daemon, port)
        time.sleep(idle_wait)
        daemon.check()
        pid = daemon.pid
        r["rss_idle"] = proc_status(pid, "VmRSS")
        r["rss_idle_anon"], r["rss_idle_file"] = proc_status(pid, "RssAnon"), proc_status(pid, "RssFile")
        say(f"{label}: the daemon opened the index {r['open_s']:.2f} s after its start; idle VmRSS "
            f"{r['rss_idle']:.1f} MiB ({r['rss_idle_anon']:.1f} anonymous, {r['rss_idle_file']:.1f} mapped files)")

        with pinned(client_core):
            cookies = sign_in_all(port, emails, passwords, label)
            found = {}
            check = search_checker(customers_only, found)
            kinds = {f"/kb/search?{qs}": (kind, n) for kind, qs, n in meta["search"]}
            search_urls = list(kinds)
            suggest_urls = [f"/kb/suggest?{qs}" for qs in meta["suggest"]]
            ok = True

            # Alone: every search URL once, one at a time; 50 suggestions; 30 empty ones.
            t0 = time.perf_counter()
            alone = probe(port, search_urls, None, check, limit=len(search_urls))
            bad = [p for _, _, p in alone if p]
            if bad:
                raise BenchError(f"{label}: warm-up of the search page: {bad[:3]}")
            r["search_alone"] = {"p50_ms": percentile([ms for ms, _, _ in alone], 50), "slowest": alone[:5],
                                 "by_kind": {}}
            for kind, _ in kb_corpus.SEARCH_MIX:
                mine = [(ms, p) for ms, p, _ in alone if kinds[p][0] == kind]
                if not mine:
                    continue
                times = [ms for ms, _ in mine]
                r["search_alone"]["by_kind"][kind] = {
                    "n": len(mine), "p50_ms": percentile(times, 50), "max_ms": max(times),
                    "empty": sum(1 for _, p in mine if found.get(p) == 0),
                    "matching_p50": percentile([kinds[p][1] for _, p in mine], 50)}
            say(f"{label}: search page alone, {len(alone)} URLs: median {r['search_alone']['p50_ms']:.1f} ms; by "
                "kind (median / slowest, pages with nothing found, median solutions with the words): " + "; ".join(
                    f"{k} {v['p50_ms']:.1f}/{v['max_ms']:.1f} ms, {v['empty']} of {v['n']} empty, "
                    f"{v['matching_p50']:,}" for k, v in r["search_alone"]["by_kind"].items()))
            alone = probe(port, suggest_urls, cookies, suggest_check, limit=50)
            bad = [p for _, _, p in alone if p]
            if bad:
                raise BenchError(f"{label}: warm-up of the suggestions: {bad[:3]}")
            r["suggest_alone"] = {"p50_ms": percentile([ms for ms, _, _ in alone], 50), "slowest": alone[:3]}
            empty = probe(port, ["/kb/suggest?q="] * 30, cookies[::-1], suggest_check, limit=30)
            bad = [p for _, _, p in empty if p]
            if bad:
                raise BenchError(f"{label}: GET /kb/suggest?q= (empty): {bad[:3]}")
            r["suggest_empty_alone"] = {"p50_ms": percentile([ms for ms, _, _ in empty], 50)}
            say(f"{label}: suggestions alone: median {r['suggest_alone']['p50_ms']:.1f} ms (slowest "
                f"{alone[0][0]:.1f} ms, {alone[0][1]}); with q empty (session and rate limit only): median "
                f"{r['suggest_empty_alone']['p50_ms']:.1f} ms; warm-up took {time.perf_counter() - t0:.1f} s")

            r["hwm_before"] = proc_status(pid, "VmHWM")  # the log-ins' argon2 (19 MiB each)
            reset_hwm(pid, "kb")
            sampler = RssSampler(pid)
            sampler.start()
            for page, urls, cookie, chk in (("search", search_urls, None, check),
                                            ("suggest", suggest_urls, cookies, suggest_check)):
                f = open_loop(port, urls, cookie, chk, rate, seconds, pid, server_core)
                f["urls"] = len(urls)
                r[page] = f
                say(f"{label}: {page}: {figures_line(f)}")
                if f["given_up"]:
                    warn(f"{label}: {page}: the daemon did not keep up with {rate:.0f}/s: {f['given_up']} of "
                         f"{f['n']} requests were still unsent {GIVE_UP:.0f} s after they were due")
                if f["errors"]:
                    warn(f"{label}: {page}: {f['errors']} bad answers, e.g. {f['problems']}")
                    ok = False
                daemon.check()
            r["rss_peak"] = sampler.stop()
            r["hwm"] = proc_status(pid, "VmHWM")
            r["rss_after"] = proc_status(pid, "VmRSS")
            r["rss_after_anon"], r["rss_after_file"] = proc_status(pid, "RssAnon"), proc_status(pid, "RssFile")
        lines = [line for _, line in log_lines(log)]
        limited = [line for line in lines if "rate limit reached" in line]
        if limited:
            warn(f"{label}: the daemon refused {len(limited)} suggestion(s) over the rate limit")
            ok = False
        errors = [line for line in lines if " ERROR " in line]
        if errors:
            r["log_errors"] = len(errors)
            warn(f"{label}: the daemon logged {len(errors)} error(s), the first: {errors[0][:400]}")
        r["ok"] = ok
        daemon.check()
        daemon.stop()
        daemon = None
        r["index_mib_after"] = du_mib(index_dir)
        r["segments_after"], _, _ = segments(index_dir)
        say(f"{label}: daemon memory: VmRSS {r['rss_idle']:.1f} MiB idle with the index open, peak "
            f"{r['rss_peak']:.1f} MiB during the loads (sampled every 50 ms), VmHWM {r['hwm']:.1f} MiB, after "
            f"{r['rss_after']:.1f} MiB ({r['rss_after_anon']:.1f} anonymous, {r['rss_after_file']:.1f} mapped "
            f"files); index {r['index_mib_after']:.1f} MiB, {r['segments_after']} segments after")
        return r
    finally:
        if daemon:
            daemon.stop()
        db.close()
        cleanup()
        if not keep:
            remove(work)
