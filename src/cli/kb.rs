//! `maildesk kb import|list|show|search`: the knowledge base from the command line (MISSION
//! KB1). The command line is staff's: it sees every solution, whatever its visibility.

use std::path::PathBuf;

use clap::Subcommand;

use crate::config::Config;
use crate::desk::kb::{self, ImportError, Viewer};

#[derive(Subcommand, Debug)]
pub(super) enum KbCommand {
    /// Sync the solutions (Markdown files with YAML front matter) of a directory into the
    /// store: add the new, update the changed, remove those imported from it before whose
    /// file is gone. One invalid file changes nothing.
    Import {
        /// The directory.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the solutions.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one solution.
    Show {
        /// Its slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// How the knowledge base does: per solution and in total, views, "did this help?"
    /// answers, suggestions (form and mail), suggestions opened, requests not filed after
    /// one was opened, tickets resolved by one.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the solutions, best first.
    Search {
        /// Words, and "phrases" in double quotes.
        query: String,
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(config: Config, command: KbCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let code = match command {
        KbCommand::Import { dir, json } => match kb::import(&app, &dir).await {
            Ok(done) if json => print_json(&done),
            Ok(done) => {
                println!(
                    "added {}, updated {}, removed {}, unchanged {}",
                    done.added, done.updated, done.removed, done.unchanged
                );
                0
            }
            Err(ImportError::Invalid(bad)) => {
                for (path, problems) in &bad {
                    for problem in problems {
                        eprintln!("maildesk: {path}: {problem}");
                    }
                }
                eprintln!("maildesk: {} invalid file(s) in {}; nothing was imported", bad.len(), dir.display());
                super::EXIT_FAILURE
            }
            Err(e) => failed(&e),
        },
        KbCommand::List { json } => match kb::list(&app, Viewer::Staff).await {
            Ok(all) if json => print_json(&all),
            Ok(all) => {
                println!("{:<40}  {:<4}  {:<9}  {:<16}  TITLE", "SLUG", "LANG", "VISIBLE", "CATEGORY");
                for s in all {
                    let category = s.category.as_deref().unwrap_or("-");
                    println!(
                        "{:<40}  {:<4}  {:<9}  {:<16}  {}",
                        s.slug,
                        s.language,
                        s.visibility,
                        super::one_line(category),
                        super::one_line(&s.title)
                    );
                }
                0
            }
            Err(e) => failed(&e),
        },
        KbCommand::Show { slug, json } => match kb::show(&app, Viewer::Staff, &slug).await {
            Ok(Some(page)) if json => print_json(&page),
            Ok(Some(page)) => {
                println!("slug:        {}", page.slug);
                println!("title:       {}", super::one_line(&page.title));
                println!(
                    "category:    {}",
                    page.category.as_deref().map(super::one_line).unwrap_or_else(|| "-".into())
                );
                println!("tags:        {}", super::one_line(&page.tags.join(", ")));
                println!("language:    {}", page.language);
                println!("visibility:  {}", page.visibility);
                println!("updated:     {}", super::contact::timestamp(page.updated_at));
                for (path, content_type, size) in &page.files {
                    println!("file:        {path} ({content_type}, {size} bytes)");
                }
                println!();
                println!("{}", page.markdown.trim_end());
                0
            }
            Ok(None) => {
                eprintln!("maildesk: there is no solution {slug}");
                super::EXIT_FAILURE
            }
            Err(e) => failed(&e),
        },
        KbCommand::Stats { json } => match crate::desk::kb_stats::stats(&app).await {
            Ok(stats) if json => print_json(&stats),
            Ok(stats) => {
                println!(
                    "{:<40}  {:>6}  {:>4}  {:>4}  {:>9}  {:>9}  {:>6}  {:>9}  {:>8}",
                    "SOLUTION", "VIEWS", "YES", "NO", "SUGG.FORM", "SUGG.MAIL", "OPENED", "NOT FILED", "RESOLVED"
                );
                for s in stats.solutions.iter().chain([&stats.total]) {
                    let name = if s.slug.is_empty() { "(total)" } else { s.slug.as_str() };
                    println!(
                        "{:<40}  {:>6}  {:>4}  {:>4}  {:>9}  {:>9}  {:>6}  {:>9}  {:>8}",
                        super::one_line(name),
                        s.views,
                        s.helpful_yes,
                        s.helpful_no,
                        s.suggested_form,
                        s.suggested_mail,
                        s.suggestions_opened,
                        s.requests_not_filed,
                        s.tickets_resolved
                    );
                }
                0
            }
            Err(e) => failed(&e),
        },
        KbCommand::Search { query, category, limit, json } => {
            match kb::search(&app, Viewer::Staff, &query, category.as_deref(), limit).await {
                Ok(hits) if json => {
                    let hits: Vec<serde_json::Value> = hits
                        .iter()
                        .map(|h| {
                            serde_json::json!({"slug": h.slug, "title": h.title, "category": h.category,
                                               "language": h.language, "score": h.score, "snippet": h.snippet_html})
                        })
                        .collect();
                    print_json(&hits)
                }
                Ok(hits) => {
                    for h in hits {
                        println!("{:>6.2}  {:<40}  {}", h.score, h.slug, super::one_line(&h.title));
                    }
                    0
                }
                Err(e) => failed(&e),
            }
        }
    };
    app.store.close().await;
    code
}

fn print_json(value: &impl serde::Serialize) -> i32 {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    0
}

fn failed(e: &dyn std::fmt::Display) -> i32 {
    eprintln!("maildesk: {e}");
    super::EXIT_FAILURE
}
