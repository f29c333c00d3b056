"""portal: the web portal's accounts under load (issue 15), the daemon on one core.

`maildesk serve` with the portal on, pinned to one core (`taskset -c`); the load generator
(threads of this process, Python http.client, one keep-alive connection per client) pinned
to another. The config keeps the portal's defaults, argon2id m=19456 KiB, t=2, p=1 (checked
on the stored hashes), and changes only what would get in the way of a measurement: the
rate limits per client address and per account address and the caps on automatic mail are
raised (so that every request of a form queues its mail, known address or not), and the
captcha asks 4 bits of work instead of 20 (its solving is not timed).

On a fresh database, in this order:
  accounts  max(A, P) accounts made with `maildesk contact invite EMAIL --password` (before the
            daemon starts); each logs in once with its generated password and changes it
            (untimed), so that later log-ins land on the home page; A of them log in below.
  idle      VmRSS and VmHWM of the daemon before any log-in.
  sessions  N log-ins over the A accounts, C clients at once; then one request with each
            session cookie (GET /, which must show that account's home page); VmRSS and
            VmHWM after, and VmRSS again `settle` seconds later (the daemon's housekeeping
            hands freed memory back with malloc_trim once a minute). argon2 takes 19 MiB per
            hash in progress: the peak follows how many run at once (C, unless the daemon
            queues them), and what glibc keeps of those buffers afterwards shows in VmRSS.
  one       log-ins one at a time: the latency of one, about the cost of one hash.
  login     C clients logging in for S seconds: log-ins/s, latency p50/p95, and the CPU of
            the daemon and of the load generator (is the client the bottleneck?).
  wrong     the same with a wrong password for existing accounts, then with unknown
            addresses (their password is hashed all the same).
  forms     POST /password/forgot, then POST /register (direct sign-up; its captcha's proof
            of work solved here, portal.captcha_bits = 4, untimed) one at a time, for P
            addresses with an account and P unknown ones, each asked once, alternately
            (random order within each pair): median and p90 of each. Both must answer the
            same page and queue one mail each (checked in the outbox).

A response that is not what the portal must answer stops the run (BenchError); the
totals (sessions stored, mails queued) are checked at the end and a mismatch is a warning.
"""

import hashlib
import http.client
import os
import random
import re
import shutil
import socket
import threading
import time
import urllib.parse
from collections import namedtuple
from contextlib import contextmanager

from .common import (BenchError, Daemon, maildesk_env, make_workdir, median, percentile, proc_status, remove,
                     run_cli, say, warn)

ARGON2_DEFAULT = "$argon2id$v=19$m=19456,t=2,p=1$"
WRONG = "Wrong address or password"
DONE = "Check your mail"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')

Reply = namedtuple("Reply", "status location cookies body seconds")


def config_text(port):
    return f"""# scripts/bench --portal: the portal's defaults but for what is in the way of measuring
[portal]
enabled = true
listen = "127.0.0.1:{port}"
base_url = "http://127.0.0.1:{port}"
attempts_per_ip = 1000000
attempts_per_address = 1000000
captcha_bits = 4

[outbox]
max_automatic_per_hour = 1000000
max_automatic_per_recipient_per_hour = 1000000
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores():
    """(core for the daemon, core for the load generator), or (None, None) on one core."""
    c = sorted(os.sched_getaffinity(0))
    return (c[0], c[1]) if len(c) >= 2 else (None, None)


@contextmanager
def pinned(core):
    """This thread (and the threads it starts meanwhile) on `core`."""
    if core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


class Client:
    """One browser: a keep-alive connection, its visitor cookie and the CSRF token of its forms."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.visitor = None
        self.csrf = None

    def close(self):
        self.conn.close()

    def request(self, method, path, form=None, cookie=None):
        headers = {}
        if cookie:
            headers["Cookie"] = cookie
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()  # bytes: sent with the headers in one write
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            raise BenchError(f"portal: {method} {path}: {type(e).__name__}: {e}") from None
        return Reply(resp.status, resp.getheader("Location"), resp.msg.get_all("Set-Cookie") or [], data,
                     time.perf_counter() - t0)

    def begin(self, path):
        """Opens form page `path` as a new visitor: keeps its visitor cookie and CSRF token."""
        r = self.request("GET", path)
        visitor = _cookie(r, "maildesk-visitor")
        m = CSRF.search(r.body)
        if r.status != 200 or not visitor or not m:
            raise BenchError(f"portal: GET {path} answered {r.status} without a visitor cookie or a CSRF field")
        self.visitor, self.csrf = visitor, m.group(1)

    def cookies(self, session=None):
        """What a browser sends: its visitor cookie, and the session's when signed in (a form
        is refused without the visitor cookie even when its token is bound to the session)."""
        jar = [f"maildesk-visitor={self.visitor}"] if self.visitor else []
        return "; ".join(jar + ([f"maildesk-session={session}"] if session else []))

    def post(self, path, form, session=None):
        return self.request("POST", path, {"csrf": self.csrf, **form}, self.cookies(session))

    def log_in(self, email, password, expect, to="/?done=login"):
        """POST /login; `expect` True: must sign in (303 to `to`, a session cookie), returns
        (token, seconds); False: must be refused (200, "Wrong address or password")."""
        r = self.post("/login", {"email": email, "password": password})
        token = _cookie(r, "maildesk-session")
        if r.status == 303 and token and expect and r.location == to:
            return token, r.seconds
        if r.status == 200 and WRONG in r.body and not token and not expect:
            return None, r.seconds
        raise BenchError(f"portal: log-in of {email} ({'right' if expect else 'wrong'} password) answered "
                         f"{r.status}, Location {r.location}, session cookie {'set' if token else 'none'}: "
                         f"{_text(r.body)}")


