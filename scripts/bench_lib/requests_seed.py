"""The data set of the portal's request pages benchmark (issue 16), and its cache.

A helpdesk two years into its life: organisations, their contacts, tickets and comments,
written with SQL straight into the tables of a schema that `maildesk` itself made (its
migrations ran first), so that the triggers and generated columns of the schema do their
work as on any insert. Deterministic: the same counts and seed give the same rows.

Shape, for T tickets and C comments (the bench's default: 100,000 and 1,000,000):
  organisations  T / 50; organisation 1 has 5 % of the tickets (5,000 of 100,000), the
                 others a Zipf share (s = 0.7) of the rest.
  contacts       T / 5 in all, each in the organisation of its domain (orgNNNN.example),
                 2.5 % of them in organisation 1, the rest by the organisation's share;
                 the first contact of one organisation in four is its primary contact.
                 Plus 20 staff members (desk.example, no organisation; in `staff`).
  tickets        created evenly over the two years before seeding; the requester is a
                 contact of the ticket's organisation, chosen with a Zipf weight (a few
                 busy people, many occasional ones). Status by age: older than 30 days
                 mostly closed (a few cancelled, some left open), the last 30 days mixed.
                 Priority low/medium/high/urgent 25/50/20/5 %; department support,
                 billing or sales; an assignee for most tickets past `open`.
  participants   the requester of every ticket (role `requester`), and 1-2 colleagues as
                 `cc` on one ticket in ten.
  comments       at least one per ticket (the requester's description), the rest shared
                 out by an exponential weight per ticket (mean C / T, the busiest ~10× that),
                 in time order over the ticket's life; replies by staff and customers, ~15 %
                 internal notes by staff. Bodies are 2-4 sentences from a vocabulary of
                 ~5,300 words: 55 filler words, 200 helpdesk words (Zipf), 3,000 made-up words
                 with a Zipf tail (s = 1.1), and 2,000 rare made-up words, one in 1 % of the
                 comments. A public reply's body_text quotes a line of the description.
  attachments    one comment in 200 has a file (metadata only: the pages list them).

The two viewers are picked from the data: the standard contact is the one outside
organisation 1 with a requested-ticket count closest to 20; the primary contact is
organisation 1's. `meta.json` beside the database lists each viewer's visible tickets
and the words worth searching for, chosen from their tickets and from elsewhere.

Cache: one directory per key under the cache root, the key naming the schema (the last
migration and a hash of every migration of both dialects), this file's hash and the counts;
seeding a new key deletes the other keys' directories of the same counts.
"""

import bisect
import hashlib
import importlib
import itertools
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time

from .common import ROOT, BenchError, run_cli, say, warn
from .corpus import FIRST, LAST

SEED = 16
PYSQLITE = "pysqlite3-binary"
DAY = 86400
STAFF = 20
DEPARTMENTS = (("support", 70), ("billing", 20), ("sales", 10))
PRIORITIES = (("low", 25), ("medium", 50), ("high", 20), ("urgent", 5))
OLD_STATUS = (("closed", 86), ("cancelled", 5), ("resolved", 1), ("open", 4), ("in-progress", 2),
              ("waiting-on-customer", 1), ("waiting-on-vendor", 1))
NEW_STATUS = (("open", 28), ("in-progress", 24), ("waiting-on-customer", 14), ("waiting-on-vendor", 5),
              ("resolved", 15), ("closed", 11), ("cancelled", 3))
ACTIVE = {"open", "in-progress", "waiting-on-customer", "waiting-on-vendor"}

FILLER = ("the a to and is we our it on in for with not can please after when this that be have you i of at "
          "from but was are also still now again all some any there since before if so as by an my your "
          "could would will no yes today yesterday thanks").split()
COMMON = ("error issue problem login password account email invoice payment order printer server update "
          "install license backup network vpn laptop screen report export import user access permission "
          "portal app mobile browser chrome firefox windows mac linux database sync calendar meeting "
          "phone call message mailbox attachment file folder share drive cloud storage quota upgrade "
          "downgrade subscription plan billing refund credit card bank transfer receipt tax vat address "
          "shipping delivery tracking package warehouse stock product price discount coupon contract "
          "renewal cancel cancellation trial demo training documentation manual guide setup "
          "configuration settings profile avatar notification alert reminder schedule timeout slow "
          "crash freeze bug feature request integration api token key certificate ssl domain dns "
          "website page link button form field dropdown search filter sort list table chart dashboard "
          "analytics metrics log logs monitor uptime outage maintenance migration release version "
          "patch hotfix rollback deploy staging production test environment keyboard mouse monitor "
          "headset camera microphone audio video wifi router switch firewall proxy antivirus malware "
          "phishing spam blocked locked reset unlock verify verification code sms authenticator "
          "device tablet charger battery cable adapter dock scanner toner paper tray jam queue "
          "spooler driver firmware bios disk memory cpu performance latency bandwidth upload "
          "download").split()
