//! `lookout console`: the web console's password.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::Subcommand;
use lookout::config::edit::ConfigEdit;
use toml_edit::{value, Item, Table};

use super::BadInput;

#[derive(Subcommand)]
pub enum ConsoleCommand {
    /// Set the console user's password: typed twice without echo, or one line on standard input
    /// (scripts). Stored as an Argon2id hash in `[console] password_hash`; a running daemon
    /// takes it at its next start.
    ///
    /// Example: lookout console passwd --config /etc/lookout/lookout.toml
    Passwd {
        /// The user name (default: `[console] user`, or admin).
        #[arg(long)]
        user: Option<String>,
        #[arg(long, short)]
        config: PathBuf,
    },
}

/// Passwords shorter than this are refused: the console may face a district network.
const MIN_PASSWORD: usize = 10;

pub fn run(cmd: ConsoleCommand) -> anyhow::Result<()> {
    match cmd {
        ConsoleCommand::Passwd { user, config } => {
            let hash = new_password_hash()?;
            let mut edit = ConfigEdit::open(&config).map_err(super::provision::edit_error)?;
            set_password_hash(&mut edit, user.as_deref(), hash);
            let saved = edit
                .save(lookout::build::check)
                .map_err(super::provision::edit_error)?;
            println!(
                "console password of {} set in {}; a running daemon takes it at its next start",
                saved.console.user,
                config.display()
            );
            Ok(())
        }
    }
}

/// A new password, read (see [`read_password`]) and checked, as its Argon2id hash.
pub fn new_password_hash() -> anyhow::Result<String> {
    let password = read_password()?;
    if password.chars().count() < MIN_PASSWORD {
        return Err(BadInput(format!(
            "the password needs at least {MIN_PASSWORD} characters"
        ))
        .into());
    }
    Ok(lookout::console::auth::hash_password(&password).map_err(BadInput)?)
}

/// Puts the hash (and the user, when given) into the config's `[console]`, comments kept.
pub fn set_password_hash(edit: &mut ConfigEdit, user: Option<&str>, hash: String) {
    if !edit.doc.contains_key("console") {
        edit.doc["console"] = Item::Table(Table::new());
    }
    let console = &mut edit.doc["console"];
    if let Some(user) = user {
        console["user"] = value(user);
    }
    console["password_hash"] = value(hash);
}

/// The new password: prompted twice on a terminal, else the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("new console password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            return Err(BadInput("the two passwords differ".into()).into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