def _threads(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    except (OSError, StopIteration):
        return None


def _cookie(reply, name):
    for c in reply.cookies:
        m = re.match(re.escape(name) + r"=([0-9a-f]{64}(?:\.[0-9]{1,7})?)(;|$)", c)
        if m:
            return m.group(1)
    return None


def _text(body):
    m = re.search(r"<main[^>]*>(.*?)</main>", body, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1) if m else body)).strip()[:300]


def load(clients, work, pid, count=None, seconds=None):
    """work(client, k) on one thread per client, for k = 0, 1, ... until `count` calls in all
    or `seconds` have passed (calls in flight then finish). Returns (results in k order,
    wall seconds, daemon CPU seconds, our CPU seconds)."""
    lock = threading.Lock()
    state = {"next": 0}
    out, errors = {}, []
    t0 = time.perf_counter()
    deadline = t0 + seconds if seconds is not None else None

    def take():
        with lock:
            k = state["next"]
            if (count is not None and k >= count) or (deadline is not None and time.perf_counter() >= deadline):
                return None
            state["next"] = k + 1
            return k

    def worker(client):
        try:
            while not errors:
                k = take()
                if k is None:
                    return
                res = work(client, k)
                with lock:
                    out[k] = res
        except BaseException as e:  # noqa: BLE001 -- handed to the caller
            errors.append(e)

    d0, c0 = cpu_seconds(pid), own_cpu_seconds()
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    d1, c1 = cpu_seconds(pid), own_cpu_seconds()
    if errors:
        raise errors[0]
    return [out[k] for k in sorted(out)], wall, d1 - d0, c1 - c0


def rate_figures(results, wall, cpu_daemon, cpu_client):
    lat = [s for _, s in results]
    return {"n": len(lat), "wall_s": wall, "rate": len(lat) / wall, "p50_ms": percentile(lat, 50) * 1000,
            "p95_ms": percentile(lat, 95) * 1000, "max_ms": max(lat) * 1000,
            "cpu_daemon": cpu_daemon / wall, "cpu_client": cpu_client / wall,
            "cpu_ms_per_call": cpu_daemon * 1000 / len(lat)}


def wait_ready(daemon, port, timeout=30.0):
    t0 = time.perf_counter()
    while True:
        daemon.check()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise BenchError(f"portal: no answer on 127.0.0.1:{port}/healthz after {timeout:.0f} s; "
                             f"log {daemon.log_path}")
        time.sleep(0.05)


def solve(challenge):
    """The captcha's proof of work, as its script does it: the smallest decimal nonce such that
    SHA-256(challenge ":" nonce) starts with `bits` zero bits (the challenge's third field)."""
    bits = int(challenge.split(".")[2])
    n = 0
    while int.from_bytes(hashlib.sha256(f"{challenge}:{n}".encode()).digest(), "big") >> (256 - bits):
        n += 1
    return str(n)