COMMON = list(dict.fromkeys(COMMON))  # once each, in order
ONSETS = ("b br c ch cl d dr f fl fr g gl gr h j k kl l m n p pl pr qu r s sc sh sk sl sm sn sp st "
          "str t th tr v w wh z").split()
NUCLEI = "a e i o u ai ea ee ie oa ou y".split()
CODAS = ["", "", "", "n", "r", "l", "s", "x", "m", "nd", "st", "rk", "th", "ng"]
ORG_WORDS = ("Acme Globex Initech Umbrella Hooli Contoso Stark Wayne Wonka Tyrell Cyberdyne Soylent "
             "Vandelay Duff Gringotts Oscorp Aperture Monarch Nakatomi Pied").split()
ORG_KINDS = "Ltd GmbH Inc SA BV AB Oy SRL".split()
FILES = (("screenshot.png", "image/png"), ("invoice.pdf", "application/pdf"), ("logs.zip", "application/zip"),
         ("report.csv", "text/csv"), ("photo.jpg", "image/jpeg"), ("notes.txt", "text/plain"))


# ----------------------------------------------------------------------------- cache

def schema_key():
    """(last migration, hash of every migration of both dialects and of this file)."""
    h = hashlib.sha256()
    last = "none"
    for dialect in ("sqlite", "postgres"):
        d = os.path.join(ROOT, "migrations", dialect)
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                h.update(f"{dialect}/{name}\0".encode() + f.read())
            last = max(last, name.split("_", 1)[0]) if last != "none" else name.split("_", 1)[0]
    with open(__file__, "rb") as f:
        h.update(f.read())
    return last, h.hexdigest()[:10]


def cache_dir(root, tickets, comments):
    last, digest = schema_key()
    return os.path.join(root, f"schema{last}-{digest}-t{tickets}-c{comments}")


def clear_stale(root, keep, tickets, comments):
    """Removes the other keys' directories seeded with the same counts (disk is tight)."""
    suffix = f"-t{tickets}-c{comments}"
    if not os.path.isdir(root):
        return
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if (name.endswith(suffix) or name.endswith(suffix + ".partial")) and path != keep:
            say(f"requests: removing the stale seed {path}")
            shutil.rmtree(path, ignore_errors=True)


def sqlite(cache_root):
    """The DB-API module to write maildesk's SQLite files with. Python's own sqlite3 links
    the system's SQLite (3.40 on Debian 12), older than the one maildesk bundles, and refuses
    a schema that uses something newer (migration 0017's FTS5 `contentless_delete` needs
    3.43). pysqlite3-binary (PyPI) bundles a current SQLite: it is installed under the
    cache root on first use (`pip install --target`), nothing system-wide."""
    lib = os.path.join(cache_root, "python")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    try:
        from pysqlite3 import dbapi2
        return dbapi2
    except ImportError:
        pass
    say(f"requests: installing {PYSQLITE} into {lib} (a current SQLite for Python)")
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", lib, PYSQLITE], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    importlib.invalidate_caches()
    try:
        from pysqlite3 import dbapi2
        return dbapi2
    except ImportError:
        warn(f"requests: could not install {PYSQLITE} ({p.stderr.strip()[-300:]}); Python's own SQLite "
             f"{sqlite3.sqlite_version} may not read the schema")
        return sqlite3


# ----------------------------------------------------------------------------- words

