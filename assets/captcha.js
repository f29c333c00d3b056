/*
 * maildesk captcha: solves the portal's proof-of-work challenge in the page, so that a
 * person with JavaScript never sees the fallback question. Served by the portal from the
 * binary (desk::captcha::CAPTCHA_JS) and included as
 *     <script src="/static/captcha.js" defer></script>
 * No inline script, no modules, no crypto.subtle (missing on plain-HTTP installs): the
 * script brings its own SHA-256, checked against a known answer when it loads.
 *
 * The HTML contract (desk::captcha's module doc says the same):
 *
 *   <form method="post" data-captcha>                    the attribute marks the form
 *     <input type="hidden" name="captcha" value="CHALLENGE">    the challenge, as issued
 *     <input type="hidden" name="captcha_nonce" value="">        filled in here when solved
 *     <div data-captcha-fallback>            the question for browsers without JavaScript
 *       <label for="captcha_answer">What is 7 plus 4? (in digits)</label>
 *       <input id="captcha_answer" name="captcha_answer" required
 *              inputmode="numeric" autocomplete="off">
 *     </div>
 *     <p data-captcha-status aria-live="polite"></p>     optional: progress, in words
 *     <button type="submit">Sign up</button>
 *   </form>
 *
 * What this script does with it: it hides the fallback and disables its input (a disabled
 * field is neither required nor sent), disables the form's submit buttons, and searches
 * for a nonce such that SHA-256(CHALLENGE + ":" + nonce) starts with as many zero bits as
 * the challenge's third dot-separated part says. It works in slices of a few tens of
 * milliseconds so the page stays responsive, writing progress into the status element.
 * Solved, it writes the nonce into captcha_nonce and enables the buttons. Should anything
 * fail, or the work take unusually long, the fallback question comes back, so the form can
 * always be sent. Without JavaScript none of this happens: the question is visible and
 * required, and the server checks the answer instead.
 */