def probe(c, label, form, known, unknown, rng):
    """POST /password/forgot or /register once for each address, a known and an unknown one
    in random order in each pair; each must get the same "Check your mail" page. Returns
    medians and p90s (ms)."""
    times = {"known": [], "unknown": []}
    for pair in zip(known, unknown):
        pair = list(pair)
        rng.shuffle(pair)
        for kind, email in pair:
            if form == "forgot":
                path, fields = "/password/forgot", {"email": email}
            else:  # a new challenge for each POST (untimed), solved as the page's script would
                path = "/register"
                page = c.request("GET", path, cookie=c.cookies())
                m = re.search(r'name="captcha" value="([^"]+)"', page.body)
                if page.status != 200 or not m:
                    raise BenchError(f"{label}: GET /register answered {page.status} without a captcha")
                fields = {"name": "Bench Newcomer", "email": email, "captcha": m.group(1),
                          "captcha_nonce": solve(m.group(1))}
            f = c.post(path, fields)
            if f.status != 200 or DONE not in f.body:
                raise BenchError(f"{label}: POST {path} for {email} answered {f.status}: {_text(f.body)}")
            times[kind].append(f.seconds * 1000)
    out = {"n": len(times["known"])}
    for kind, v in times.items():
        out[f"{kind}_p50_ms"] = median(v)
        out[f"{kind}_p90_ms"] = percentile(v, 90)
    out["diff_p50_ms"] = out["known_p50_ms"] - out["unknown_p50_ms"]
    out["diff_p90_ms"] = out["known_p90_ms"] - out["unknown_p90_ms"]
    return out


