"""The knowledge base's generated solutions (issue 17's benchmark, scripts/bench_lib/kb.py).

N solutions (default 100,000) as Markdown files with YAML front matter, the format of
`src/kb/file.rs` (title, category, tags, language, visibility), 1,000 to a directory
(`d000/s000000.md` ...: the slug is the path without `.md`). Deterministic: the same N
gives the same files, and they are written once into a cache directory whose name carries
a hash of this file (a change of the generator makes a new set; the old one of the same N
is removed).

  language     en 70 %, de, fr and es 10 % each
  visibility   `customers` 10 %, else `public`
  category     one of 10 (English names, as the test solutions have), Zipf-weighted; 3 %
               have none
  title        4-9 words, half of them helpdesk words of the language, half from its
               vocabulary's made-up tail
  tags         0-4 helpdesk words of the language
  body         100-400 words: paragraphs of sentences of 6-16 words, some with a `##`
               heading and a list of 3-5 items

Each language's vocabulary: its ~25 most frequent function words (most of them in tantivy's
stop-word lists), ~60 real helpdesk words ("password", "Rechnung", "facture", "factura"),
and 100,000 made-up words of that language's syllables. Each solution is about a topic,
2-3 helpdesk words (Zipf, s = 0.9) that half its title and some of its tags are, and its
running text draws function words 30 %, its topic's words 8 %, any helpdesk word 0.5 % (Zipf,
s = 0.9) and made-up words 61.5 % (Zipf, s = 1.0): a few words in most solutions, a long
tail of words in a handful. The document frequency of every word is counted while
generating, so that the queries (see `queries`) say how many solutions a word is in.

The queries are drawn from the solutions as written (every 50th is a sample): the search
page's mix for an anonymous visitor (public solutions only), and the subjects a customer
types for the suggestions (prefixes of titles of any visibility).
"""

import bisect
import hashlib
import itertools
import json
import os
import random
import shutil
import time
import urllib.parse

from .common import say

SEED = 17
PER_DIR = 1000
SAMPLE_EVERY = 50
TAIL_WORDS = 100_000

CATEGORIES = ("Accounts", "Billing", "Sync", "Sharing", "Administration", "Integrations", "Import and export",
              "Getting started", "Mobile", "Security")
LANGUAGES = (("en", 70), ("de", 10), ("fr", 10), ("es", 10))
CUSTOMERS_SHARE = 0.10

FUNCTION = {
    "en": "the to and a of your you in is it for on that with be this can if or are not as from at an".split(),
    "de": "der die und zu den das ist sie in ein nicht mit sich auf für dem werden es eine im auch wenn wird".split(),
    "fr": "le la de et les des à un une est vous pour que dans en pas sur ce qui votre avec au du plus se".split(),
    "es": "el la de que y en los se del las un por con no una su para es al lo como más si o".split(),
}
HELPDESK = {
    "en": ("password reset login account invoice billing payment subscription plan upgrade cancel refund export "
           "import sync offline mobile app android iphone desktop email notification share page workspace member "
           "admin permission guest folder file upload download attachment calendar integration slack api token "
           "webhook error crash slow loading browser cache update version backup restore delete archive search "
           "template language timezone security two-factor sso saml domain storage limit quota trial receipt vat"
           ).split(),
    "de": ("konto passwort zurücksetzen anmelden anmeldung rechnung zahlung abonnement kündigen erstattung "
           "exportieren importieren synchronisierung offline handy app benachrichtigung teilen seite "
           "arbeitsbereich mitglied administrator berechtigung gast ordner datei hochladen herunterladen anhang "
           "kalender schnittstelle fehler absturz langsam browser aktualisierung sicherung wiederherstellen löschen "
           "archiv suche vorlage sprache zeitzone sicherheit speicher grenze testphase quittung mehrwertsteuer "
           "lastschrift einstellungen freigabe").split(),
    "fr": ("compte motdepasse réinitialiser connexion identifiant facture paiement abonnement résilier "
           "remboursement exporter importer synchronisation hors-ligne mobile application courriel notification "
           "partager page espace membre administrateur autorisation invité dossier fichier téléverser "
           "télécharger pièce calendrier intégration erreur plantage lent navigateur sauvegarde restaurer supprimer "
           "archive recherche modèle langue fuseau sécurité stockage limite essai reçu tva prélèvement paramètres "
           "version").split(),
    "es": ("cuenta contraseña restablecer iniciar sesión factura pago suscripción cancelar reembolso exportar "
           "importar sincronización móvil aplicación correo notificación compartir página espacio miembro "
           "administrador permiso invitado carpeta archivo subir descargar adjunto calendario integración error "
           "bloqueo lento navegador actualización copia restaurar eliminar buscar búsqueda plantilla idioma zona "
           "seguridad almacenamiento límite prueba recibo iva domiciliación ajustes versión").split(),
}
SYLLABLES = {  # (onsets, nuclei, codas) of each language's made-up words
    "en": ("b c d f g h l m n p r s t w br cl dr fl gr pl st th sh ch".split(), "a e i o u ea oo ai".split(),
           ["", "", "n", "r", "t", "ng", "ck", "st", "x", "ll"]),
    "de": ("b d f g h k l m n p r s t w z sch pf kr st br".split(), "a e i o u ei au ie ä ö ü".split(),
           ["", "n", "ch", "tz", "ck", "rg", "lt", "ng", "ss", "r"]),
    "fr": ("b ch d f g j l m n p qu r s t v gr tr br".split(), "a e i o ou eau ai oi é è".split(),
           ["", "", "n", "r", "s", "t", "x", "ille", "que", "l"]),
    "es": ("b c d f g j l ll m n ñ p r s t v ch br".split(), "a e i o u ia ue io á é ó".split(),
           ["", "", "n", "r", "s", "l", "z", "ción", "d"]),
}
SHARES = (30, 8, 0.5, 61.5)  # function words, the topic's, any helpdesk word, the made-up tail, of running text
# No made-up word may contain these (random syllables make words one would rather not show).
UNWANTED = ("fuck", "shit", "sex", "cunt", "cock", "dick", "nig", "fag", "puss", "tit", "cum", "ass", "rape",
            "porn", "anal", "piss", "slut", "whore", "nazi", "hitler", "kill")

