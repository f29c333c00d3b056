"""Deterministic bulk corpus for `scripts/bench` (stdlib only).

    python3 scripts/bench_lib/corpus.py OUTDIR -n 10000 [--seed 7]

Writes OUTDIR/<name> Maildir-style files whose names sort in corpus order, plus
OUTDIR/manifest.json. The same seed and count always give the same bytes.

Shape (issue 7):
  * 70 % new requests, 30 % replies to an earlier request, written by that request's
    sender (a subject tag only files mail for the ticket's participants). A reply carries
    In-Reply-To/References naming the request's Message-ID and the subject tag
    `[Support #k]`, k being the ticket number the request gets when the corpus is applied
    in order to an empty database (the daemon reads new/ in name order).
  * 10 % carry one attachment of 2-50 KB (PDF, PNG, ZIP, text), base64.
  * Body charsets utf-8, iso-8859-1, windows-1252, koi8-r and iso-2022-jp, in
    quoted-printable, base64, 7bit or 8bit; non-ASCII subjects as RFC 2047 words;
    about a quarter multipart/alternative with an HTML part.
"""

import argparse
import base64
import json
import os
import quopri
import random
import sys
from email.header import Header
from email.utils import formataddr, formatdate

TAG = "Support"
DESK = "support@helpdesk.example"

FIRST = ["Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Uma", "Victor",
         "Walter", "Xena", "Yusuf", "Zoe", "Ahmed", "Priya", "Chen", "Sofia", "Lars", "Keiko"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Johnson", "Patel", "Nguyen", "Kowalski",
        "Rossi", "Garcia", "Schmidt", "Martin", "Novak", "Larsen", "Tanaka", "Okafor", "Silva"]
DOMAINS = ["acme.example", "globex.example", "initech.example", "umbrella.example",
           "hooli.example", "example.org", "example.net", "contoso.example"]

# Per charset: subjects and sentences that the charset can encode.
TEXTS = {
    "us-ascii": (
        ["Cannot log in to the portal", "Invoice {n} shows the wrong VAT rate",
         "Order {n} has not arrived", "VPN disconnects every 10 minutes",
         "API returns HTTP 500 on /v2/orders", "Printer on floor 3 is offline",
         "Two-factor codes rejected", "Licence key {n} is not accepted"],
        ["We noticed the problem this morning and it is still happening.",
         "I already restarted the application and cleared the cache, without success.",
         "Several colleagues are affected, so this is fairly urgent for us.",
         "Our account number is {n} in case you need to look up the contract.",
         "This worked fine until the maintenance window on Saturday night.",
         "Could you please check the configuration on your side?",
         "Thank you in advance for your help with this matter."]),
    "iso-8859-1": (
        ["Réclamation concernant la commande {n}", "Frage zur Rechnung Nr. {n}",
         "Pedido {n}: dirección de envío errónea", "Lösenord fungerar inte längre"],
        ["Merci de votre réponse rapide, nous avons déjà vérifié les paramètres.",
         "Vielen Dank für Ihre Unterstützung, die Lieferung ist noch nicht angekommen.",
         "Gracias de antemano, el número de cliente está en la factura.",
         "Die Anmeldung schlägt seit gestern fehl, obwohl das Passwort stimmt."]),
    "windows-1252": (
        ["Facture {n} – montant erroné", "“Urgent” – accès bloqué depuis lundi",
         "Angebot {n} … bitte prüfen"],
        ["Le total affiché est de 1 250 € au lieu de 1 025 € – pouvez-vous corriger ?",
         "Wir haben „alles“ versucht … leider ohne Erfolg.",
         "The “export” button does nothing – no error, no file."]),
    "koi8-r": (
        ["Заказ {n} не доставлен", "Ошибка при оплате картой", "Не работает вход в систему"],
        ["Добрый день, у нас не получается войти в личный кабинет.",
         "Спасибо за помощь, ждём ответа как можно скорее.",
         "Номер договора {n}, проблема повторяется каждый день."]),
    "iso-2022-jp": (
        ["請求書 {n} について", "ログインできません", "注文 {n} が届いていません"],
        ["お世話になっております。", "昨日からログインできない状態です。",
         "至急ご確認いただけますでしょうか。", "よろしくお願いいたします。"]),
    "utf-8": (
        ["Problème de facturation – commande {n}", "Zugang für Herrn Müller gesperrt",
         "Προβλήματα με τη σύνδεση VPN", "Não consigo acessar o portal ✉"],
        ["Merci de votre aide – l'équipe ne peut plus travailler.",
         "Mit freundlichen Grüßen aus Köln.", "Спасибо за помощь.", "よろしくお願いいたします。",
         "Ευχαριστώ πολύ για τη βοήθεια."]),
}
# Body charset weights and the transfer encodings they are sent with.
CHARSETS = [("us-ascii", 30), ("utf-8", 30), ("iso-8859-1", 15), ("windows-1252", 10),
            ("koi8-r", 8), ("iso-2022-jp", 7)]
