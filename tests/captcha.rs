//! The portal's captcha on SQLite and PostgreSQL: a challenge is accepted once, by its
//! solution or the answer to its question, a wrong try uses it up, and used ones are
//! forgotten when they expire. The script's SHA-256 and search agree with Rust's where a
//! JavaScript engine (Node.js) is at hand; in a browser, the portal's browser test.

mod common;

use common::{Db, TestApp};
use maildesk::desk::captcha::{self, CaptchaError, CaptchaForm, Challenge};

/// An app whose captcha asks little work, so the tests solve it at once.
async fn app(db: Db) -> TestApp {
    TestApp::with(db, |c| c.portal.captcha_bits = 8).await
}

/// The answer to `challenge`'s question ("What is 7 plus 4?").
fn answer_of(challenge: &Challenge) -> u32 {
    let words = challenge.question.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty());
    words.map(|n| n.parse::<u32>().unwrap()).sum()
}

fn solved(challenge: &Challenge) -> CaptchaForm {
    CaptchaForm {
        captcha: challenge.token.clone(),
        captcha_nonce: captcha::solve(&challenge.token).unwrap(),
        ..CaptchaForm::default()
    }
}

fn answered(challenge: &Challenge, answer: u32) -> CaptchaForm {
    CaptchaForm { captcha: challenge.token.clone(), captcha_answer: answer.to_string(), ..CaptchaForm::default() }
}

on_both!(a_challenge_id_is_used_once_and_forgotten_after_it_expires, |db| {
    let t = app(db).await;
    let mut conn = t.db().await;
    assert!(conn.use_captcha("first", 1_000).await.unwrap(), "the first use counts");
    assert!(!conn.use_captcha("first", 1_000).await.unwrap(), "a replay does not");
    assert!(!conn.use_captcha("first", 9_000).await.unwrap(), "not even with another expiry");
    assert!(conn.use_captcha("second", 2_000).await.unwrap());
    assert!(conn.use_captcha("third", 3_000).await.unwrap());

    assert_eq!(conn.sweep_captchas(1_000).await.unwrap(), 0, "valid to its last second");
    assert_eq!(conn.sweep_captchas(2_500).await.unwrap(), 2);
    assert_eq!(conn.sweep_captchas(2_500).await.unwrap(), 0);
    assert!(conn.use_captcha("first", 1_000).await.unwrap(), "forgotten once expired");
    assert!(!conn.use_captcha("third", 3_000).await.unwrap(), "kept until it expires");
});

on_both!(a_solved_challenge_passes_once_and_a_replay_is_refused, |db| {
    let t = app(db).await;
    let challenge = captcha::issue(&t.app);
    assert_eq!(challenge.bits, 8);
    let now = maildesk::store::now();
    assert!((now + 19 * 60..=now + 20 * 60).contains(&challenge.expires_at), "captcha_minutes = 20");
    let form = solved(&challenge);
    captcha::verify(&t.app, &form).await.unwrap();
    let replay = captcha::verify(&t.app, &form).await;
    assert!(matches!(replay, Err(CaptchaError::Reused)), "{replay:?}");
    assert_eq!(replay.unwrap_err().to_string(), "This form was already sent once. Please send it again.");

    // Without JavaScript: the answer to the question.
    let challenge = captcha::issue(&t.app);
    captcha::verify(&t.app, &answered(&challenge, answer_of(&challenge))).await.unwrap();
    let replay = captcha::verify(&t.app, &answered(&challenge, answer_of(&challenge))).await;
    assert!(matches!(replay, Err(CaptchaError::Reused)), "{replay:?}");
    // Each challenge is its own: a new one passes.
    captcha::verify(&t.app, &solved(&captcha::issue(&t.app))).await.unwrap();
});

on_both!(a_wrong_answer_uses_the_challenge_up, |db| {
    let t = app(db).await;
    let challenge = captcha::issue(&t.app);
    let right = answer_of(&challenge);
    let wrong = captcha::verify(&t.app, &answered(&challenge, right + 1)).await;
    assert!(matches!(wrong, Err(CaptchaError::Wrong)), "{wrong:?}");
    // So the few possible answers cannot be tried one by one.
    let again = captcha::verify(&t.app, &answered(&challenge, right)).await;
    assert!(matches!(again, Err(CaptchaError::Reused)), "{again:?}");

    // A form with neither solution nor answer says so, and leaves the challenge for a
    // right answer; refusals before the signature is known record nothing.
    let challenge = captcha::issue(&t.app);
    let empty = CaptchaForm { captcha: challenge.token.clone(), ..CaptchaForm::default() };
    assert!(matches!(captcha::verify(&t.app, &empty).await, Err(CaptchaError::Unanswered)));
    let forged = CaptchaForm { captcha: format!("{}x", challenge.token), ..solved(&challenge) };
    assert!(matches!(captcha::verify(&t.app, &forged).await, Err(CaptchaError::Malformed)));
    captcha::verify(&t.app, &solved(&challenge)).await.unwrap();
});

on_both!(two_requests_racing_with_one_solution_pass_once, |db| {
    let t = app(db).await;
    let form = solved(&captcha::issue(&t.app));
    let results = futures::future::join_all((0..4).map(|_| captcha::verify(&t.app, &form))).await;
    let passed = results.iter().filter(|r| r.is_ok()).count();
    let reused = results.iter().filter(|r| matches!(r, Err(CaptchaError::Reused))).count();
    assert_eq!((passed, reused), (1, 3), "{results:?}");
});

