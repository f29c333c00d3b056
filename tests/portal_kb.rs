//! The knowledge base in the portal (MISSION KB3, KB4, KB6), over HTTP in process, on
//! SQLite and PostgreSQL: who sees which solution on every page (anything else is a 404 as
//! if it did not exist), search with highlighted snippets and a category filter, views that
//! reloading cannot inflate, "did this help?" (one answer per visitor, CSRF required), the
//! files beside a solution, and the suggestions while a customer types a new request —
//! recorded, opened, rate-limited, and counted for `maildesk kb stats`.

mod common;

// Every test sits in this module, so that `scripts/test portal_kb` selects exactly these tests.
mod portal_kb {
    use super::common;
    use crate::on_both;

    use std::path::{Path, PathBuf};

    use axum::http::StatusCode;
    use common::portal_app::{Browser, acme, encode, sign_up_as};
    use common::{TestApp, mail};
    use maildesk::desk::kb_pages::{self, SUGGESTS_PER_MINUTE};
    use maildesk::desk::{Outcome, receive};
    use maildesk::domain::{ContactId, Source};
    use maildesk::store::SolutionActivity;

    /// The start of a PNG file: enough for anything that looks at its first bytes.
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    /// The relevance set: 78 solutions about Paperkite.
    fn relevance_set() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kb/solutions")
    }

    /// The portal of the Acme desk where each of `writers` has opened a request by mail (so
    /// that they may sign up), with the knowledge base of `dir` imported after that.
    ///
    async fn kb_desk(db: common::Db, dir: &Path, writers: &[&str]) -> TestApp {
        let t = acme(db).await;
        for who in writers {
            write(&t, who, &format!("hello.{who}")).await;
        }
        maildesk::desk::kb::import(&t.app, dir).await.expect("import");
        // Built, as the daemon builds it at start: mail is never held up to build it.
        maildesk::desk::kb::index(&t.app).await.expect("index");
        t
    }

    /// A mail from `who` with Message-ID `id` that opens a request: its number.
    async fn write(t: &TestApp, who: &str, id: &str) -> i64 {
        let raw = mail(who, "Hello", Some(id), "", "Hi.");
        match receive(&t.app, &raw, &Source::Pipe).await.unwrap() {
            Outcome::Opened(n) => n.0,
            other => panic!("expected a new request, got {other:?}"),
        }
    }

    /// A customer of Acme who wrote to us, signed in: their browser and contact.
    async fn customer(t: &TestApp, address: &str, client: &str) -> (Browser, ContactId) {
        let browser = sign_up_as(t, address, client).await;
        let contact = t.db().await.contact_by_email(address).await.unwrap().unwrap().id;
        (browser, contact)
    }

    /// The titles of the relevance set's solutions for customers only.
    fn customers_only_titles() -> Vec<String> {
        let mut titles = Vec::new();
        let mut dirs = vec![relevance_set()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "md") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains("\nvisibility: customers") {
                        let title = text.lines().find_map(|l| l.strip_prefix("title: ")).unwrap();
                        titles.push(title.trim_matches('"').to_string());
                    }
                }
            }
        }
        assert!(titles.len() >= 5, "the relevance set has solutions for customers");
        titles
    }

    /// What visitors did with solution `slug`, as `maildesk kb stats` reads it.
    async fn activity(t: &TestApp, slug: &str) -> SolutionActivity {
        let all = kb_pages::form_stats(&t.app).await.unwrap();
        all.into_iter().find(|a| a.slug == slug).unwrap_or_else(|| panic!("no solution {slug}"))
    }

    /// Askama escapes `'` and `"` in text; titles are compared as a page shows them.
    fn escaped(text: &str) -> String {
        text.replace('&', "&#38;").replace('\'', "&#39;").replace('"', "&#34;")
    }

    on_both!(anonymous_visitors_see_public_solutions_only_and_customers_see_theirs_too, |db| {
        let t = kb_desk(db, &relevance_set(), &["jane@acme.example"]).await;
        let secret = customers_only_titles();
        let mut anonymous = Browser::new("192.0.2.10:1");
        let pages = [
            "/kb",
            "/kb/search?q=audit+log",
            "/kb/search?q=saml+single+sign-on",
            "/kb/search?q=audit&category=Administration",
            "/kb/category/Administration",
        ];
        for path in pages {
            let page = anonymous.get(&t, path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            for title in &secret {
                assert!(!page.body.contains(&escaped(title)), "{path} shows {title:?} to an anonymous visitor");
            }
        }
        let home = anonymous.get(&t, "/kb").await;
        assert!(home.body.contains(r#"href="/kb/category/Administration""#), "{}", home.body);
        assert!(home.body.contains("Recently updated") && home.body.contains(r#"action="/kb/search""#));
        for path in ["/kb/admin/audit-log", "/kb/fr/admin/journal-d-audit", "/kb/no/such/solution", "/kb/category/Nope"]
        {
            assert_eq!(anonymous.get(&t, path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        let public = anonymous.get(&t, "/kb/accounts/enable-2fa").await;
        assert_eq!(public.status, StatusCode::OK);
        assert!(public.body.contains("Turn on two-step verification"));
        assert!(public.body.contains(r#"href="/kb/category/Accounts""#), "the category is linked");
        assert!(public.body.contains("Did this help?") && public.body.contains(r#"action="/kb/feedback""#));
        // The header links the knowledge base for everyone.
        assert!(public.body.contains(r#"<a href="/kb">Solutions</a>"#));

        let (mut jane, _) = customer(&t, "jane@acme.example", "192.0.2.11:1").await;
        let page = jane.get(&t, "/kb/admin/audit-log").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Use the audit log to see who did what"));
        let found = jane.get(&t, "/kb/search?q=audit+log").await;
        assert!(found.body.contains(r#"href="/kb/admin/audit-log""#), "{}", found.body);
        assert!(jane.get(&t, "/requests").await.body.contains(r#"<a href="/kb">Solutions</a>"#));
        // The category's count is what each may see.
        let count = |body: &str| -> i64 {
            let at = body.find(r#"href="/kb/category/Administration">"#).unwrap();
            let rest = &body[at..];
            let count = &rest[rest.find(r#"class="count">"#).unwrap() + 14..];
            count[..count.find('<').unwrap()].parse().unwrap()
        };
        let (theirs, mine) = (count(&anonymous.get(&t, "/kb").await.body), count(&jane.get(&t, "/kb").await.body));
        assert!(theirs < mine, "anonymous {theirs}, customer {mine}");
        // The reserved words never reach the solution route.
        assert_eq!(anonymous.get(&t, "/kb/suggest/x").await.status, StatusCode::NOT_FOUND);
        assert_eq!(anonymous.get(&t, "/kb/solved/x").await.status, StatusCode::NOT_FOUND);
        // `/kb/solved` itself is the page of an acknowledgement's link: without one, it says so.
        let no_link = anonymous.get(&t, "/kb/solved").await;
        assert_eq!(no_link.status, StatusCode::CONFLICT);
        assert!(no_link.body.contains("This link is not valid"), "{}", no_link.body);
    });

    on_both!(search_shows_highlighted_snippets_filters_by_category_and_says_when_nothing_is_found, |db| {
        let t = kb_desk(db, &relevance_set(), &[]).await;
        let mut b = Browser::new("192.0.2.20:1");
        let found = b.get(&t, "/kb/search?q=two-step+verification").await;
        assert_eq!(found.status, StatusCode::OK);
        assert!(found.body.contains(r#"href="/kb/accounts/enable-2fa""#), "{}", found.body);
        assert!(found.body.contains("<mark>"), "the snippet highlights the words: {}", found.body);
        assert!(found.body.contains(r#"value="two-step verification""#), "the search is kept in its box");
        // The filter: every category, and this one.
        assert!(
            found.body.contains(r#"href="/kb/search?q=two%2Dstep%20verification&#38;category=Billing""#),
            "{}",
            found.body
        );
        let billing = b.get(&t, "/kb/search?q=two-step+verification&category=Billing").await;
        assert!(!billing.body.contains(r#"href="/kb/accounts/enable-2fa""#), "{}", billing.body);
        assert!(billing.body.contains(r#"aria-current="page">Billing"#));
        let accounts = b.get(&t, "/kb/search?q=two-step+verification&category=Accounts").await;
        assert!(accounts.body.contains(r#"href="/kb/accounts/enable-2fa""#));

        let nothing = b.get(&t, "/kb/search?q=zzyzx+qwxv").await;
        assert_eq!(nothing.status, StatusCode::OK);
        assert!(nothing.body.contains("Nothing found for “zzyzx qwxv”"), "{}", nothing.body);
        assert!(nothing.body.contains("Try other or fewer words"));
        // No words: the home's search box.
        let empty = b.get(&t, "/kb/search?q=").await;
        assert_eq!(empty.status, StatusCode::OK);
        assert!(empty.body.contains("Browse by category") && empty.body.contains(r#"id="kb-q""#));
        // Hostile words are text.
        let hostile = b.get(&t, &format!("/kb/search?q={}", encode("<script>alert(1)</script> sync"))).await;
        assert!(!hostile.body.contains("<script>alert"), "{}", hostile.body);
    });

    on_both!(reloading_a_solution_counts_one_view_per_visitor_and_day, |db| {
        let t = kb_desk(db, &relevance_set(), &[]).await;
        let slug = "accounts/enable-2fa";
        // A browser with its cookie: however often it reloads, one view.
        let mut b = Browser::new("192.0.2.30:1");
        b.get(&t, "/kb").await;
        assert!(!b.cookies.is_empty(), "the knowledge base gives a browser its anonymous id");
        for _ in 0..3 {
            assert_eq!(b.get(&t, &format!("/kb/{slug}")).await.status, StatusCode::OK);
        }
        assert_eq!(activity(&t, slug).await.views, 1);
        // Without cookies, repeats from one address count once.
        for _ in 0..3 {
            let mut bare = Browser::new("192.0.2.31:7");
            assert_eq!(bare.get(&t, &format!("/kb/{slug}")).await.status, StatusCode::OK);
        }
        assert_eq!(activity(&t, slug).await.views, 2);
        // Another visitor is another view; the store keeps no raw id.
        let mut other = Browser::new("192.0.2.32:1");
        other.get(&t, "/kb").await;
        other.get(&t, &format!("/kb/{slug}")).await;
        let seen = activity(&t, slug).await;
        assert_eq!((seen.views, seen.views_30_days), (3, 3));
        // A browser whose first page is the solution: counted by its address, then by the
        // cookie that page gave it, which is of today — one view, not two.
        let mut first = Browser::new("192.0.2.33:1");
        first.get(&t, &format!("/kb/{slug}")).await;
        assert!(!first.cookies.is_empty(), "the solution page gives a browser its anonymous id");
        for _ in 0..2 {
            first.get(&t, &format!("/kb/{slug}")).await;
        }
        assert_eq!(activity(&t, slug).await.views, 4);
        // A colleague behind that address, whose browser got its id on an earlier day, is
        // someone else.
        let mut colleague = Browser::new("192.0.2.33:2");
        let earlier = maildesk::desk::kb_pages::today() - 3;
        colleague.cookies.insert("__Host-maildesk-visitor".into(), format!("{}.{earlier}", "ab".repeat(32)));
        colleague.get(&t, &format!("/kb/{slug}")).await;
        colleague.get(&t, &format!("/kb/{slug}")).await;
        assert_eq!(activity(&t, slug).await.views, 5);
        // The most viewed are on the home.
        let home = b.get(&t, "/kb").await;
        let most = &home.body[home.body.find("Most viewed").expect("a most viewed list")..];
        assert!(most.contains(r#"href="/kb/accounts/enable-2fa""#), "{}", home.body);
        // A solution a visitor may not see is not counted.
        b.get(&t, "/kb/admin/audit-log").await;
        assert_eq!(activity(&t, "admin/audit-log").await.views, 0);
    });

    on_both!(did_this_help_is_one_answer_per_visitor_replaced_by_a_later_one_and_needs_the_csrf_token, |db| {
        let t = kb_desk(db, &relevance_set(), &[]).await;
        let slug = "accounts/enable-2fa";
        let mut b = Browser::new("192.0.2.40:1");
        let page = b.get(&t, &format!("/kb/{slug}")).await;
        let csrf = page.csrf();
        let refused = b.post(&t, "/kb/feedback", &[("slug", slug), ("helpful", "yes")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let forged = b.post(&t, "/kb/feedback", &[("csrf", &"0".repeat(64)), ("slug", slug), ("helpful", "yes")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!((activity(&t, slug).await.helpful, activity(&t, slug).await.unhelpful), (0, 0));

        let yes = b.post(&t, "/kb/feedback", &[("csrf", &csrf), ("slug", slug), ("helpful", "yes")]).await;
        assert_eq!(yes.status, StatusCode::SEE_OTHER, "{}", yes.body);
        assert_eq!(yes.header("location"), Some("/kb/accounts/enable-2fa?voted=1#feedback"));
        let thanked = b.get(&t, "/kb/accounts/enable-2fa?voted=1").await;
        assert!(thanked.body.contains("Thank you for telling us."));
        b.post(&t, "/kb/feedback", &[("csrf", &csrf), ("slug", slug), ("helpful", "yes")]).await;
        let a = activity(&t, slug).await;
        assert_eq!((a.helpful, a.unhelpful), (1, 0), "one answer per visitor");
        b.post(&t, "/kb/feedback", &[("csrf", &csrf), ("slug", slug), ("helpful", "no")]).await;
        let a = activity(&t, slug).await;
        assert_eq!((a.helpful, a.unhelpful), (0, 1), "a later answer replaces the earlier one");

        let mut other = Browser::new("192.0.2.41:1");
        let csrf = other.get(&t, &format!("/kb/{slug}")).await.csrf();
        other.post(&t, "/kb/feedback", &[("csrf", &csrf), ("slug", slug), ("helpful", "yes")]).await;
        let a = activity(&t, slug).await;
        assert_eq!((a.helpful, a.unhelpful), (1, 1));
        // Nothing about a solution the visitor may not see, nor one that does not exist.
        for gone in ["admin/audit-log", "no/such"] {
            let answer = other.post(&t, "/kb/feedback", &[("csrf", &csrf), ("slug", gone), ("helpful", "yes")]).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{gone}");
        }
        assert_eq!(activity(&t, "admin/audit-log").await.helpful, 0);
    });

    /// A small knowledge base: a public solution with a picture, a file that only claims to
    /// be one and a text file; one for customers with a file.
    fn small_kb(dir: &Path) -> PathBuf {
        let kb = dir.join("kb");
        std::fs::create_dir_all(kb.join("howto")).unwrap();
        std::fs::write(
            kb.join("howto/print.md"),
            "---\ntitle: Print a page\ncategory: Basics\n---\nPress print.\n\n![The print dialog](dialog.png)\n\n\
             See [the fake](fake.png) and [the notes](<print notes.txt>).\n",
        )
        .unwrap();
        std::fs::write(kb.join("howto/dialog.png"), PNG).unwrap();
        std::fs::write(kb.join("howto/fake.png"), b"<html><script>alert(1)</script></html>").unwrap();
        std::fs::write(kb.join("howto/print notes.txt"), b"the notes").unwrap();
        std::fs::write(
            kb.join("vault.md"),
            "---\ntitle: The vault\ncategory: Basics\nvisibility: customers\n---\nThe [key](vault-key.txt).\n",
        )
        .unwrap();
        std::fs::write(kb.join("vault-key.txt"), b"secret key").unwrap();
        kb
    }

    on_both!(files_beside_a_solution_are_served_to_those_who_may_see_it_images_inline_the_rest_as_downloads, |db| {
        let dir = tempfile::tempdir().unwrap();
        let t = kb_desk(db, &small_kb(dir.path()), &["jane@acme.example"]).await;
        let mut b = Browser::new("192.0.2.50:1");
        let page = b.get(&t, "/kb/howto/print").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let image = "/kb/files/howto%2Fprint/howto/dialog.png";
        assert!(page.body.contains(&format!(r#"src="{image}""#)), "the picture is shown: {}", page.body);
        assert!(page.body.contains(r#"href="/kb/files/howto%2Fprint/howto/print%20notes.txt""#), "{}", page.body);

        let png = b.get(&t, image).await;
        assert_eq!(png.status, StatusCode::OK);
        assert_eq!(png.header("content-type"), Some("image/png"));
        assert_eq!(png.header("content-disposition"), Some("inline"));
        assert_eq!(png.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(png.bytes, PNG);
        let fake = b.get(&t, "/kb/files/howto%2Fprint/howto/fake.png").await;
        assert_eq!(fake.header("content-type"), Some("application/octet-stream"), "only the bytes make an image");
        assert!(fake.header("content-disposition").unwrap().starts_with("attachment"));
        let notes = b.get(&t, "/kb/files/howto%2Fprint/howto/print%20notes.txt").await;
        assert_eq!(notes.status, StatusCode::OK);
        assert_eq!(notes.header("content-type"), Some("application/octet-stream"));
        assert_eq!(
            notes.header("content-disposition"),
            Some("attachment; filename=\"print notes.txt\"; filename*=UTF-8''print%20notes%2Etxt")
        );
        assert_eq!(notes.header("content-security-policy"), Some("default-src 'none'; sandbox"));
        assert_eq!(notes.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(notes.body, "the notes");
        // A file of another solution, or none at all: 404.
        assert_eq!(b.get(&t, "/kb/files/howto%2Fprint/vault-key.txt").await.status, StatusCode::NOT_FOUND);
        assert_eq!(b.get(&t, "/kb/files/howto%2Fprint/howto/none.png").await.status, StatusCode::NOT_FOUND);

        // The customers' solution and its file: a 404 for an anonymous visitor, there for a customer.
        let key = "/kb/files/vault/vault-key.txt";
        assert_eq!(b.get(&t, "/kb/vault").await.status, StatusCode::NOT_FOUND);
        assert_eq!(b.get(&t, key).await.status, StatusCode::NOT_FOUND);
        assert!(!b.get(&t, "/kb/category/Basics").await.body.contains("The vault"));
        let (mut jane, _) = customer(&t, "jane@acme.example", "192.0.2.51:1").await;
        let vault = jane.get(&t, "/kb/vault").await;
        assert!(vault.body.contains("The vault") && vault.body.contains(&format!(r#"href="{key}""#)), "{}", vault.body);
        let got = jane.get(&t, key).await;
        assert_eq!((got.status, got.body.as_str()), (StatusCode::OK, "secret key"));
        assert!(jane.get(&t, "/kb/category/Basics").await.body.contains("The vault"));
    });

    on_both!(suggestions_are_for_signed_in_customers_recorded_once_a_day_and_rate_limited, |db| {
        let t = kb_desk(db, &relevance_set(), &["jane@acme.example"]).await;
        let q = "/kb/suggest?q=turn%20on%20two-step%20verification";
        let mut anonymous = Browser::new("192.0.2.60:1");
        let refused = anonymous.get(&t, q).await;
        assert_eq!((refused.status, refused.body.as_str()), (StatusCode::FORBIDDEN, ""));

        let (mut jane, _) = customer(&t, "jane@acme.example", "192.0.2.61:1").await;
        let fragment = jane.get(&t, q).await;
        assert_eq!(fragment.status, StatusCode::OK);
        assert!(fragment.header("content-type").unwrap().starts_with("text/html"));
        assert!(!fragment.body.contains("<html") && !fragment.body.contains("<body"), "a fragment, not a page");
        assert!(fragment.body.contains(r#"href="/kb/accounts/enable-2fa?from=suggestion""#), "{}", fragment.body);
        assert!(fragment.body.matches("<li>").count() <= 5, "at most five");
        jane.get(&t, q).await;
        let a = activity(&t, "accounts/enable-2fa").await;
        assert_eq!((a.suggested, a.opened), (1, 0), "once per contact, solution and day");
        // Nothing typed, nothing suggested; what is typed is escaped.
        assert_eq!(jane.get(&t, "/kb/suggest?q=").await.body.trim(), "");
        let hostile = jane.get(&t, &format!("/kb/suggest?q={}", encode("<img src=x onerror=alert(1)> sync"))).await;
        assert!(!hostile.body.contains("<img"), "{}", hostile.body);

        // Past the limit: 429 with nothing. (A new minute may start meanwhile: go on until it
        // refuses, within two minutes' worth.)
        let mut refused = None;
        for _ in 0..(2 * SUGGESTS_PER_MINUTE + 2) {
            let answer = jane.get(&t, "/kb/suggest?q=").await;
            if answer.status != StatusCode::OK {
                refused = Some(answer);
                break;
            }
        }
        let refused = refused.expect("refused past the limit");
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.body, "");
        assert!(refused.header("retry-after").is_some());
    });

    on_both!(the_new_request_forms_search_button_carries_the_subject_to_the_search_without_javascript, |db| {
        let t = kb_desk(db, &relevance_set(), &["jane@acme.example"]).await;
        let (mut jane, _) = customer(&t, "jane@acme.example", "192.0.2.70:1").await;
        let form = jane.get(&t, "/requests/new").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains(r#"<div id="suggestions" class="suggestions" aria-live="polite""#), "{}", form.body);
        assert!(form.body.contains(r#"formaction="/kb/search" formmethod="get" formnovalidate"#));
        // Enter in a field presses the form's first submit button: the request's, not the search.
        let first = &form.body[form.body.find(r#"<button type="submit""#).unwrap()..];
        assert!(!first[..first.find('>').unwrap()].contains("formaction"), "{}", form.body);
        assert!(form.body.contains(r#"<script src="/static/suggest.js" defer></script>"#));
        let script = jane.get(&t, "/static/suggest.js").await;
        assert_eq!(script.status, StatusCode::OK);
        assert!(script.header("content-type").unwrap().starts_with("text/javascript"));
        // What the button sends: every field of the form, by GET.
        let sent = format!(
            "/kb/search?csrf={}&form_id={}&subject={}&description=&priority=medium",
            form.csrf(),
            form.hidden("form_id"),
            encode("Printer jams & smokes")
        );
        let redirect = jane.get(&t, &sent).await;
        assert_eq!(redirect.status, StatusCode::SEE_OTHER);
        assert_eq!(redirect.header("location"), Some("/kb/search?q=Printer%20jams%20%26%20smokes"));
        // Anonymous visitors may search the same way.
        let mut anonymous = Browser::new("192.0.2.71:1");
        let redirect = anonymous.get(&t, "/kb/search?subject=sync").await;
        assert_eq!(redirect.header("location"), Some("/kb/search?q=sync"));
    });

    /// Moves ticket `n`'s creation `secs` into the past, as if it had been opened then.
    async fn age_ticket(t: &TestApp, n: i64, secs: i64) {
        use sqlx::Connection;
        let url = &t.app.config().database.url;
        let sql = "UPDATE tickets SET created_at = created_at - $1 WHERE id = $2";
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(secs).bind(n).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(secs).bind(n).execute(&mut conn).await.unwrap();
        }
    }

    on_both!(a_suggestion_opened_is_recorded_and_counts_as_saved_when_no_request_follows_within_30_minutes, |db| {
        // Jane filed a request 50 minutes ago, Lee one 20 minutes ago; Kim none since hello.
        let t = acme(db).await;
        for who in ["jane@acme.example", "kim@acme.example", "lee@acme.example"] {
            write(&t, who, &format!("hello.{who}")).await;
        }
        for (who, ago) in [("jane@acme.example", 3000), ("lee@acme.example", 1200)] {
            let n = write(&t, who, &format!("later.{who}")).await;
            age_ticket(&t, n, ago).await;
        }
        maildesk::desk::kb::import(&t.app, &relevance_set()).await.expect("import");
        let (mut jane, jane_id) = customer(&t, "jane@acme.example", "192.0.2.80:1").await;
        let slug = "accounts/enable-2fa";
        jane.get(&t, "/kb/suggest?q=turn%20on%20two-step%20verification").await;
        // Opened without `from=suggestion`: a view, not an opened suggestion.
        jane.get(&t, &format!("/kb/{slug}")).await;
        assert_eq!(activity(&t, slug).await.opened, 0);
        let page = jane.get(&t, &format!("/kb/{slug}?from=suggestion")).await;
        assert_eq!(page.status, StatusCode::OK);
        jane.get(&t, &format!("/kb/{slug}?from=suggestion")).await;
        let a = activity(&t, slug).await;
        assert_eq!((a.suggested, a.opened, a.saved), (1, 1, 0), "its 30 minutes are not over yet");
        // A solution never suggested to her: nothing to mark.
        jane.get(&t, "/kb/sync/sync-stuck?from=suggestion").await;
        assert_eq!(activity(&t, "sync/sync-stuck").await.opened, 0);

        // Through the store, in the past: each opened a suggestion an hour ago. Jane's
        // request 50 minutes ago came within 30 minutes of it (not saved); Kim filed none
        // (saved); Lee's request 20 minutes ago came after those 30 minutes (saved).
        let kim_id = t.db().await.contact_by_email("kim@acme.example").await.unwrap().unwrap().id;
        let lee_id = t.db().await.contact_by_email("lee@acme.example").await.unwrap().unwrap().id;
        let now = maildesk::store::now();
        let other = "billing/update-payment-method";
        let mut db = t.db().await;
        let yesterday = now.div_euclid(86_400) - 1;
        for who in [jane_id, kim_id, lee_id] {
            db.record_form_suggestions(&[other.to_string()], who, yesterday, now - 3700).await.unwrap();
            assert!(db.open_form_suggestion(other, who, now - 3600).await.unwrap());
            assert!(!db.open_form_suggestion(other, who, now - 3500).await.unwrap(), "opened once");
        }
        drop(db);
        let a = activity(&t, other).await;
        assert_eq!((a.suggested, a.opened, a.saved), (3, 3, 2), "{a:?}");
    });

    on_both!(an_acknowledgements_solved_link_shows_a_page_that_changes_nothing_and_its_button_resolves_once, |db| {
        use maildesk::domain::{Status, TicketNumber};
        let t = kb_desk(db, &relevance_set(), &[]).await;
        let raw = mail("Pat <pat@acme.example>", "I forgot my password", Some("pw.1"), "", "Help me.");
        let n = match receive(&t.app, &raw, &Source::Pipe).await.unwrap() {
            Outcome::Opened(n) => n,
            other => panic!("{other:?}"),
        };
        let sent = t.flush_outbox().await;
        let ack = sent.iter().find(|m| m.recipient == "pat@acme.example").expect("acknowledgement");
        let text = mail_parser::MessageParser::default().parse(&ack.bytes).unwrap().body_text(0).unwrap().into_owned();
        let at = text.find("/kb/solved?t=").expect("a solved link") + "/kb/solved?t=".len();
        let token = text[at..].split_whitespace().next().unwrap().to_string();
        let read = text.find("Read it: ").expect("a link to read it") + "Read it: ".len();
        let read_url = text[read..].split_whitespace().next().unwrap().replace("https://help.example", "");
        let status = async |t: &TestApp| t.db().await.ticket(TicketNumber(n.0)).await.unwrap().unwrap().status;

        // A scanner opening both links changes nothing but the "opened" mark.
        let mut scanner = Browser::new("192.0.2.201:1");
        let solution = scanner.get(&t, &read_url).await;
        assert_eq!(solution.status, StatusCode::OK, "{read_url}");
        let page = scanner.get(&t, &format!("/kb/solved?t={token}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("I forgot my password") && page.body.contains("Yes, it solved my problem"));
        assert_eq!(status(&t).await, Status::Open);
        let stats = t.db().await.mail_suggestion_stats().await.unwrap();
        assert!(stats.iter().any(|s| s.opened == 1), "{stats:?}");

        // The button needs the page's CSRF token; then it resolves the request, once.
        let mut pat = Browser::new("192.0.2.202:1");
        let csrf = pat.get(&t, &format!("/kb/solved?t={token}")).await.csrf();
        let forged = pat.post(&t, "/kb/solved", &[("t", &token)]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(status(&t).await, Status::Open);
        let done = pat.post(&t, "/kb/solved", &[("t", &token), ("csrf", &csrf)]).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert!(done.body.contains("is marked as solved"), "{}", done.body);
        assert_eq!(status(&t).await, Status::Resolved);
        let again = pat.post(&t, "/kb/solved", &[("t", &token), ("csrf", &csrf)]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(again.body.contains("used already"), "{}", again.body);
        let altered = format!("{}{}", &token[..token.len() - 2], if token.ends_with('A') { "BB" } else { "AA" });
        let bad = pat.get(&t, &format!("/kb/solved?t={altered}")).await;
        assert_eq!(bad.status, StatusCode::CONFLICT);
        assert!(bad.body.contains("not valid"), "{}", bad.body);
    });
}