class Words:
    """The vocabulary and the sampling of words and sentences."""

    def __init__(self, rng):
        made, seen = [], set(FILLER) | set(COMMON)
        while len(made) < 5000:
            w = "".join(rng.choice(ONSETS) + rng.choice(NUCLEI) + rng.choice(CODAS)
                        for _ in range(rng.choice((2, 2, 3))))
            if 5 <= len(w) <= 11 and w not in seen:
                seen.add(w)
                made.append(w)
        self.tail, self.rare = made[:3000], made[3000:]
        self.cum_filler = _zipf_cum(len(FILLER), 0.9)
        self.cum_common = _zipf_cum(len(COMMON), 1.0)
        self.cum_tail = _zipf_cum(len(self.tail), 1.1)

    def pick(self, rng, k):
        """k words of running text: 40 % filler, 35 % helpdesk words, 25 % the made-up tail."""
        out = []
        for r in rng.choices((0, 1, 2), cum_weights=(40, 75, 100), k=k):
            if r == 0:
                out.append(FILLER[bisect.bisect(self.cum_filler, rng.random() * self.cum_filler[-1])])
            elif r == 1:
                out.append(COMMON[bisect.bisect(self.cum_common, rng.random() * self.cum_common[-1])])
            else:
                out.append(self.tail[bisect.bisect(self.cum_tail, rng.random() * self.cum_tail[-1])])
        return out

    def body(self, rng):
        """2-4 sentences; one comment in 100 names a rare word. Returns (text, rare word or None)."""
        sentences = []
        for _ in range(rng.randint(2, 4)):
            ws = self.pick(rng, rng.randint(6, 12))
            sentences.append(ws[0].capitalize() + " " + " ".join(ws[1:]) + ".")
        rare = None
        if rng.random() < 0.01:
            rare = rng.choice(self.rare)
            sentences.insert(rng.randrange(len(sentences) + 1), f"It concerns {rare}.")
        return " ".join(sentences), rare

    def subject(self, rng):
        ws = [w for w in self.pick(rng, 8) if w not in FILLER][:rng.randint(3, 6)] or [rng.choice(COMMON)]
        return " ".join([ws[0].capitalize(), *ws[1:]])


def _zipf_cum(n, s):
    return list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(n)))


def _pick(rng, table):
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


# ----------------------------------------------------------------------------- the data