ENCODINGS = {"us-ascii": ["7bit"], "utf-8": ["quoted-printable", "base64", "8bit"],
             "iso-8859-1": ["quoted-printable", "8bit"], "windows-1252": ["quoted-printable", "base64"],
             "koi8-r": ["base64", "8bit"], "iso-2022-jp": ["7bit"]}
ATTACHMENTS = [("application/pdf", "invoice-{n}.pdf"), ("image/png", "screenshot-{n}.png"),
               ("application/zip", "logs-{n}.zip"), ("text/plain", "error-{n}.log")]

T0 = 1767225600  # 2026-01-01T00:00:00Z


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for value, w in pairs:
        x -= w
        if x <= 0:
            return value
    return pairs[-1][0]


def wrap(text, width=72):
    out, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    out.append(line)
    return "\n".join(out)


def body_text(rng, charset, name, size, quoted=None):
    sentences = TEXTS[charset][1] + (TEXTS["us-ascii"][1] if charset not in ("us-ascii",) else [])
    paras = ["Hello,"]
    length = 0
    while length < size:
        para = " ".join(rng.choice(sentences).format(n=rng.randint(10000, 99999))
                        for _ in range(rng.randint(2, 5)))
        if charset == "iso-2022-jp":
            paras.append(para)  # no spaces to wrap at
        else:
            paras.append(wrap(para))
        length += len(para)
    paras.append(f"Best regards,\n{name}")
    text = "\n\n".join(paras) + "\n"
    if quoted:
        text += "\n" + "\n".join("> " + l for l in quoted.splitlines()[:15]) + "\n"
    return text


def encode_part(text, charset, cte, subtype="plain"):
    """A text part's headers and body (CRLF line ends)."""
    raw = text.encode(charset if charset != "us-ascii" else "ascii")
    if cte == "quoted-printable":
        body = quopri.encodestring(raw).replace(b"\n", b"\r\n")
    elif cte == "base64":
        body = base64.encodebytes(raw.replace(b"\n", b"\r\n")).replace(b"\n", b"\r\n")
    else:
        body = raw.replace(b"\n", b"\r\n")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    head = (f"Content-Type: text/{subtype}; charset=\"{charset}\"\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n").encode()
    return head, body


def html_of(text):
    import html
    return ("<html><head><meta charset=\"utf-8\"></head><body style=\"font-family: sans-serif\">\n"
            + "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>\n" for p in text.split("\n\n"))
            + "</body></html>\n")