/// Runs `program` under Node.js, the script's path in `process.argv[1]`; its standard
/// output. `scripts/test` installs Debian's `nodejs`; without it the test fails, never
/// passes unchecked.
fn node(program: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("captcha.js");
    std::fs::write(&script, captcha::CAPTCHA_JS).unwrap();
    let output = match std::process::Command::new("node").arg("-e").arg(program).arg(&script).output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run node ({e}): run scripts/test, which installs Debian's nodejs"),
    };
    assert!(output.status.success(), "node failed: {}", String::from_utf8_lossy(&output.stderr));
    Some(String::from_utf8(output.stdout).unwrap())
}

/// Loads the script outside a page, where it offers its pieces as a module.
const LOAD: &str = "const captcha = require(process.argv[1]);\n";

#[test]
fn the_scripts_sha256_agrees_with_rusts() {
    use sha2::{Digest, Sha256};
    // Lengths around the block boundaries, where padding goes wrong.
    let inputs: Vec<String> = [0, 1, 3, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 200]
        .iter()
        .map(|&n| "abcdefghij".repeat(30)[..n].to_string())
        .collect();
    let program = format!(
        "{LOAD}for (const s of {}) console.log(captcha.sha256Hex(s));",
        serde_json::to_string(&inputs).unwrap()
    );
    let Some(output) = node(&program) else { return };
    let hashes: Vec<&str> = output.lines().collect();
    assert_eq!(hashes.len(), inputs.len());
    for (input, hash) in inputs.iter().zip(hashes) {
        assert_eq!(hash, hex::encode(Sha256::digest(input)), "SHA-256 of {} bytes", input.len());
    }
}

#[tokio::test]
async fn a_nonce_the_script_finds_verifies() {
    let t = TestApp::with(Db::Sqlite, |c| c.portal.captcha_bits = 14).await;
    let challenge = captcha::issue(&t.app);
    let program = format!(
        "{LOAD}const search = new captcha.Search({:?}, {}); let found = null; while (found === null) found = search.run(4096); console.log(found);",
        challenge.token, challenge.bits
    );
    let Some(output) = node(&program) else { return };
    let nonce = output.trim().to_string();
    assert_eq!(Some(nonce.clone()), captcha::solve(&challenge.token), "the script counts up from 0 as solve does");
    let form = CaptchaForm { captcha: challenge.token.clone(), captcha_nonce: nonce, ..CaptchaForm::default() };
    captcha::verify(&t.app, &form).await.unwrap();
}

#[tokio::test]
async fn the_script_takes_over_a_form_as_the_contract_says() {
    let t = TestApp::with(Db::Sqlite, |c| c.portal.captcha_bits = 12).await;
    let challenge = captcha::issue(&t.app);
    // A stand-in for the page: just the elements and calls the script uses.
    let page = format!(
        r#"
        const el = (props) => Object.assign({{ hidden: false, disabled: false, required: false }}, props);
        const fields = {{
            captcha: el({{ value: {token:?} }}), captcha_nonce: el({{ value: 'stale' }}),
            captcha_answer: el({{ value: '', required: true }}),
        }};
        const fallback = el({{}}), status = el({{ textContent: '' }}), button = el({{}});
        const seen = {{ during: null }};
        const form = {{
            elements: fields,
            querySelector: (s) => ({{ '[data-captcha-fallback]': fallback, '[data-captcha-status]': status }})[s] || null,
            querySelectorAll: () => [button],
            addEventListener: () => {{}},
        }};
        global.document = {{ readyState: 'interactive', querySelectorAll: (s) => s === 'form[data-captcha]' ? [form] : [] }};
        require(process.argv[1]);
        seen.during = {{ fallback: fallback.hidden, answer: fields.captcha_answer.disabled, button: button.disabled, status: status.textContent }};
        const deadline = Date.now() + 20000;
        (function wait() {{
            if (Date.now() > deadline) {{ console.error('not solved in 20 s:', status.textContent); process.exit(1); }}
            if (!fields.captcha_nonce.value || fields.captcha_nonce.value === 'stale') return setTimeout(wait, 5);
            console.log(JSON.stringify({{ during: seen.during, nonce: fields.captcha_nonce.value,
                fallback: fallback.hidden, answer: fields.captcha_answer.disabled, button: button.disabled, status: status.textContent }}));
            process.exit(0);
        }})();
        "#,
        token = challenge.token
    );
    let Some(output) = node(&page) else { return };
    let state: serde_json::Value = serde_json::from_str(&output).unwrap();
    let during = &state["during"];
    assert_eq!(during["fallback"], true, "the question is hidden while the script works: {state}");
    assert_eq!(during["answer"], true, "and its field neither required nor sent: {state}");
    assert_eq!(during["button"], true, "the form waits for the solution: {state}");
    assert_eq!(during["status"], "Preparing the form…", "{state}");
    assert_eq!((&state["fallback"], &state["answer"], &state["button"]), (&true.into(), &true.into(), &false.into()));
    assert_eq!(state["status"], "Ready.", "{state}");
    let nonce = state["nonce"].as_str().unwrap().to_string();
    let form = CaptchaForm { captcha: challenge.token.clone(), captcha_nonce: nonce, ..CaptchaForm::default() };
    captcha::verify(&t.app, &form).await.unwrap();
}