# The search page's query mix (kind, share of the URLs): common helpdesk words (1-3, English),
# a rare word of a solution (the rarest of its made-up words), a phrase of it in quotes, a
# word of it with one letter changed (5 letters or more: read as a typo), 1-2 helpdesk
# words of German, French or Spanish, common words in one category, and a word of no
# solution (nothing found; 5 letters or more, so the typo correction looks for it too).
SEARCH_MIX = (("common", 30), ("rare", 15), ("phrase", 15), ("typo", 15), ("language", 10), ("category", 10),
              ("nothing", 5))
SEARCH_URLS = 500
SUGGEST_URLS = 500


def cache_key():
    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:10]


def cache_dir(root, n):
    return os.path.join(root, f"gen-{cache_key()}-n{n}")


def ensure(root, n):
    """(directory of the N solution files, meta), generated now if not in the cache."""
    path = cache_dir(root, n)
    meta_path = os.path.join(path, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            return os.path.join(path, "solutions"), json.load(f)
    if os.path.isdir(root):
        for name in os.listdir(root):  # disk is tight: other generators' sets of this size go
            other = os.path.join(root, name)
            if name.startswith("gen-") and (name.endswith(f"-n{n}") or name.endswith(f"-n{n}.partial")) \
                    and other != path:
                say(f"kb: removing the stale generated set {other}")
                shutil.rmtree(other, ignore_errors=True)
    partial = path + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(os.path.join(partial, "solutions"))
    say(f"kb: generating {n:,} solutions (once; cache {path})")
    t0 = time.perf_counter()
    meta = Generator(n).write(os.path.join(partial, "solutions"))
    meta["generated_s"] = time.perf_counter() - t0
    with open(os.path.join(partial, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    os.replace(partial, path)
    say(f"kb: generated in {meta['generated_s']:.0f} s: {meta['words']:,} words, {meta['bytes'] / 1e6:.0f} MB")
    return os.path.join(path, "solutions"), meta


def _zipf(n, s):
    return [1.0 / (r + 1) ** s for r in range(n)]


class Vocabulary:
    """One language's words and how often each is drawn."""

    def __init__(self, lang, rng, taken):
        self.lang = lang
        self.function = FUNCTION[lang]
        self.helpdesk = HELPDESK[lang]
        onsets, nuclei, codas = SYLLABLES[lang]
        tail = []
        while len(tail) < TAIL_WORDS:
            w = "".join(rng.choice(onsets) + rng.choice(nuclei) + rng.choice(codas)
                        for _ in range(rng.choice((2, 2, 2, 3))))
            if 4 <= len(w) <= 12 and w not in taken and not any(u in w for u in UNWANTED):
                taken.add(w)
                tail.append(w)
        self.tail = tail
        self.rank = {w: i for i, w in enumerate(tail)}
        self.cum_helpdesk = list(itertools.accumulate(_zipf(len(self.helpdesk), 0.9)))
        self.cum_tail = list(itertools.accumulate(_zipf(len(tail), 1.0)))
        self.is_function = set(self.function)
        # All but the topic's words, in one draw: each part's share spread by its Zipf weights.
        weights = []
        for words, share, s in ((self.function, SHARES[0], 1.0), (self.helpdesk, SHARES[2], 0.9),
                                (tail, SHARES[3], 1.0)):
            z = _zipf(len(words), s)
            total = sum(z)
            weights += [share * x / total for x in z]
        self.words = self.function + self.helpdesk + tail
        self.cum = list(itertools.accumulate(weights))
        self.topic_share = SHARES[1] / sum(SHARES)

    def running(self, rng, k, topic):
        """k words of running text about `topic` (a few helpdesk words)."""
        p = self.topic_share
        return [rng.choice(topic) if rng.random() < p else w
                for w in rng.choices(self.words, cum_weights=self.cum, k=k)]

    def helpdesk_word(self, rng):
        return self.helpdesk[bisect.bisect(self.cum_helpdesk, rng.random() * self.cum_helpdesk[-1])]

    def tail_word(self, rng):
        return self.tail[bisect.bisect(self.cum_tail, rng.random() * self.cum_tail[-1])]


class Generator:
    def __init__(self, n, seed=SEED):
        self.n = n
        self.rng = random.Random(seed)
        taken = set(w for ws in FUNCTION.values() for w in ws) | set(w for ws in HELPDESK.values() for w in ws)
        self.vocab = {lang: Vocabulary(lang, self.rng, taken) for lang, _ in LANGUAGES}
        self.taken = taken
        self.cum_category = list(itertools.accumulate(_zipf(len(CATEGORIES), 0.6)))

    def solution(self, i):
        """(slug, file text, facts kept for the queries)."""
        rng = self.rng
        lang = rng.choices([la for la, _ in LANGUAGES], cum_weights=list(itertools.accumulate(
            w for _, w in LANGUAGES)))[0]
        v = self.vocab[lang]
        visibility = "customers" if rng.random() < CUSTOMERS_SHARE else "public"
        category = (None if rng.random() < 0.03
                    else CATEGORIES[bisect.bisect(self.cum_category, rng.random() * self.cum_category[-1])])
        topic = list(dict.fromkeys(v.helpdesk_word(rng) for _ in range(rng.randint(2, 3))))
        title_words = [rng.choice(topic) if rng.random() < 0.5 else v.tail_word(rng)
                       for _ in range(rng.randint(4, 9))]
        title = " ".join([title_words[0].capitalize(), *title_words[1:]])
        tags = list(dict.fromkeys(rng.choice(topic) if rng.random() < 0.6 else v.helpdesk_word(rng)
                                  for _ in range(rng.randint(0, 4))))
        target = rng.randint(100, 400)
        blocks, sentences, count = [], [], 0
        while count < target:
            if blocks and rng.random() < 0.12:
                head = v.running(rng, rng.randint(2, 4), topic)
                items = [v.running(rng, rng.randint(2, 6), topic) for _ in range(rng.randint(3, 5))]
                blocks.append("## " + " ".join([head[0].capitalize(), *head[1:]]) + "\n\n"
                              + "\n".join("- " + " ".join(it) for it in items))
                count += len(head) + sum(len(it) for it in items)
                continue
            para = []
            for _ in range(rng.randint(2, 5)):
                ws = v.running(rng, rng.randint(6, 16), topic)
                sentences.append(ws)
                para.append(" ".join([ws[0].capitalize(), *ws[1:]]) + ".")
                count += len(ws)
            blocks.append(" ".join(para))
        slug = f"d{i // PER_DIR:03d}/s{i:06d}"
        front = [f"title: {title}"]
        if category:
            front.append(f"category: {category}")
        front += [f"tags: [{', '.join(tags)}]", f"language: {lang}", f"visibility: {visibility}"]
        text = "---\n" + "\n".join(front) + "\n---\n" + "\n\n".join(blocks) + "\n"
        words = {w for ws in sentences for w in ws} | set(title_words) | set(tags)
        return slug, text, {"lang": lang, "visibility": visibility, "category": category, "title": title,
                            "sentences": sentences, "words": words, "count": count}

    def write(self, root):
        df = {}
        samples = []
        by = {"language": {}, "visibility": {}, "category": {}}
        customers = []
        total_words = total_bytes = 0
        for i in range(self.n):
            slug, text, facts = self.solution(i)
            d = os.path.join(root, slug.split("/")[0])
            if i % PER_DIR == 0:
                os.makedirs(d, exist_ok=True)
            data = text.encode()
            with open(os.path.join(root, slug + ".md"), "wb") as f:
                f.write(data)
            total_bytes += len(data)
            total_words += facts["count"]
            for w in facts["words"]:
                df[w] = df.get(w, 0) + 1
            for key in by:
                value = facts[key if key != "language" else "lang"] or "(none)"
                by[key][value] = by[key].get(value, 0) + 1
            if facts["visibility"] == "customers":
                customers.append(slug)
            if i % SAMPLE_EVERY == 7:
                facts["slug"] = slug
                del facts["words"]
                samples.append(facts)
        search, suggest = self.queries(samples, df)
        return {"solutions": self.n, "seed": SEED, "key": cache_key(), "words": total_words, "bytes": total_bytes,
                "by": by, "customers_only": customers, "search": search, "suggest": suggest,
                "helpdesk_df": {w: df.get(w, 0) for w in HELPDESK["en"][:10]}}

    def queries(self, samples, df):
        """The search page's URLs [(kind, query string, solutions the words are in)] and the
        suggestions' [query string]."""
        rng = random.Random(SEED + 1)
        public = [s for s in samples if s["visibility"] == "public"]
        en = self.vocab["en"]
        search = []
        kinds = rng.choices([k for k, _ in SEARCH_MIX], weights=[w for _, w in SEARCH_MIX], k=SEARCH_URLS)
        for kind in kinds:
            category = None
            if kind in ("common", "category"):
                words = list(dict.fromkeys(en.helpdesk_word(rng) for _ in range(rng.randint(1, 3))))
                q = " ".join(words)
                if kind == "category":
                    category = rng.choice(CATEGORIES[:6])
                found = min(df.get(w, 0) for w in words)
            elif kind == "language":
                v = self.vocab[rng.choice(("de", "fr", "es"))]
                words = list(dict.fromkeys(v.helpdesk_word(rng) for _ in range(rng.randint(1, 2))))
                q, found = " ".join(words), min(df.get(w, 0) for w in words)
            elif kind == "nothing":
                while True:
                    q = "".join(rng.choice("qxzkvwy") + rng.choice("aeiou") for _ in range(3))
                    if q not in self.taken and q not in df:
                        break
                found = 0
            else:
                s = rng.choice(public)
                v = self.vocab[s["lang"]]
                body = [w for ws in s["sentences"] for w in ws]
                if kind == "rare":
                    q = max((w for w in body if w in v.rank), key=lambda w: v.rank[w])
                    found = df[q]
                elif kind == "phrase":
                    runs = [ws[j:j + k] for ws in s["sentences"] for k in (2, 3) for j in range(len(ws) - k + 1)
                            if not any(w in v.is_function for w in ws[j:j + k])]
                    phrase = rng.choice(runs)
                    q, found = '"' + " ".join(phrase) + '"', min(df[w] for w in phrase)
                else:  # typo: one letter of a word of 5 letters or more changed
                    long = [w for w in body if len(w) >= 6 and w.isalpha() and w.isascii()]
                    w = rng.choice(long)
                    for _ in range(20):
                        j = rng.randrange(1, len(w) - 1)
                        typo = w[:j] + rng.choice([c for c in "abcdefghilmnoprstu" if c != w[j]]) + w[j + 1:]
                        if typo not in df:
                            break
                    q, found = typo, df[w]
            qs = "q=" + urllib.parse.quote_plus(q)
            if category:
                qs += "&category=" + urllib.parse.quote_plus(category)
            search.append((kind, qs, found))
        suggest = []
        for _ in range(SUGGEST_URLS):
            words = rng.choice(samples)["title"].split()
            typed = words[:rng.randint(2, min(4, len(words)))]
            if rng.random() < 1 / 3 and len(typed[-1]) > 3:  # paused in the middle of a word
                typed[-1] = typed[-1][:rng.randint(3, len(typed[-1]) - 1)]
            suggest.append("q=" + urllib.parse.quote_plus(" ".join(typed)))
        return search, suggest
