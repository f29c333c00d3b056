"""Shared pieces of scripts/bench: statistics, processes, memory, databases, servers."""

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

from . import pgwire

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ----------------------------------------------------------------------------- output

def say(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


WARNINGS = []


def warn(msg):
    """A problem worth seeing in the final report (a failed check, a missing server)."""
    WARNINGS.append(msg)
    print(f"[{time.strftime('%H:%M:%S')}] WARNING: {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- statistics

def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


# ----------------------------------------------------------------------------- memory

def proc_status(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in MiB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class RssSampler(threading.Thread):
    """Samples VmRSS of one process every `interval` seconds; keeps the peak."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self.samples = 0
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            rss = proc_status(self.pid, "VmRSS")
            if rss is not None:
                self.peak = max(self.peak, rss)
                self.samples += 1
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join(timeout=2)
        return self.peak


# ----------------------------------------------------------------------------- maildesk processes

def maildesk_env(extra=None):
    """The environment of a maildesk process: ours, without any MAILDESK_* of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILDESK_")}
    env.update({"MAILDESK_LOG": "warn", "MAILDESK_LOG_FORMAT": "text", "MAILDESK_PORTAL__ENABLED": "false", "NO_COLOR": "1",
                "RUST_BACKTRACE": "1"})
    env.update(extra or {})
    return env


_DAEMONS = set()


class Daemon:
    """`maildesk serve` in `cwd`, stderr to `log`. Always stopped by stop() or stop_all().
    `prefix` goes before the binary, such as `taskset -c 0` (which execs it: same pid)."""

    def __init__(self, binary, cwd, env, log, prefix=()):
        self.log_path = log
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([*prefix, binary, "serve"], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        self.pid = self.proc.pid
        _DAEMONS.add(self)

    def alive(self):
        return self.proc.poll() is None

    def check(self):
        if not self.alive():
            raise BenchError(f"maildesk serve exited with status {self.proc.returncode}; "
                             f"log: {self.log_path}\n{tail(self.log_path)}")

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                warn(f"maildesk serve (pid {self.pid}) ignored SIGTERM for 30 s; killing it")
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        _DAEMONS.discard(self)


def stop_all_daemons():
    for d in list(_DAEMONS):
        try:
            d.stop()
        except Exception as e:  # noqa: BLE001 -- teardown goes on
            print(f"stopping daemon {d.pid}: {e}", file=sys.stderr)


class BenchError(Exception):
    pass


def tail(path, lines=15):
    try:
        with open(path, "rb") as f:
            data = f.read()[-8000:].decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])
    except OSError:
        return ""


def run_cli(binary, args, cwd, env, check=True):
    """A maildesk command (ticket list, ...); returns its stdout."""
    p = subprocess.run([binary, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise BenchError(f"maildesk {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return p.stdout


# ----------------------------------------------------------------------------- log timestamps

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z")


def log_lines(path):
    """(unix time, line without colours) for every timestamped line of a tracing log."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            line = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip("\n")
            m = _STAMP.match(line)
            if not m:
                continue
            stamp = m.group(1)
            if "." in stamp:
                head, frac = stamp.split(".")
                stamp = f"{head}.{(frac + '000000')[:6]}"
                fmt = "%Y-%m-%dT%H:%M:%S.%f"
            else:
                fmt = "%Y-%m-%dT%H:%M:%S"
            t = datetime.strptime(stamp, fmt).replace(tzinfo=timezone.utc).timestamp()
            out.append((t, line))
    return out


# ----------------------------------------------------------------------------- databases

class Database:
    """Read access to one maildesk database, for checks and polling."""

    def close(self):
        pass

    def scalar(self, sql):
        rows = self.rows(sql)
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0


class SqliteDb(Database):
    def __init__(self, path):
        self.path = path
        self.conn = None

    def rows(self, sql):
        if self.conn is None:
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                        isolation_level=None, check_same_thread=False)
        return self.conn.execute(sql).fetchall()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class PgDb(Database):
    def __init__(self, host, port, name):
        self.args = (host, port, "postgres", name)
        self.conn = None

    def rows(self, sql):
        if self.conn is None:
            self.conn = pgwire.Connection(*self.args)
        return self.conn.query(sql)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Backend:
    """Where a run's tickets go: a fresh database per run."""

    name = ""
    label = ""

    def fresh(self, work):
        """(environment for maildesk, Database, cleanup function) of a new empty database."""
        raise NotImplementedError


class SqliteBackend(Backend):
    name, label = "sqlite", "SQLite"

    def fresh(self, work):
        # maildesk's default: sqlite://<data_dir>/maildesk.db, data_dir ./var under `work`
        return {}, SqliteDb(os.path.join(work, "var", "maildesk.db")), lambda: None


class PgBackend(Backend):
    name, label = "postgres", "PostgreSQL"

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.count = 0
        self.admin = pgwire.Connection(host, port)

    def fresh(self, work):
        self.count += 1
        db = f"bench_{os.getpid()}_{self.count}"
        self.admin.query(f"DROP DATABASE IF EXISTS {db}")
        self.admin.query(f"CREATE DATABASE {db}")
        url = f"postgres://postgres@{self.host}:{self.port}/{db}"
        handle = PgDb(self.host, self.port, db)

        def cleanup():
            handle.close()
            try:
                self.admin.query(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            except pgwire.PgError as e:
                warn(f"could not drop {db}: {e}")
        return {"MAILDESK_DATABASE__URL": url}, handle, cleanup

    def settings(self):
        return {k: self.admin.query(f"SHOW {k}")[0][0]
                for k in ("server_version", "fsync", "synchronous_commit", "full_page_writes")}

    def make_durable(self):
        """scripts/lib/postgres.sh runs without fsync (tests); a benchmark wants stock durability."""
        for setting in ("fsync = on", "synchronous_commit = on", "full_page_writes = on"):
            self.admin.query(f"ALTER SYSTEM SET {setting}")
        self.admin.query("SELECT pg_reload_conf()")
        time.sleep(0.5)


# ----------------------------------------------------------------------------- test servers

class Servers:
    """scripts/bench_lib/servers.sh as a child: starts the scripts/lib servers, stops them
    when we close its stdin (also when we die)."""

    def __init__(self, base, names):
        self.dir = os.path.join(base, "servers")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(base, 0o711)
        self.log_path = os.path.join(base, "servers.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["bash", os.path.join(ROOT, "scripts/bench_lib/servers.sh"), self.dir, *names],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.env = {}
        for raw in self.proc.stdout:
            line = raw.decode().rstrip("\n")
            if line == "READY":
                break
            if "=" in line:
                k, v = line.split("=", 1)
                self.env[k] = v
        else:
            self.proc.wait()
            raise BenchError(f"test servers did not start ({' '.join(names)}); log {self.log_path}:\n"
                             f"{tail(self.log_path, 25)}")

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(timeout=30)
        self.log.close()


# ----------------------------------------------------------------------------- files

def count_files(path, suffix=None):
    n = 0
    with os.scandir(path) as it:
        for e in it:
            if suffix is None or e.name.endswith(suffix):
                n += 1
    return n


def make_workdir(base, label):
    path = tempfile.mkdtemp(prefix=f"{label}-", dir=base)
    return path


def remove(path):
    shutil.rmtree(path, ignore_errors=True)


def header(raw, name):
    """The first header `name` of a message (unfolded), or None."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    m = re.search(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.M | re.I)
    if not m:
        return None
    return re.sub(rb"\r?\n[ \t]+", b" ", m.group(1)).decode("utf-8", "replace").strip()


def bare_id(msgid):
    return msgid.strip().strip("<>") if msgid else msgid
