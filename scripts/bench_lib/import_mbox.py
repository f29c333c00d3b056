"""import: `maildesk import mbox` of a generated archive of N messages (issue 18, OPS8).

(The module is not called import.py: `import` is a Python keyword.)

The archive is generated once into a cache directory (default ~/.cache/maildesk/bench-import/
mbox-<N>-v1/support.mbox, with meta.json beside it), deterministic (random.Random(SEED)):
threads from 2016 to 2025-11-30, in date order, each a customer's request, then (85 %) a staff member's
answer, then (40 % of those) the customer's follow-up and (half of those) a second answer;
2 % of the messages are auto-replies (Auto-Submitted), 5 % carry a 2-20 KB attachment, and
some bodies have lines starting with "From " (quoted `>From ` in the file, mboxrd). Staff
answers come from agent1..agent5@helpdesk.example, made staff first (`maildesk staff add`).
About 1 % of the file's messages are swapped with their neighbour, so that the date sort
has work to do. Tickets whose last mail is within desk.reopen_days of the run stay open
(none, once the archive is a fortnight old), the rest are Closed.

On a fresh database: `maildesk import mbox --json FILE` (one process, plain progress lines on
its standard error): wall time, messages/s, peak RSS (the rusage's max RSS of the process)
and peak anonymous RSS (RssAnon sampled every 50 ms: the rest is mapped files); then the
same command again, which must say nothing new (its time: the index pass and one read of the
progress row). Checks: the summary's tickets, comments and automatic mail are the archive's,
nothing quarantined, no outbox row, and the second run changed nothing.
"""

import base64
import json
import os
import random
import time
from email.utils import formatdate

from .common import BenchError, maildesk_env, make_workdir, remove, run_cli, say
from .kb import timed_cli

SEED = 18
VERSION = "v1"
DESK = "support@localhost"  # the desk address of maildesk's defaults
STAFF = [f"agent{i}@helpdesk.example" for i in range(1, 6)]
START = 1_451_606_400  # 2016-01-01
END = 1_764_460_800  # 2025-11-30: no message is later