def attachment(rng, seq):
    ctype, pattern = rng.choice(ATTACHMENTS)
    size = rng.randint(2 * 1024, 50 * 1024)
    if ctype == "text/plain":
        line = "2026-01-01T00:00:00Z ERROR worker %d: connection reset by peer (code %d)\n"
        data = "".join(line % (rng.randint(1, 64), rng.randint(100, 999)) for _ in range(size // 70)).encode()
    else:
        data = b"%PDF-1.4\n" if ctype == "application/pdf" else b""
        data += rng.randbytes(size - len(data))
    name = pattern.format(n=seq)
    return (f"Content-Type: {ctype}; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n").encode(), \
        base64.encodebytes(data).replace(b"\n", b"\r\n"), name


def multipart(boundary, subtype, parts):
    out = [f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode(),
           b"This is a multi-part message in MIME format.\r\n"]
    for head, body in parts:
        out += [f"--{boundary}\r\n".encode(), head, b"\r\n", body]
        if not body.endswith(b"\r\n"):
            out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def generate(outdir, n, seed=7, reply_frac=0.30, attach_frac=0.10, html_frac=0.25):
    """Writes the corpus; returns the manifest (also written to OUTDIR/manifest.json)."""
    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    n_senders = max(20, n // 8)
    senders = []
    for i in range(n_senders):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        senders.append((f"{first} {last}", f"{first.lower()}.{last.lower()}.{i}@{rng.choice(DOMAINS)}"))
    n_reply = round(n * reply_frac)
    kinds = ["new"] * (n - n_reply) + ["reply"] * n_reply
    rng.shuffle(kinds)
    # a reply needs an earlier request: the first messages are new
    for i in range(min(5, n)):
        if kinds[i] == "reply":
            j = next(k for k in range(5, n) if kinds[k] == "new")
            kinds[i], kinds[j] = kinds[j], kinds[i]
    with_attachment = set(rng.sample(range(n), round(n * attach_frac)))
    requests = []  # per new request: dict(seq, sender, subject, msgid, text)
    manifest = []
    for i, kind in enumerate(kinds):
        ts = T0 + i * 7
        charset = weighted(rng, CHARSETS)
        cte = rng.choice(ENCODINGS[charset])
        if kind == "new":
            seq = len(requests) + 1
            sender = senders[(seq - 1) % n_senders] if seq <= n_senders else rng.choice(senders)
            subject = rng.choice(TEXTS[charset][0]).format(n=rng.randint(100000, 999999))
            subject = f"{subject} ({seq})"  # unique: the verifier finds tickets by subject too
            text = body_text(rng, charset, sender[0], rng.randint(400, 3000))
            msgid = f"<{ts}.n{seq}.{rng.getrandbits(40):010x}@{sender[1].split('@')[1]}>"
            requests.append({"seq": seq, "sender": sender, "subject": subject, "msgid": msgid, "text": text})
            subject_header = subject
            refs = None
            entry = {"kind": "new", "seq": seq, "msgid": msgid, "subject": subject}
        else:
            target = requests[max(0, len(requests) - 1 - int(rng.expovariate(1 / 30)))]
            sender = target["sender"]
            subject_header = f"Re: [{TAG} #{target['seq']}] {target['subject']}"
            text = body_text(rng, charset, sender[0], rng.randint(200, 1500),
                             quoted=target["text"][:rng.randint(200, 800)])
            msgid = f"<{ts}.r{i}.{rng.getrandbits(40):010x}@{sender[1].split('@')[1]}>"
            refs = target["msgid"]
            entry = {"kind": "reply", "reply_to_seq": target["seq"], "msgid": msgid}
        try:
            text.encode(charset if charset != "us-ascii" else "ascii")
        except UnicodeEncodeError:  # a quoted request in another charset
            charset, cte = "utf-8", "quoted-printable"
        head, body = encode_part(text, charset, cte)
        if rng.random() < html_frac:
            html_head, html_body = encode_part(html_of(text), "utf-8", "quoted-printable", "html")
            content = multipart(f"alt-{i}-{rng.getrandbits(32):08x}", "alternative",
                                [(head, body), (html_head, html_body)])
            entry["html"] = True
        else:
            content = head + b"\r\n" + body
        if i in with_attachment:
            att_head, att_body, name = attachment(rng, i)
            ctype_end = content.index(b"\r\n\r\n")
            inner = (content[:ctype_end + 2], content[ctype_end + 4:])
            content = multipart(f"mix-{i}-{rng.getrandbits(32):08x}", "mixed", [inner, (att_head, att_body)])
            entry["attachment"] = name
        if all(ord(c) < 128 for c in subject_header):
            subject_encoded = subject_header
        else:
            subject_encoded = Header(subject_header, "utf-8" if rng.random() < 0.5 else
                                     ("iso-8859-1" if _fits(subject_header, "iso-8859-1") else "utf-8"),
                                     maxlinelen=76).encode()
        name_encoded = sender[0]
        headers = [
            ("Return-Path", f"<{sender[1]}>"),
            ("Received", f"from mail.{sender[1].split('@')[1]} by mx.helpdesk.example with ESMTPS id "
                         f"{rng.getrandbits(40):X} for <{DESK}>; {formatdate(ts, usegmt=True)}"),
            ("From", formataddr((name_encoded, sender[1]))),
            ("To", f"Support <{DESK}>"),
            ("Subject", subject_encoded),
            ("Date", formatdate(ts, usegmt=True)),
            ("Message-ID", msgid),
        ]
        if refs:
            headers += [("In-Reply-To", refs), ("References", refs)]
        headers += [("MIME-Version", "1.0")]
        raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + content
        fname = f"{ts}.M{i:07d}P1.bench"
        with open(os.path.join(outdir, fname), "wb") as f:
            f.write(raw)
        entry.update({"file": fname, "from": sender[1], "charset": charset, "cte": cte, "bytes": len(raw)})
        manifest.append(entry)
    summary = {"n": n, "new": n - n_reply, "reply": n_reply, "senders": n_senders,
               "attachments": len(with_attachment), "html": sum(1 for m in manifest if m.get("html")),
               "bytes": sum(m["bytes"] for m in manifest),
               "charsets": {c: sum(1 for m in manifest if m["charset"] == c) for c, _ in CHARSETS}}
    result = {"summary": summary, "messages": manifest}
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(result, f, ensure_ascii=False)
    return result


def _fits(s, charset):
    try:
        s.encode(charset)
        return True
    except UnicodeEncodeError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    s = generate(a.outdir, a.n, a.seed)["summary"]
    print(json.dumps(s, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