class Plan:
    """Every row but the comments' text, and the two viewers."""

    def __init__(self, tickets, comments, now, seed=SEED):
        rng = self.rng = random.Random(seed)
        self.now = now
        self.words = Words(rng)
        self.tail_rank = {w: r for r, w in enumerate(self.words.tail)}
        n_orgs = max(10, tickets // 50)
        n_contacts = max(50, tickets // 5)
        self.orgs = [(i, f"{ORG_WORDS[i % len(ORG_WORDS)]} {i:04d} {ORG_KINDS[i % len(ORG_KINDS)]}",
                      f"org{i:04d}.example") for i in range(1, n_orgs + 1)]
        # Organisation 1: 5 % of the tickets; the others a Zipf share of the rest.
        share = [0.0, 0.05] + [0.95 * w for w in _norm([1 / i ** 0.7 for i in range(1, n_orgs)])]
        counts = [0, max(2, n_contacts // 40)]
        rest = n_contacts - counts[1]
        counts += [max(2, round(rest * w / 0.95)) for w in share[2:]]
        self.contacts = []  # (id, email, name, org, is_primary)
        self.org_contacts = {}
        taken = set()
        cid = 0
        for (org, _, domain), k in zip(self.orgs, counts[1:]):
            members = []
            for j in range(k):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                local, n = f"{first}.{last}".lower(), 1
                while f"{local}@{domain}" in taken:
                    n += 1
                    local = f"{first}.{last}{n}".lower()
                email = f"{local}@{domain}"
                taken.add(email)
                cid += 1
                self.contacts.append((cid, email, f"{first} {last}", org, j == 0 and org % 4 == 1))
                members.append(cid)
            rng.shuffle(members)  # the primary contact is not always the busiest
            self.org_contacts[org] = members
        self.staff = []
        for i in range(1, STAFF + 1):
            cid += 1
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            self.staff.append((cid, f"agent{i:02d}@desk.example", f"{first} {last}",
                               DEPARTMENTS[i % 3][0] if i > 6 else None))

        # Tickets, evenly over two years, oldest first.
        start = now - 730 * DAY
        org_cum = list(itertools.accumulate(share[1:]))
        member_cum = {org: _zipf_cum(len(m), 0.8) for org, m in self.org_contacts.items()}
        span = 730 * DAY / tickets
        self.tickets = []  # [id, org, requester, created, status, priority, department, assignee]
        for t in range(1, tickets + 1):
            org = bisect.bisect(org_cum, rng.random() * org_cum[-1]) + 1
            members = self.org_contacts[org]
            requester = members[bisect.bisect(member_cum[org], rng.random() * member_cum[org][-1])]
            created = int(start + (t - 1) * span + rng.random() * span)
            status = _pick(rng, OLD_STATUS if now - created > 30 * DAY else NEW_STATUS)
            assignee = None
            if status != "open" and rng.random() < 0.85:
                assignee = self.staff[rng.randrange(STAFF)][1]
            self.tickets.append([t, org, requester, created, status, _pick(rng, PRIORITIES),
                                 _pick(rng, DEPARTMENTS), assignee])
        self.subjects = {t[0]: self.words.subject(rng) for t in self.tickets}
        self.cc = {}
        for t, org, requester, *_ in self.tickets:
            members = self.org_contacts[org]
            if len(members) > 1 and rng.random() < 0.1:
                others = [m for m in rng.sample(members, min(3, len(members))) if m != requester]
                self.cc[t] = others[:rng.randint(1, 2)]

        # Comments per ticket: one each, the rest with a long tail.
        per = [1] * tickets
        weights = [rng.expovariate(1.0) for _ in range(tickets)]
        for t in rng.choices(range(tickets), weights=weights, k=max(0, comments - tickets)):
            per[t] += 1
        self.per = per

        # The viewers.
        asked = {}
        for t, _, requester, *_ in self.tickets:
            asked[requester] = asked.get(requester, 0) + 1
        primary = next(c for c in self.contacts if c[3] == 1 and c[4])
        standard = min((c for c in self.contacts if c[3] != 1 and not c[4]),
                       key=lambda c: (abs(asked.get(c[0], 0) - 20), c[0]))
        self.viewers = {}
        for kind, c in (("standard", standard), ("primary", primary)):
            visible = sorted(t for t, org, req, *_ in self.tickets
                             if req == c[0] or c[0] in self.cc.get(t, ()) or (kind == "primary" and org == 1))
            self.viewers[kind] = {"contact_id": c[0], "email": c[1], "organisation": c[3],
                                  "asked": asked.get(c[0], 0), "visible": visible}
        colleagues = sorted(((asked.get(m, 0), m) for m in self.org_contacts[1] if m != primary[0]), reverse=True)
        emails = {c[0]: c[1] for c in self.contacts}
        self.viewers["primary"]["colleagues"] = [emails[m] for _, m in colleagues[:5]]


def _norm(ws):
    s = sum(ws)
    return [w / s for w in ws]


def schedule(plan):
    """When each comment is written and by whom, in time order (ids follow time, as in a
    real desk, so a ticket's comments are spread over the table). Sets plan.events
    [(time, ticket, author, public, from_staff)], plan.last (ticket -> last comment time)
    and plan.waiting (ticket -> its customer's last public comment time)."""
    rng, now = plan.rng, plan.now
    staff_ids = [s[0] for s in plan.staff]
    events = []
    plan.last, plan.waiting = {}, {}
    for i, (t, org, requester, created, status, *_rest) in enumerate(plan.tickets):
        mean = 12 * DAY if status in ACTIVE else 4 * DAY
        end = max(created, min(now - 60, created + 600 + int(rng.expovariate(1 / mean))))
        stamps = sorted(rng.randint(created, end) for _ in range(plan.per[i] - 1))
        events.append((created, t, requester, True, False))
        for stamp in stamps:
            r = rng.random()
            if r < 0.167:
                events.append((stamp, t, rng.choice(staff_ids), False, True))
            elif r < 0.62:
                events.append((stamp, t, rng.choice(staff_ids), True, True))
            else:
                cc = plan.cc.get(t)
                author = rng.choice(cc) if cc and rng.random() < 0.3 else requester
                events.append((stamp, t, author, True, False))
                plan.waiting[t] = stamp
        plan.last[t] = stamps[-1] if stamps else created
    events.sort(key=lambda e: (e[0], e[1]))
    plan.events = events


def comment_rows(plan):
    """Yields the comment rows in time order; afterwards plan.found holds the words of each
    viewer's tickets (made-up tail words and rare words, with counts)."""
    rng, words = plan.rng, plan.words
    emails = {c[0]: c[1] for c in plan.contacts}
    emails.update((s[0], s[1]) for s in plan.staff)
    watch = {}
    for kind, v in plan.viewers.items():
        for t in v["visible"]:
            watch.setdefault(t, []).append(kind)
    found = {kind: {"tail": {}, "rare": {}} for kind in plan.viewers}
    first_line = {}
    for cid, (stamp, t, author, public, from_staff) in enumerate(plan.events, start=1):
        body, rare = words.body(rng)
        text = body
        if t not in first_line:
            first_line[t] = body.split(". ", 1)[0]
        elif public:  # a reply by mail: the client quoted the start of the conversation
            day = time.strftime("%Y-%m-%d", time.gmtime(stamp))
            text = f"{body}\n\nOn {day}, {emails[author]} wrote:\n> {first_line[t]}"
        for kind in watch.get(t, ()) if public else ():
            f = found[kind]
            for w in body.lower().replace(".", "").split():
                if w in plan.tail_rank:
                    f["tail"][w] = f["tail"].get(w, 0) + 1
            if rare:
                f["rare"][rare] = f["rare"].get(rare, 0) + 1
        yield (cid, t, author, public, text, body, None, f"<c{cid}.t{t}@bench.example>", stamp, from_staff)
    plan.found = found


# ----------------------------------------------------------------------------- SQLite

# The feed of ticket changes (migration 0018) that the triggers filled with a row per comment:
# a live desk's holds the last hour's changes (housekeeping trims it), and a million rows
# of the seed's would be deleted by the first housekeeping pass, during the measurement.
FORGET_FEED = "DELETE FROM ticket_changes"

TABLES = {  # the columns seeded, and which are booleans (PostgreSQL wants t/f)
    "organisations": ("id name created_at", ()),
    "contacts": ("id email name organisation_id created_at is_primary", ("is_primary",)),
    "staff": ("email name department created_at", ()),
    "tickets": ("id subject status priority requester_id organisation_id created_at updated_at department "
                "assignee status_changed_at awaiting_since", ()),
    "ticket_participants": ("ticket_id contact_id role", ()),
    "comments": ("id ticket_id author_id public body_text body_reply body_html message_id created_at from_staff",
                 ("public", "from_staff")),
    "attachments": ("id comment_id filename content_type size sha256 inline content_id", ("inline",)),
}


def _insert(db, table, rows):
    cols = TABLES[table][0].split()
    db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)


def seed_sqlite(lite, binary, path, tickets, comments, work):
    """Makes the SQLite database at `path`: the schema by `maildesk` (its migrations), then
    the rows, written with `lite` (see sqlite()). Returns the meta dictionary (viewers, words, counts, timings)."""
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILDESK_")}
    env.update({"MAILDESK_LOG": "warn", "MAILDESK_PORTAL__ENABLED": "false"})
    run_cli(binary, ["contact", "list"], work, env)  # opens the store: the migrations run
    made = os.path.join(work, "var", "maildesk.db")
    if not os.path.exists(made):
        raise BenchError(f"requests: `maildesk contact list` made no database at {made}")
    now = int(time.time())
    plan = Plan(tickets, comments, now)
    schedule(plan)
    say(f"requests: planned {len(plan.orgs):,} organisations, {len(plan.contacts):,} contacts, "
        f"{tickets:,} tickets, {len(plan.events):,} comments in {time.perf_counter() - t0:.1f} s")
    db = lite.connect(made, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    born = now - 800 * DAY
    _insert(db, "organisations", ((o, name, born) for o, name, _ in plan.orgs))
    _insert(db, "contacts", ((c, e, n, o, born, p) for c, e, n, o, p in plan.contacts))
    _insert(db, "contacts", ((c, e, n, None, born, False) for c, e, n, _ in plan.staff))
    _insert(db, "staff", ((e, n, d, born) for _, e, n, d in plan.staff))
    _insert(db, "tickets", (
        (t, plan.subjects[t], status, priority, requester, org, created, plan.last[t], department, assignee,
         plan.last[t], plan.waiting.get(t) if status in ("open", "in-progress") else None)
        for t, org, requester, created, status, priority, department, assignee in plan.tickets))
    parts = []
    for t, _, requester, *_ in plan.tickets:
        parts.append((t, requester, "requester"))
        parts.extend((t, c, "cc") for c in plan.cc.get(t, ()))
    _insert(db, "ticket_participants", parts)
    t1 = time.perf_counter()
    files = random.Random(SEED + 1)
    attachments = []

    def with_files(rows):
        for row in rows:
            if files.random() < 0.005:
                name, ctype = files.choice(FILES)
                attachments.append((len(attachments) + 1, row[0], name, ctype, files.randint(2_000, 2_000_000),
                                    hashlib.sha256(str(row[0]).encode()).hexdigest(), False, None))
            yield row
    _insert(db, "comments", with_files(comment_rows(plan)))
    _insert(db, "attachments", attachments)
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ticket_changes'").fetchone():
        db.execute(FORGET_FEED)
    db.execute("COMMIT")
    t2 = time.perf_counter()
    counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}
    db.close()
    os.replace(made, path)
    return {"tickets": tickets, "comments": comments, "seeded_at": now, "counts": counts,
            "viewers": plan.viewers, "searches": _searches(plan),
            "sqlite_s": time.perf_counter() - t0, "sqlite_comments_s": t2 - t1}


def _searches(plan):
    """The words each viewer searches for: {viewer: [(kind, q)]}."""
    rng = random.Random(SEED + 3)
    common = [COMMON[i] for i in (0, 3, 10, 40)]
    out = {}
    for kind, v in plan.viewers.items():
        f = plan.found[kind]
        visible = set(v["visible"])
        subject_words = sorted({w.lower() for t in v["visible"] for w in plan.subjects[t].split()
                                if w.lower() in plan.tail_rank})
        ranked = sorted(f["tail"], key=lambda w: -plan.tail_rank[w])  # rarest first
        tail = [ranked[int(x * (len(ranked) - 1))] for x in (0, 0.1, 0.5)] if ranked else []
        mine_rare = sorted(f["rare"])
        elsewhere = [w for w in plan.words.rare if w not in f["rare"]]
        hidden = next(t for t in range(len(plan.tickets), 0, -1) if t not in visible)
        qs = [("common", w) for w in common]
        qs += [("subject", w) for w in rng.sample(subject_words, min(2, len(subject_words)))]
        qs += [("comment", w) for w in tail[:3]]
        qs += [("rare, in theirs", w) for w in rng.sample(mine_rare, min(2, len(mine_rare)))]
        qs += [("rare, elsewhere", w) for w in rng.sample(elsewhere, 2)]
        if tail:
            qs.append(("two words", f"{common[0]} {tail[0]}"))
        qs += [("number, theirs", str(v["visible"][len(v["visible"]) // 2])), ("number, not theirs", str(hidden))]
        out[kind] = qs
    return out


# ----------------------------------------------------------------------------- PostgreSQL

def _copy_text(value):
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def seed_postgres(lite, bindir, host, port, dbname, binary, sqlite_path, work, env):
    """Fills PostgreSQL database `dbname` (the schema made by `maildesk`, `env` pointing at
    it) with the rows of the seeded SQLite database, by `psql` and COPY ... FROM STDIN."""
    t0 = time.perf_counter()
    run_cli(binary, ["contact", "list"], work, env)  # the migrations
    src = lite.connect(f"file:{sqlite_path}?mode=ro&immutable=1", uri=True)  # leaves no -shm/-wal
    p = subprocess.Popen([os.path.join(bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1",
                          "-h", host, "-p", str(port), "-U", "postgres", "-d", dbname],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for table, (cols, bools) in TABLES.items():
            cols = cols.split()
            flags = [c in bools for c in cols]
            p.stdin.write(f"COPY {table} ({', '.join(cols)}) FROM STDIN;\n".encode())
            cur = src.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid")
            while True:
                rows = cur.fetchmany(20000)
                if not rows:
                    break
                lines = []
                for row in rows:
                    lines.append("\t".join(("t" if v else "f") if flag and v is not None else _copy_text(v)
                                           for v, flag in zip(row, flags)))
                p.stdin.write(("\n".join(lines) + "\n").encode())
            p.stdin.write(b"\\.\n")
        p.stdin.write(f"DO $$ BEGIN IF to_regclass('ticket_changes') IS NOT NULL THEN {FORGET_FEED}; END IF; "
                      f"END $$;\n".encode())
        for table in ("organisations", "contacts", "tickets", "comments", "attachments"):
            p.stdin.write(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"(SELECT coalesce(max(id), 1) FROM {table}));\n".encode())
        p.stdin.close()
    except BrokenPipeError:
        pass
    err = p.stderr.read().decode("utf-8", "replace")
    if p.wait() != 0:
        raise BenchError(f"requests: psql COPY into {dbname} failed: {err.strip()[-2000:]}")
    src.close()
    return time.perf_counter() - t0