FIRST = ["Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Priya", "Chen",
         "Sofia", "Lars", "Keiko", "Ahmed", "Zoe", "Uma", "Victor", "Walter"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Patel", "Nguyen", "Kowalski", "Rossi", "Garcia", "Schmidt", "Novak"]
DOMAINS = ["acme.example", "globex.example", "initech.example", "umbrella.example", "hooli.example", "example.org"]
SUBJECTS = ["Cannot log in to the portal", "Invoice {n} shows the wrong VAT rate", "Order {n} has not arrived",
            "VPN disconnects every 10 minutes", "API returns HTTP 500 on /v2/orders", "Printer on floor 3 is offline",
            "Two-factor codes rejected", "Licence key {n} is not accepted", "Export to CSV is empty",
            "Password reset mail never arrives"]
SENTENCES = ["We noticed the problem this morning and it is still happening.",
             "I already restarted the application and cleared the cache, without success.",
             "Several colleagues are affected, so this is fairly urgent for us.",
             "The error message says that the session expired, but we had just logged in.",
             "Could you please have a look and tell us what to do next?",
             "It worked fine until the update last week.",
             "From what I can tell, the settings are the same as before.",
             "Attached is a screenshot of what we see."]
ANSWERS = ["Thank you for your message. We have looked into it.",
           "Please try again now: we changed a setting on our side.",
           "From our logs the request reached us, and we fixed the cause.",
           "Could you send us the exact time it happened?",
           "Kind regards,\nthe support team"]
FOLLOW_UPS = ["Thanks, it works now.", "It still fails, see below.", "It happened at 10:42 today.",
              "From today on it seems fine again."]


def ensure(cache_root, messages):
    """The archive of `messages` messages (generated when missing): (path, meta)."""
    d = os.path.join(cache_root, f"mbox-{messages}-{VERSION}")
    path, meta_path = os.path.join(d, "support.mbox"), os.path.join(d, "meta.json")
    if os.path.exists(meta_path) and os.path.exists(path):
        with open(meta_path) as f:
            return path, json.load(f)
    os.makedirs(d, exist_ok=True)
    say(f"import: generating an mbox of {messages:,} messages into {d} (once)")
    t0 = time.perf_counter()
    meta = generate(path + ".tmp", messages)
    os.replace(path + ".tmp", path)
    meta["generated_s"] = time.perf_counter() - t0
    meta["bytes"] = os.path.getsize(path)
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    return path, meta


def generate(path, n):
    rnd = random.Random(SEED)
    mails = []  # (date, from, text)
    tickets = comments = automatic = 0
    # Threads start at even steps from 2016 to END (fixed, so that the bytes are the same
    # whenever they are generated); whichever are within desk.reopen_days of the run stay open.
    now = END
    threads = max(1, int(n / 2.2))
    span = END - 3 * 86400 - START
    t = 0
    while len(mails) < n:
        start = START + span * t // threads + rnd.randrange(3600)
        t += 1
        who = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        addr = f"{who.split()[0].lower()}.{t}@{rnd.choice(DOMAINS)}"
        subject = rnd.choice(SUBJECTS).format(n=rnd.randrange(10000, 99999))
        ids = [f"q{t}.{rnd.randrange(1 << 30):x}@{addr.split('@')[1]}"]
        mails.append((start, addr, message(rnd, f"{who} <{addr}>", subject, ids[0], [], start, SENTENCES, 3)))
        tickets += 1
        at = start
        if rnd.random() < 0.02 and len(mails) < n:
            at += 60
            auto = f"auto{t}@{rnd.choice(DOMAINS)}"
            mails.append((at, auto, message(rnd, auto, f"Automatic reply: {subject}", f"auto{t}@x.example", [], at,
                                            ["I am out of the office."], 1, "Auto-Submitted: auto-replied\n")))
            automatic += 1
        turns = [(STAFF, ANSWERS)]
        if rnd.random() < 0.85:
            if rnd.random() < 0.4:
                turns += [([addr], FOLLOW_UPS)]
                if rnd.random() < 0.5:
                    turns += [(STAFF, ANSWERS)]
        else:
            turns = []
        for senders, texts in turns:
            if len(mails) >= n:
                break
            at = min(at + rnd.randrange(600, 3 * 86400), now)
            sender = rnd.choice(senders)
            mid = f"r{t}.{len(ids)}.{rnd.randrange(1 << 30):x}@{sender.split('@')[1]}"
            mails.append((at, sender, message(rnd, sender, f"Re: {subject}", mid, ids, at, texts, 2)))
            ids.append(mid)
            comments += 1
    mails = mails[:n]
    mails.sort(key=lambda m: m[0])
    for i in range(0, len(mails) - 1, 100):  # about 1 %: neighbours swapped
        mails[i], mails[i + 1] = mails[i + 1], mails[i]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for at, sender, text in mails:
            f.write(f"From {sender} {time.strftime('%a %b %e %H:%M:%S %Y', time.gmtime(at))}\n")
            for line in text.splitlines(keepends=True):
                if line.lstrip(">").startswith("From "):
                    f.write(">")
                f.write(line)
            f.write("\n")
    return {"messages": len(mails), "tickets": tickets, "comments": comments, "automatic": automatic,
            "seed": SEED, "version": VERSION}


def message(rnd, sender, subject, mid, refs, at, texts, lines, extra=""):
    threading = ""
    if refs:
        threading = f"In-Reply-To: <{refs[-1]}>\nReferences: {' '.join(f'<{r}>' for r in refs)}\n"
    body = "\n".join(rnd.choice(texts) for _ in range(rnd.randint(1, lines) + 1)) + "\n"
    head = (f"From: {sender}\nTo: {DESK}\nSubject: {subject}\nDate: {formatdate(at, usegmt=True)}\n"
            f"Message-ID: <{mid}>\n{threading}{extra}MIME-Version: 1.0\n")
    if rnd.random() >= 0.05:
        return head + f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    blob = base64.encodebytes(rnd.randbytes(rnd.randrange(2048, 20480))).decode()
    return (head + 'Content-Type: multipart/mixed; boundary="b0"\n\n--b0\nContent-Type: text/plain; charset=utf-8\n\n'
            f"{body}\n--b0\nContent-Type: application/octet-stream; name=\"data.bin\"\n"
            f"Content-Disposition: attachment; filename=\"data.bin\"\nContent-Transfer-Encoding: base64\n\n{blob}"
            "--b0--\n")


def run(binary, backend, base, cache_root, messages=100_000, keep=False):
    """One run; returns a dict of figures."""
    label = f"import/{backend.name}"
    path, meta = ensure(cache_root, messages)
    work = make_workdir(base, f"import-{backend.name}")
    db_env, db, cleanup = backend.fresh(work)
    try:
        env = maildesk_env({**db_env, "MAILDESK_LOG": "error"})
        for agent in STAFF:
            run_cli(binary, ["staff", "add", agent, "--name", agent.split("@")[0].title()], work, env)
        r = {"messages": meta["messages"], "mbox_mib": meta["bytes"] / 1048576}
        out, r["import_s"], r["import_rss"], r["import_anon"] = timed_cli(
            binary, ["import", "mbox", "--json", path], work, env)
        s = json.loads(out)
        r["summary"] = s
        r["rate"] = meta["messages"] / r["import_s"]
        say(f"{label}: {meta['messages']:,} messages in {r['import_s']:.1f} s ({r['rate']:,.0f} msg/s), peak RSS "
            f"{r['import_rss']:.0f} MiB ({r['import_anon']:.0f} anonymous): {s['tickets']:,} tickets, "
            f"{s['comments']:,} comments, {s['automatic']:,} automatic, {s['quarantined']} quarantined, "
            f"{s['closed']:,} closed")
        out, r["again_s"], _, _ = timed_cli(binary, ["import", "mbox", "--json", path], work, env)
        again = json.loads(out)
        problems = []
        for key in ("tickets", "comments", "automatic"):
            if s[key] != meta[key]:
                problems.append(f"{key}: {s[key]} (the archive has {meta[key]})")
        if s["quarantined"] or s["duplicates"]:
            problems.append(f"{s['quarantined']} quarantined, {s['duplicates']} duplicates")
        if not again.get("already_imported"):
            problems.append(f"the second run was not a no-op: {again}")
        outbox = db.scalar("SELECT COUNT(*) FROM outbox")
        if outbox:
            problems.append(f"{outbox} outbox rows")
        closed = db.scalar("SELECT COUNT(*) FROM tickets WHERE status = 'closed'")
        if closed != s["closed"]:
            problems.append(f"{closed} closed tickets in the database, the summary says {s['closed']}")
        r["ok"] = not problems
        if problems:
            raise BenchError(f"{label}: " + "; ".join(problems))
        say(f"{label}: the same file again: {r['again_s']:.1f} s, nothing new")
        return r
    finally:
        db.close()
        cleanup()
        if not keep:
            remove(work)
