//! Project automation for Halley.
//!
//! `cargo run -p xtask -- gen-api <comet-api.json> [--crate-dir <dir>]`
//! regenerates the generated sources of `crates/halley-api` (types,
//! constants, endpoint table, and the schema and round-trip test the crate's
//! tests use) from the Comet Server API description. The output is committed;
//! nothing reads the description at build, test or run time.

mod code;
mod gen_constants;
mod gen_endpoints;
mod gen_tests;
mod gen_types;
mod gotype;
mod model;
mod naming;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const USAGE: &str = "usage: cargo run -p xtask -- gen-api <comet-api.json> [--crate-dir <dir>]";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen-api") => gen_api(&args[1..]),
        _ => bail!("{USAGE}"),
    }
}

/// Options of the `gen-api` command.
struct GenApiArgs {
    description: PathBuf,
    crate_dir: PathBuf,
}

fn parse_gen_api_args(args: &[String]) -> Result<GenApiArgs> {
    let mut description = None;
    let mut crate_dir = default_crate_dir();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--crate-dir" => {
                crate_dir = rest.next().context(USAGE)?.into();
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n{USAGE}"),
            path if description.is_none() => description = Some(PathBuf::from(path)),
            _ => bail!("{USAGE}"),
        }
    }
    Ok(GenApiArgs {
        description: description.context(USAGE)?,
        crate_dir,
    })
}

/// `crates/halley-api` of the workspace this xtask belongs to.
fn default_crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/halley-api")
}

fn gen_api(args: &[String]) -> Result<()> {
    let mut args = parse_gen_api_args(args)?;
    args.crate_dir = std::fs::canonicalize(&args.crate_dir)
        .with_context(|| format!("crate directory {}", args.crate_dir.display()))?;
    let api = model::Api::load(&args.description)?;
    let index = gotype::TypeIndex::new(&api)?;

    let outputs = [
        ("src/types.rs", gen_types::generate(&api, &index)?),
        ("src/constants.rs", gen_constants::generate(&api, &index)?),
        ("src/endpoints/table.rs", gen_endpoints::generate(&api)?),
        ("tests/roundtrip.rs", gen_tests::roundtrip_test(&api)),
        ("tests/schema.json", gen_tests::schema_json(&api)?),
    ];
    let mut rust_files = Vec::new();
    for (relative, text) in &outputs {
        let path = args.crate_dir.join(relative);
        write_file(&path, text)?;
        if relative.ends_with(".rs") {
            rust_files.push(path);
        }
    }
    code::rustfmt(&rust_files);
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
