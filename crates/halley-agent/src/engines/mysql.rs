//! `engine1/mysql`: one dump per database, made by `mariadb-dump` (or
//! `mysqldump`), stored as `<database>.sql` files in one snapshot.
//!
//! `EngineProps`: `HOST` (default `localhost`), `PORT` (default 3306),
//! `USERNAME`, `PASSWORD`; `ALL_DATABASES` (every database but the server's
//! own schemas, less `EXCEPT-DATABASE-*`) or the databases named by
//! `DATABASE-*`; `MYSQLDUMP` and `MYSQL`, the programs to use. Credentials
//! reach the programs through a 0600 options file, not their command line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::stdout::ChildOutput;
use super::{prop, EngineContext, EngineError, EngineOutcome, LogLevel};

/// `EngineProps`, or the same keys from a browse call's credentials.
type Props = BTreeMap<String, String>;

fn get<'a>(props: &'a Props, key: &str) -> &'a str {
    props.get(key).map(String::as_str).unwrap_or("")
}

/// Schemas of the server itself, never dumped by `ALL_DATABASES`.
const SERVER_SCHEMAS: [&str; 3] = ["information_schema", "performance_schema", "sys"];

/// The databases of a server (`dispatcher/request-browse-mysql`), reached
/// with `HOST`, `PORT`, `USERNAME` and `PASSWORD` as a Protected Item's.
pub fn databases_of(props: &Props) -> Result<BTreeSet<String>, EngineError> {
    let dir = private_dir()?;
    let options = write_options(props, dir.path())?;
    list_databases(props, &options)
}

fn private_dir() -> Result<tempfile::TempDir, EngineError> {
    tempfile::Builder::new()
        .prefix("halley-mysql-")
        .tempdir()
        .map_err(|err| EngineError::Failed(format!("cannot create a private directory: {err}")))
}

pub fn run(ctx: &EngineContext<'_>) -> Result<EngineOutcome, EngineError> {
    let dir = private_dir()?;
    let options = write_options(&ctx.source.engine_props, dir.path())?;
    let databases = chosen_databases(ctx, &options)?;
    if databases.is_empty() {
        return Err(EngineError::Failed("no database to back up".into()));
    }
    let dump = program(prop(ctx, "MYSQLDUMP"), &["mariadb-dump", "mysqldump"])?;
    (ctx.log)(
        LogLevel::Info,
        format!(
            "dumping {} with {}",
            databases.iter().cloned().collect::<Vec<_>>().join(", "),
            dump.display()
        ),
    );
    let mut streams = databases.iter().map(|database| {
        let mut command = Command::new(&dump);
        command
            .arg(format!("--defaults-extra-file={}", options.display()))
            .args([
                "--single-transaction",
                "--routines",
                "--events",
                "--triggers",
            ])
            .args(["--databases", database]);
        let label = format!("{} {database}", dump.display());
        ChildOutput::spawn(&mut command, &label)
            .map(|child| (format!("{database}.sql"), Box::new(child) as Box<dyn Read>))
            .map_err(|err| halley_vault::VaultError::Io {
                op: "dump",
                path: PathBuf::from(database),
                source: std::io::Error::other(err.to_string()),
            })
    });
    let label = format!("mysql://{}", host_port(&ctx.source.engine_props));
    let snapshot =
        halley_vault::backup_streams(ctx.repo, &mut streams, &label, &ctx.options(), ctx.progress)?;
    Ok(snapshot.into())
}

fn host_port(props: &Props) -> String {
    let host = match get(props, "HOST") {
        "" => "localhost",
        host => host,
    };
    match get(props, "PORT") {
        "" => host.to_string(),
        port => format!("{host}:{port}"),
    }
}

/// A client options file holding the connection settings, readable only by us.
fn write_options(props: &Props, dir: &Path) -> Result<PathBuf, EngineError> {
    let path = dir.join("client.cnf");
    let mut text = String::from("[client]\n");
    let quoted = |value: &str| value.replace('\\', "\\\\").replace('"', "\\\"");
    for (key, option) in [
        ("HOST", "host"),
        ("PORT", "port"),
        ("USERNAME", "user"),
        ("PASSWORD", "password"),
    ] {
        let value = get(props, key);
        if !value.is_empty() {
            text.push_str(&format!("{option}=\"{}\"\n", quoted(value)));
        }
    }
    if get(props, "PORT").is_empty() && get(props, "HOST").is_empty() {
        text.push_str("host=localhost\n");
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    written
        .map_err(|err| EngineError::Failed(format!("cannot write the client options: {err}")))?;
    Ok(path)
}

fn chosen_databases(
    ctx: &EngineContext<'_>,
    options: &Path,
) -> Result<BTreeSet<String>, EngineError> {
    let props = &ctx.source.engine_props;
    let named = |prefix: &str| -> BTreeSet<String> {
        props
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(_, value)| value.clone())
            .collect()
    };
    let existing = list_databases(props, options)?;
    if props.contains_key("ALL_DATABASES") {
        let excepted = named("EXCEPT-DATABASE-");
        return Ok(existing
            .into_iter()
            .filter(|db| !SERVER_SCHEMAS.contains(&db.as_str()) && !excepted.contains(db))
            .collect());
    }
    let wanted = named("DATABASE-");
    if let Some(missing) = wanted.iter().find(|db| !existing.contains(*db)) {
        return Err(EngineError::Failed(format!(
            "the database '{missing}' does not exist on {}",
            host_port(props)
        )));
    }
    Ok(wanted)
}

fn list_databases(props: &Props, options: &Path) -> Result<BTreeSet<String>, EngineError> {
    let client = program(get(props, "MYSQL"), &["mariadb", "mysql"])?;
    let output = Command::new(&client)
        .arg(format!("--defaults-extra-file={}", options.display()))
        .args([
            "--batch",
            "--skip-column-names",
            "--execute",
            "SHOW DATABASES",
        ])
        .output()
        .map_err(|err| EngineError::Failed(format!("cannot run {}: {err}", client.display())))?;
    if !output.status.success() {
        return Err(EngineError::Failed(format!(
            "cannot list the databases of {}: {}",
            host_port(props),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect())
}

/// The program named, or the first of `defaults` found on `PATH`.
fn program(named: &str, defaults: &[&str]) -> Result<PathBuf, EngineError> {
    if !named.is_empty() {
        return Ok(PathBuf::from(named));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    defaults
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            EngineError::Failed(format!(
                "none of {} is installed (install the MariaDB or MySQL client)",
                defaults.join(", ")
            ))
        })
}
