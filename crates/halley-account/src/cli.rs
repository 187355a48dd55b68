//! The command line: `serve`, and the operator's `create-account` and
//! `create-token`, which work on the data directory directly (the server may
//! be running: SQLite in WAL mode takes both).

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::auth::{hash_password, new_token, token_hash};
use crate::clock::now;
use crate::serve::{open_store, ServeOptions};
use crate::store::StoreError;

#[derive(Debug, clap::Parser)]
#[command(
    name = "halley-account",
    version,
    about = "Halley's account portal: licences, reports, downloads, hosted servers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve the portal API.
    Serve(ServeOptions),
    /// Create a portal account.
    CreateAccount {
        #[arg(
            long,
            env = "HALLEY_ACCOUNT_DATA_DIR",
            default_value = "./halley-account-data"
        )]
        data_dir: PathBuf,
        #[arg(long)]
        email: String,
        /// The account's password (or set HALLEY_ACCOUNT_PASSWORD).
        #[arg(long, env = "HALLEY_ACCOUNT_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Create an API token for an account and print it (it is shown only once).
    CreateToken {
        #[arg(
            long,
            env = "HALLEY_ACCOUNT_DATA_DIR",
            default_value = "./halley-account-data"
        )]
        data_dir: PathBuf,
        #[arg(long)]
        email: String,
        /// A label to recognise the token by.
        #[arg(long, default_value = "")]
        name: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(options) => crate::serve::run(options).await,
        Command::CreateAccount {
            data_dir,
            email,
            password,
        } => {
            let email = email.trim();
            if email.is_empty() || !email.contains('@') {
                bail!("--email '{email}' is not an email address");
            }
            if password.is_empty() {
                bail!("--password must not be empty");
            }
            let store = open_store(&data_dir).await?;
            let hash = hash_password(&password)?;
            match store.account_create(email, &hash, now()).await {
                Ok(_) => {
                    println!("created account {email}");
                    Ok(())
                }
                Err(StoreError::Conflict) => bail!("an account with email {email} exists"),
                Err(err) => Err(err).context("creating the account"),
            }
        }
        Command::CreateToken {
            data_dir,
            email,
            name,
        } => {
            let store = open_store(&data_dir).await?;
            let account = store
                .account_by_email(email.trim())
                .await?
                .with_context(|| format!("no account with email {email}"))?;
            let token = new_token();
            store
                .token_create(account.id, &token_hash(&token), &name, now())
                .await?;
            println!("{token}");
            Ok(())
        }
    }
}