def run(binary, backend, base, clients=4, sessions=1000, accounts=50, seconds=15.0, one=30, probes=200,
        settle=61.0, idle_wait=3.0, keep=False, seed=15):
    """One portal run on a fresh database; returns a dict of figures."""
    if shutil.which("taskset") is None:
        raise BenchError("portal: taskset (util-linux) is needed to pin the daemon to one core")
    server_core, client_core = cores()
    if server_core is None:
        warn("portal: one core only: the daemon and the load generator share it (figures are low)")
    label = f"portal/{backend.name}"
    work = make_workdir(base, f"portal-{backend.name}")
    db_env, db, cleanup = backend.fresh(work)
    port = free_port()
    config = os.path.join(work, "maildesk.toml")
    with open(config, "w") as f:
        f.write(config_text(port))
    env = maildesk_env({**db_env, "MAILDESK_CONFIG": config, "MAILDESK_PORTAL__ENABLED": "true"})
    rng = random.Random(seed)
    daemon = None
    opened = []
    ok = True
    try:
        # Accounts, by the command line, before the daemon runs (one hash each).
        t0 = time.perf_counter()
        all_emails = [f"customer{i:04d}@bench.example" for i in range(max(accounts, probes))]
        emails = all_emails[:accounts]  # those that log in; the rest only have to exist
        generated = []
        for email in all_emails:
            out = run_cli(binary, ["contact", "invite", email, "--password"], work, env).strip()
            if not re.fullmatch(r"\S{12,}", out):
                raise BenchError(f"{label}: `contact invite {email} --password` printed {out[:80]!r}, not a password")
            generated.append(out)
        hashes = [h for (h,) in db.rows("SELECT password_hash FROM accounts")]
        if len(hashes) != len(all_emails) or not all(h.startswith(ARGON2_DEFAULT) for h in hashes):
            raise BenchError(f"{label}: the stored hashes are not {ARGON2_DEFAULT}...: "
                             f"{sorted({h.rsplit('$', 2)[0] for h in hashes})}")
        say(f"{label}: {len(all_emails)} accounts made by `contact invite --password` in "
            f"{time.perf_counter() - t0:.1f} s; hashes {ARGON2_DEFAULT}…")

        prefix = ("taskset", "-c", str(server_core)) if server_core is not None else ()
        daemon = Daemon(binary, work, env, os.path.join(work, "serve.log"), prefix=prefix)
        wait_ready(daemon, port)
        time.sleep(idle_wait)
        daemon.check()
        r = {"accounts": accounts, "sessions": sessions, "clients": clients, "seconds": seconds,
             "server_core": server_core, "client_core": client_core,
             "rss_idle": proc_status(daemon.pid, "VmRSS"), "hwm_idle": proc_status(daemon.pid, "VmHWM")}
        pid = daemon.pid

        with pinned(client_core):
            # Each account: log in with the generated password (it must be changed first), change it.
            passwords = []
            for i, (email, gen) in enumerate(zip(emails, generated)):
                c = Client(port)
                c.begin("/login")
                token, _ = c.log_in(email, gen, True, to="/password/change")
                page = c.request("GET", "/password/change", cookie=c.cookies(token))
                m = CSRF.search(page.body)
                if page.status != 200 or not m:
                    raise BenchError(f"{label}: GET /password/change signed in answered {page.status}")
                c.csrf = m.group(1)
                new = f"Bench-{i:04d}-portal-pass"
                done = c.post("/password/change", {"current": gen, "new": new}, session=token)
                if done.status != 303 or not (done.location or "").startswith("/password/change?done=password"):
                    raise BenchError(f"{label}: changing the password of {email} answered {done.status}, "
                                     f"Location {done.location}: {_text(done.body)}")
                passwords.append(new)
                c.close()

            # N sessions, C at once, then one request with each cookie.
            pool = [Client(port) for _ in range(clients)]
            opened += pool
            for c in pool:
                c.begin("/login")

            def sign_in(c, k):
                return c.log_in(emails[k % accounts], passwords[k % accounts], True)
            res, wall, _, _ = load(pool, sign_in, pid, count=sessions)
            tokens = [t for t, _ in res]
            if len(set(tokens)) != sessions:
                raise BenchError(f"{label}: {sessions} log-ins gave {len(set(tokens))} distinct sessions")
            say(f"{label}: {sessions} sessions by {clients} clients in {wall:.1f} s ({sessions / wall:.1f}/s)")

            def use(c, k):
                g = c.request("GET", "/", cookie=c.cookies(tokens[k]))
                if g.status != 200 or emails[k % accounts] not in g.body or 'action="/logout"' not in g.body:
                    raise BenchError(f"{label}: GET / with session {k} answered {g.status} without the home page "
                                     f"of {emails[k % accounts]}: {_text(g.body)}")
                return None, g.seconds
            res, _, _, _ = load(pool, use, pid, count=sessions)
            r["get_home_p50_ms"] = percentile([s for _, s in res], 50) * 1000
            r["rss_sessions"] = proc_status(pid, "VmRSS")
            r["hwm_sessions"] = proc_status(pid, "VmHWM")
            r["threads_sessions"] = _threads(pid)
            if settle > 0:  # housekeeping hands freed memory back (malloc_trim) once a minute
                time.sleep(settle)
                daemon.check()
                r["rss_settled"] = proc_status(pid, "VmRSS")
                for c in pool:  # idle that long, the server may have closed them: open anew
                    c.close()
            stored = db.scalar("SELECT count(*) FROM sessions")
            if stored != sessions + accounts:  # the password change kept its own session
                warn(f"{label}: {stored} sessions stored, expected {sessions + accounts}")
                ok = False
            r["sessions_stored"] = stored

            # One at a time: about one hash each.
            c = Client(port)
            opened.append(c)
            c.begin("/login")
            lat = [c.log_in(emails[k % accounts], passwords[k % accounts], True)[1] for k in range(one)]
            r["one_p50_ms"] = percentile(lat, 50) * 1000
            r["one_min_ms"] = min(lat) * 1000

            # C clients for S seconds: right passwords, wrong ones, unknown addresses.
            def right(c, k):
                return c.log_in(emails[k % accounts], passwords[k % accounts], True)

            def wrong(c, k):
                return c.log_in(emails[k % accounts], f"not-the-password-{k}", False)

            def unknown(c, k):
                return c.log_in(f"nobody{k:06d}@unknown.example", f"not-the-password-{k}", False)
            for name, job in (("login", right), ("wrong", wrong), ("unknown", unknown)):
                r[name] = rate_figures(*load(pool, job, pid, seconds=seconds))

            # The forms that must not tell whether an address has an account: one at a time,
            # each address asked once (as one probing a list would), known and unknown alternately.
            want = {}
            for form in ("forgot", "register"):
                c = Client(port)
                opened.append(c)
                page = "/password/forgot" if form == "forgot" else "/register"
                if form == "register":
                    first = c.request("GET", page)
                    r["register_status"] = first.status
                    if first.status == 404:
                        say(f"{label}: this build has no /register: only /password/forgot is measured")
                        continue
                c.begin(page)
                known = [("known", e) for e in all_emails[:probes]]
                unknown = [("unknown", f"nobody-{form}{i:05d}@unknown.example") for i in range(probes)]
                p = probe(c, label, form, known, unknown, rng)
                r.update({f"{form}_{k}": v for k, v in p.items()})
                want.update({"forgot": {"password-reset": probes, "account-attempt": probes},
                             "register": {"account-exists": probes, "verify-address": probes}}[form])
            queued = {k: int(v) for k, v in db.rows("SELECT kind, count(*) FROM outbox GROUP BY kind")}
            if {k: queued.get(k, 0) for k in want} != want:
                warn(f"{label}: mails queued by the forms: {queued}, expected {want} (one each)")
                ok = False
            r["queued"] = queued
        daemon.check()
        daemon.stop()
        daemon = None
        r["ok"] = ok
        return r
    finally:
        for c in opened:
            c.close()
        if daemon:
            daemon.stop()
        db.close()
        cleanup()
        if not keep:
            remove(work)
