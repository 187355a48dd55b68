//! `src/constants.rs`: every named constant, and `sevt_name`.

use std::collections::{HashMap, HashSet};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::code::{emit, string_literal, HEADER};
use crate::gotype::{primitive, TypeIndex};
use crate::model::{Api, ConstantDef};

/// Prefix of the live event type constants.
const SEVT_PREFIX: &str = "SEVT_";

pub fn generate(api: &Api, index: &TypeIndex) -> Result<String> {
    let mut out = String::new();
    module_prelude(&mut out);
    let strings = string_values(api);
    for constant in &api.constants {
        constant_item(&mut out, constant, index, &strings)
            .with_context(|| format!("constant {}", constant.name))?;
    }
    sevt_name(&mut out, api, index)?;
    Ok(out)
}

fn module_prelude(out: &mut String) {
    out.push_str(HEADER);
    emit!(out);
    emit!(out, "//! Every named constant of the Comet Server API.");
    emit!(out, "//!");
    emit!(
        out,
        "//! Names are the API's own. Each constant has the Rust type of its Go"
    );
    emit!(
        out,
        "//! type (an alias such as `JobStatus` is followed to its primitive type),"
    );
    emit!(
        out,
        "//! so it compares directly with the fields of [`crate::types`]."
    );
    emit!(out);
    emit!(
        out,
        "// A few API constant names are not upper case (e.g. `TOTPRequiredError`)."
    );
    emit!(out, "#![allow(non_upper_case_globals)]");
}

/// The string constants by name, for values written as Go expressions.
fn string_values(api: &Api) -> HashMap<&str, &str> {
    api.constants
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.value.as_str()?)))
        .collect()
}

fn constant_item(
    out: &mut String,
    constant: &ConstantDef,
    index: &TypeIndex,
    strings: &HashMap<&str, &str>,
) -> Result<()> {
    let rust_type = index.constant_type(&constant.ty)?;
    let value = match &constant.value {
        Value::String(text) if rust_type == "&str" => string_literal(&string_value(text, strings)?),
        Value::Number(number) if rust_type != "&str" => integer_value(number, rust_type)?,
        other => bail!("value {other} does not fit type {}", constant.ty),
    };
    emit!(out);
    if primitive(&constant.ty).is_none() {
        emit!(out, "/// Go type `{}`.", constant.ty);
    }
    emit!(out, "pub const {}: {rust_type} = {value};", constant.name);
    Ok(())
}

/// A string constant's value. A few are written as a Go concatenation of
/// string literals and other string constants (`"prefix/" + VERSION`); those
/// are evaluated.
fn string_value(text: &str, strings: &HashMap<&str, &str>) -> Result<String> {
    if !text.contains(" + ") {
        return Ok(text.to_owned());
    }
    let mut value = String::new();
    for term in text.split(" + ").map(str::trim) {
        if let Some(literal) = term.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            if literal.contains(['"', '\\']) {
                return Ok(text.to_owned());
            }
            value.push_str(literal);
        } else if let Some(other) = strings.get(term) {
            value.push_str(other);
        } else {
            // Not an expression after all.
            return Ok(text.to_owned());
        }
    }
    Ok(value)
}

fn integer_value(number: &serde_json::Number, rust_type: &str) -> Result<String> {
    let Some(value) = number
        .as_i64()
        .map(i128::from)
        .or(number.as_u64().map(i128::from))
    else {
        bail!("{number} is not an integer");
    };
    let (min, max) = match rust_type {
        "i64" => (i64::MIN.into(), i64::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "u64" => (0, u64::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u8" => (0, u8::MAX.into()),
        other => bail!("integer constant of type {other}"),
    };
    if !(min..=max).contains(&value) {
        bail!("{value} does not fit {rust_type}");
    }
    Ok(value.to_string())
}

/// `sevt_name`: a `match` over the `SEVT_*` values; where several names share
/// a value, the first in the description wins.
fn sevt_name(out: &mut String, api: &Api, index: &TypeIndex) -> Result<()> {
    emit!(out);
    emit!(
        out,
        "/// The name of the `SEVT_*` constant with this value, e.g."
    );
    emit!(
        out,
        "/// `sevt_name(SEVT_META_HELLO) == Some(\"SEVT_META_HELLO\")`."
    );
    emit!(
        out,
        "/// Where several names share a value, the first one listed wins."
    );
    emit!(out, "pub fn sevt_name(t: i64) -> Option<&'static str> {{");
    emit!(out, "    match t {{");
    let mut seen = HashSet::new();
    for constant in api
        .constants
        .iter()
        .filter(|c| c.name.starts_with(SEVT_PREFIX))
    {
        if index.constant_type(&constant.ty)? != "i64" {
            bail!("{} is not an int", constant.name);
        }
        let value = constant.value.as_i64().context("SEVT value")?;
        if seen.insert(value) {
            emit!(out, "        {0} => Some({0:?}),", constant.name);
        }
    }
    emit!(out, "        _ => None,");
    emit!(out, "    }}");
    emit!(out, "}}");
    Ok(())
}
