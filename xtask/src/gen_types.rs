//! `src/types.rs`: a Rust struct for every struct type, a Rust type alias
//! for every alias.

use anyhow::{bail, Context, Result};

use crate::code::{emit, HEADER};
use crate::gotype::{GoType, TypeIndex};
use crate::model::{Api, FieldDef, TypeDef};
use crate::naming::FieldNames;

/// Names the generated module imports; no API type may take them.
const IMPORTED: &[&str] = &[
    "BTreeMap",
    "Bytes",
    "Deserialize",
    "Map",
    "Serialize",
    "Value",
];

pub fn generate(api: &Api, index: &TypeIndex) -> Result<String> {
    let mut out = String::new();
    module_prelude(&mut out);
    for (name, def) in &api.types {
        if IMPORTED.contains(&name.as_str()) {
            bail!("type {name} collides with an imported name");
        }
        match def {
            TypeDef::Alias(target) => alias(&mut out, name, target, index)?,
            TypeDef::Struct(fields) => {
                structure(&mut out, name, fields, index).with_context(|| format!("type {name}"))?
            }
        }
    }
    wire_impls(&mut out, api);
    Ok(out)
}

fn module_prelude(out: &mut String) {
    out.push_str(HEADER);
    emit!(out);
    emit!(
        out,
        "//! Every struct and alias type of the Comet Server API."
    );
    emit!(out, "//!");
    emit!(
        out,
        "//! Type names are the API's own. Fields are the snake-case form of the"
    );
    emit!(
        out,
        "//! JSON names, renamed back on the wire; JSON fields a type does not"
    );
    emit!(
        out,
        "//! declare are kept in its `extra` map. Decoding and `omitempty` follow"
    );
    emit!(out, "//! [`crate::wire`].");
    emit!(out);
    emit!(
        out,
        "// Some API type names are all capitals (e.g. `PVEVM`)."
    );
    emit!(out, "#![allow(clippy::upper_case_acronyms)]");
    emit!(out);
    emit!(out, "use std::collections::BTreeMap;");
    emit!(out);
    emit!(out, "use serde::{{Deserialize, Serialize}};");
    emit!(out, "use serde_json::{{Map, Value}};");
    emit!(out);
    emit!(out, "use crate::wire::Bytes;");
}

fn alias(out: &mut String, name: &str, target: &str, index: &TypeIndex) -> Result<()> {
    let rust = index.rust_type(&GoType::parse(target)?)?;
    emit!(out);
    emit!(out, "/// Go type `{target}`.");
    emit!(out, "pub type {name} = {rust};");
    Ok(())
}

fn structure(out: &mut String, name: &str, fields: &[FieldDef], index: &TypeIndex) -> Result<()> {
    emit!(out);
    emit!(
        out,
        "#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]"
    );
    emit!(out, "pub struct {name} {{");
    let mut names = FieldNames::default();
    for field in fields {
        struct_field(out, field, &mut names, index)
            .with_context(|| format!("field {}", field.name))?;
    }
    emit!(
        out,
        "    /// JSON fields not declared above, kept as they came."
    );
    emit!(out, "    #[serde(flatten)]");
    emit!(out, "    pub extra: Map<String, Value>,");
    emit!(out, "}}");
    Ok(())
}

fn struct_field(
    out: &mut String,
    field: &FieldDef,
    names: &mut FieldNames,
    index: &TypeIndex,
) -> Result<()> {
    let ty = GoType::parse(&field.ty)?;
    let rust_type = index.rust_type(&ty)?;
    let rust_name = names.field(&field.name);
    let mut attrs = vec![
        format!("rename = {:?}", field.name),
        "default".to_owned(),
        "deserialize_with = \"crate::wire::de\"".to_owned(),
    ];
    // Go's omitempty never leaves out a struct value.
    if field.omitempty && !index.is_struct(&ty)? {
        attrs.push("skip_serializing_if = \"crate::wire::is_zero\"".to_owned());
    }
    emit!(out, "    #[serde({})]", attrs.join(", "));
    emit!(out, "    pub {rust_name}: {rust_type},");
    Ok(())
}

/// The `Wire` impls that let struct types nest leniently.
fn wire_impls(out: &mut String, api: &Api) {
    emit!(out);
    emit!(out, "crate::wire::wire_structs!(");
    for (name, _) in api.structs() {
        emit!(out, "    {name},");
    }
    emit!(out, ");");
}
