//! The crate's generated test inputs: `tests/schema.json`, a compact copy of
//! the struct layouts, and `tests/roundtrip.rs`, which checks every struct
//! type against it.

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::code::{emit, string_literal, HEADER};
use crate::model::Api;

/// `{"structs": {Type: [{"name", "type", "omitempty"}, ...]}, "aliases":
/// {Type: go type}}`, one field per line.
pub fn schema_json(api: &Api) -> Result<String> {
    let mut out = String::new();
    emit!(out, "{{");
    emit!(out, "  \"structs\": {{");
    let structs: Vec<_> = api.structs().collect();
    for (i, (name, fields)) in structs.iter().enumerate() {
        emit!(out, "    {}: [", serde_json::to_string(name)?);
        for (j, field) in fields.iter().enumerate() {
            let entry = json!({"name": field.name, "type": field.ty, "omitempty": field.omitempty});
            emit!(
                out,
                "      {}{}",
                serde_json::to_string(&entry)?,
                comma(j, fields.len())
            );
        }
        emit!(out, "    ]{}", comma(i, structs.len()));
    }
    emit!(out, "  }},");
    let aliases: Map<String, Value> = api
        .aliases()
        .map(|(name, target)| (name.to_owned(), Value::from(target)))
        .collect();
    let aliases = serde_json::to_string_pretty(&aliases)?.replace('\n', "\n  ");
    emit!(out, "  \"aliases\": {aliases}");
    emit!(out, "}}");
    Ok(out)
}

fn comma(i: usize, len: usize) -> &'static str {
    if i + 1 < len {
        ","
    } else {
        ""
    }
}

/// One test that round-trips every struct type (see `tests/support`).
pub fn roundtrip_test(api: &Api) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    emit!(out);
    emit!(
        out,
        "//! Every struct type decodes a sample holding all its fields (and an"
    );
    emit!(
        out,
        "//! unknown one) and encodes it back unchanged; its zero value encodes"
    );
    emit!(
        out,
        "//! as Go would. The samples come from `tests/schema.json`."
    );
    emit!(out);
    emit!(out, "mod support;");
    emit!(out);
    emit!(out, "use halley_api::types;");
    emit!(out);
    emit!(out, "#[test]");
    emit!(out, "fn every_struct_type_round_trips() {{");
    emit!(out, "    let mut checks = support::Checks::new();");
    for (name, _) in api.structs() {
        emit!(
            out,
            "    checks.check::<types::{name}>({});",
            string_literal(name)
        );
    }
    emit!(out, "    checks.finish();");
    emit!(out, "}}");
    out
}
