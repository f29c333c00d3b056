//! `maildesk templates export|check`: the built-in mail templates written out as a start
//! for overrides, and a check of the overrides `serve` would use. Neither opens the store.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::config::Config;
use crate::outbound::Templates;
use crate::outbound::templates::{BUILTIN, README};

#[derive(Subcommand, Debug)]
pub(super) enum TemplatesCommand {
    /// Write the built-in mail templates (and their README) to DIR/mail/, ready to edit and
    /// use as outbox.templates_dir = "DIR".
    Export {
        /// The folder to write into (made when missing).
        dir: PathBuf,
        /// Overwrite files that exist already.
        #[arg(long)]
        force: bool,
    },
    /// Check the overrides in outbox.templates_dir (or DIR) as `serve` does when it starts:
    /// every file parses and every kind renders with sample data.
    Check {
        /// The folder to check instead of outbox.templates_dir.
        dir: Option<PathBuf>,
    },
}

/// Runs a `templates` command; returns the exit code.
pub(super) fn run(command: TemplatesCommand, config_file: Option<&Path>) -> i32 {
    match command {
        TemplatesCommand::Export { dir, force } => export(&dir, force),
        TemplatesCommand::Check { dir } => match Config::load(config_file, super::config_env()) {
            Ok(config) => check(config, dir),
            Err(e) => {
                eprintln!("maildesk: {e}");
                super::EXIT_USAGE
            }
        },
    }
}

/// Writes every built-in template and the README under `dir`, refusing (and writing
/// nothing) when one exists already, unless `force`.
fn export(dir: &Path, force: bool) -> i32 {
    let files: Vec<(PathBuf, &str)> =
        BUILTIN.iter().chain([&README]).map(|(name, text)| (dir.join(name), *text)).collect();
    let existing: Vec<&PathBuf> = files.iter().map(|(path, _)| path).filter(|path| path.exists()).collect();
    if !force && !existing.is_empty() {
        let shown: Vec<String> = existing.iter().take(3).map(|p| p.display().to_string()).collect();
        let more = if existing.len() > 3 { format!(" and {} more", existing.len() - 3) } else { String::new() };
        eprintln!("maildesk: {}{more} exist already; nothing was written (--force overwrites them)", shown.join(", "));
        return super::EXIT_FAILURE;
    }
    for (path, text) in &files {
        let written = match path.parent() {
            Some(parent) => std::fs::create_dir_all(parent).and_then(|()| std::fs::write(path, text)),
            None => std::fs::write(path, text),
        };
        if let Err(e) = written {
            eprintln!("maildesk: cannot write {}: {e}", path.display());
            return super::EXIT_FAILURE;
        }
    }
    println!(
        "wrote {} files to {}; edit them, then set outbox.templates_dir = \"{}\" (maildesk serve checks them when it \
         starts; maildesk templates check does now). What each kind's templates may use: {}",
        files.len(),
        dir.join("mail").display(),
        dir.display(),
        dir.join(README.0).display(),
    );
    0
}

/// Checks the overrides of `config` (or those in `dir`).
fn check(mut config: Config, dir: Option<PathBuf>) -> i32 {
    if dir.is_some() {
        config.outbox.templates_dir = dir;
    }
    let Some(dir) = config.outbox.templates_dir.clone() else {
        println!("outbox.templates_dir is not set: the built-in templates are used");
        return 0;
    };
    match Templates::load(&config) {
        Ok(templates) if templates.has_overrides() => {
            println!("{}: every override parses and every kind renders", dir.display());
            0
        }
        Ok(_) => {
            println!("{}: no overrides found; the built-in templates are used", dir.display());
            0
        }
        Err(problems) => {
            eprintln!("maildesk: the mail templates in {} cannot be used:\n{problems}", dir.display());
            super::EXIT_FAILURE
        }
    }
}