(function () {
  'use strict';

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var W = new Int32Array(64);

  /* One SHA-256 compression: state H (8 words) absorbs the 64-byte block at bytes[at]. */
  function compress(H, bytes, at) {
    var i, x, y, t1, t2;
    for (i = 0; i < 16; i++, at += 4) {
      W[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
    }
    for (i = 16; i < 64; i++) {
      x = W[i - 15];
      y = W[i - 2];
      W[i] = (W[i - 16] + W[i - 7]
        + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3))
        + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
    }
    var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (i = 0; i < 64; i++) {
      t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
        + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10)))
        + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
    H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
  }

  /* The bytes of an ASCII string (challenges and nonces are ASCII). */
  function ascii(text) {
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i) & 0xff; }
    return out;
  }

  /* Pads the `length` message bytes already in buf[from..] (buf zeroed past them) and
     compresses the rest into H; `total` is the whole message's length in bytes. */
  function finish(H, buf, length, total) {
    buf[length] = 0x80;
    var end = length + 9 <= 64 ? 64 : 128;
    var bits = total * 8;
    buf[end - 5] = (bits / 0x100000000) & 0xff;
    buf[end - 4] = (bits >>> 24) & 0xff;
    buf[end - 3] = (bits >>> 16) & 0xff;
    buf[end - 2] = (bits >>> 8) & 0xff;
    buf[end - 1] = bits & 0xff;
    compress(H, buf, 0);
    if (end === 128) { compress(H, buf, 64); }
  }

  /* SHA-256 of an ASCII string, as 64 hex digits. */
  function sha256Hex(text) {
    var bytes = ascii(text);
    var H = new Int32Array(INITIAL);
    var full = bytes.length - (bytes.length % 64);
    for (var at = 0; at < full; at += 64) { compress(H, bytes, at); }
    var buf = new Uint8Array(128);
    buf.set(bytes.subarray(full));
    finish(H, buf, bytes.length - full, bytes.length);
    var hex = '';
    for (var i = 0; i < 8; i++) { hex += ('0000000' + (H[i] >>> 0).toString(16)).slice(-8); }
    return hex;
  }

  /* A search for a nonce of `challenge` with `bits` leading zero bits (1 to 32). The
     prefix's whole blocks are compressed once; each try then costs one compression. */
  function Search(challenge, bits) {
    var prefix = ascii(challenge + ':');
    this.full = prefix.length - (prefix.length % 64);
    this.mid = new Int32Array(INITIAL);
    for (var at = 0; at < this.full; at += 64) { compress(this.mid, prefix, at); }
    this.tail = prefix.subarray(this.full);
    this.total = prefix.length;
    this.shift = 32 - bits;
    this.next = 0;
    this.H = new Int32Array(8);
    this.buf = new Uint8Array(128);
  }

  /* Tries up to `count` nonces; returns the one found, or null. */
  Search.prototype.run = function (count) {
    var H = this.H, buf = this.buf, tail = this.tail, n = this.tail.length, i, digits, length;
    for (var stop = this.next + count; this.next < stop; this.next++) {
      digits = String(this.next);
      buf.fill(0);
      buf.set(tail);
      for (i = 0; i < digits.length; i++) { buf[n + i] = digits.charCodeAt(i); }
      length = n + digits.length;
      H.set(this.mid);
      finish(H, buf, length, this.total + digits.length);
      if (this.shift === 0 ? H[0] === 0 : (H[0] >>> this.shift) === 0) { return digits; }
    }
    return null;
  };

  /* Gives the page a turn, then calls `next`: a message is not throttled like a timer. */
  var channel = null, queue = [];
  function later(next) {
    if (typeof MessageChannel === 'undefined') { setTimeout(next, 0); return; }
    if (channel === null) {
      channel = new MessageChannel();
      channel.port1.onmessage = function () { queue.shift()(); };
    }
    queue.push(next);
    channel.port2.postMessage(0);
  }

  var SLICE_MS = 40;
  var SLOW_MS = 15000;
  var SAY_EVERY_MS = 1000;

  function start(form) {
    var challenge = form.elements.captcha, nonce = form.elements.captcha_nonce;
    var bits = challenge ? parseInt(challenge.value.split('.')[2], 10) : NaN;
    if (!nonce || !(bits >= 1 && bits <= 32)) { return; }
    var fallback = form.querySelector('[data-captcha-fallback]');
    var answer = form.elements.captcha_answer;
    var status = form.querySelector('[data-captcha-status]');
    var buttons = form.querySelectorAll('button[type=submit], button:not([type]), input[type=submit]');
    var solved = false, asking = false;

    function say(text) { if (status) { status.textContent = text; } }
    function enable(on) { for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = !on; } }
    function ask(text) {
      asking = true;
      if (fallback) { fallback.hidden = false; }
      if (answer) { answer.disabled = false; answer.required = !solved; }
      enable(true);
      say(text);
    }

    nonce.value = '';
    if (fallback) { fallback.hidden = true; }
    if (answer) { answer.disabled = true; }
    enable(false);
    say('Preparing the form\u2026');
    form.addEventListener('submit', function (event) {
      if (!solved && !asking) { event.preventDefault(); }
    });

    var search, began = Date.now(), said = began, expected = Math.pow(2, bits);
    try { search = new Search(challenge.value, bits); } catch (e) { ask('Please answer the question.'); return; }
    function slice() {
      var found = null, sliceEnd = Date.now() + SLICE_MS;
      try {
        while (found === null && Date.now() < sliceEnd) { found = search.run(1024); }
      } catch (e) {
        ask('Please answer the question.');
        return;
      }
      if (found !== null) {
        solved = true;
        nonce.value = found;
        if (answer) { answer.required = false; }
        enable(true);
        say(asking ? 'Ready: no need to answer the question now.' : 'Ready.');
        return;
      }
      if (!asking && Date.now() - began > SLOW_MS) {
        ask('This is taking long: you may answer the question instead.');
      } else if (!asking && Date.now() - said >= SAY_EVERY_MS) {
        /* The chance of having found it by now: a live region read out once a second. */
        said = Date.now();
        say('Preparing the form\u2026 ' + Math.min(99, Math.floor(100 * (1 - Math.exp(-search.next / expected)))) + '%');
      }
      later(slice);
    }
    later(slice);
  }

  function init() {
    if (sha256Hex('abc') !== 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad') {
      return; /* a broken engine: the fallback questions stay */
    }
    var forms = document.querySelectorAll('form[data-captcha]');
    for (var i = 0; i < forms.length; i++) { start(forms[i]); }
  }

  if (typeof document === 'undefined') {
    /* Not in a page (a test runner): offer the pieces instead. */
    if (typeof module !== 'undefined') { module.exports = { sha256Hex: sha256Hex, Search: Search }; }
  } else if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
