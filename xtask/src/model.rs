//! The Comet Server API description, as read from `comet-api.json`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The whole description.
pub struct Api {
    pub endpoints: Vec<EndpointDef>,
    /// Types in the order of the description.
    pub types: Vec<(String, TypeDef)>,
    pub constants: Vec<ConstantDef>,
}

#[derive(Deserialize)]
pub struct EndpointDef {
    pub name: String,
    pub method: String,
    pub path: String,
    pub content_type: String,
    pub auth: String,
    pub roles: Vec<String>,
    pub top_level_admin_only: bool,
    pub params: Vec<ParamDef>,
    pub returns: String,
    pub summary: String,
}

#[derive(Deserialize)]
pub struct ParamDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub optional: bool,
    pub encoding: String,
}

/// A named type: a struct or an alias of another type.
pub enum TypeDef {
    Struct(Vec<FieldDef>),
    Alias(String),
}

#[derive(Deserialize)]
pub struct FieldDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub omitempty: bool,
}

#[derive(Deserialize)]
pub struct ConstantDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub value: serde_json::Value,
}

/// The raw layout of a `types{}` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTypeDef {
    fields: Option<Vec<FieldDef>>,
    alias_of: Option<String>,
}

/// The raw layout of the document. `types` keeps the document's order
/// because the workspace enables serde_json's `preserve_order`.
#[derive(Deserialize)]
struct RawApi {
    endpoints: Vec<EndpointDef>,
    types: serde_json::Map<String, serde_json::Value>,
    constants: Vec<ConstantDef>,
}

impl Api {
    pub fn load(path: &Path) -> Result<Api> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let raw: RawApi =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let mut types = Vec::with_capacity(raw.types.len());
        for (name, value) in raw.types {
            let def = type_def(&name, value)?;
            types.push((name, def));
        }
        Ok(Api {
            endpoints: raw.endpoints,
            types,
            constants: raw.constants,
        })
    }

    /// The struct types with their fields, in order.
    pub fn structs(&self) -> impl Iterator<Item = (&str, &[FieldDef])> {
        self.types.iter().filter_map(|(name, def)| match def {
            TypeDef::Struct(fields) => Some((name.as_str(), fields.as_slice())),
            TypeDef::Alias(_) => None,
        })
    }

    /// The alias types with their targets, in order.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.types.iter().filter_map(|(name, def)| match def {
            TypeDef::Alias(target) => Some((name.as_str(), target.as_str())),
            TypeDef::Struct(_) => None,
        })
    }
}

fn type_def(name: &str, value: serde_json::Value) -> Result<TypeDef> {
    let raw: RawTypeDef = serde_json::from_value(value).with_context(|| format!("type {name}"))?;
    match (raw.fields, raw.alias_of) {
        (Some(fields), None) => Ok(TypeDef::Struct(fields)),
        (None, Some(target)) => Ok(TypeDef::Alias(target)),
        _ => bail!("type {name} must have exactly one of `fields` and `alias_of`"),
    }
}
