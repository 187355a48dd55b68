//! Go-style type expressions of the description, and their Rust types.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use crate::model::{Api, TypeDef};

/// A parsed Go type expression.
#[derive(Debug, Clone, PartialEq)]
pub enum GoType {
    /// A predeclared type (`string`, `int64`, ...) or a named API type.
    Named(String),
    /// `[]byte`.
    Bytes,
    /// `interface{}`.
    Any,
    /// `[]T`.
    Slice(Box<GoType>),
    /// `map[K]V`.
    Map(Box<GoType>, Box<GoType>),
}

impl GoType {
    pub fn parse(text: &str) -> Result<GoType> {
        let text = text.trim();
        if text == "[]byte" || text == "[]uint8" {
            return Ok(GoType::Bytes);
        }
        if text == "interface{}" || text == "any" {
            return Ok(GoType::Any);
        }
        if let Some(element) = text.strip_prefix("[]") {
            return Ok(GoType::Slice(Box::new(GoType::parse(element)?)));
        }
        if let Some(rest) = text.strip_prefix("map[") {
            let (key, value) = rest.split_once(']').context("map type without `]`")?;
            let key = GoType::parse(key)?;
            let value = GoType::parse(value)?;
            return Ok(GoType::Map(Box::new(key), Box::new(value)));
        }
        if is_identifier(text) {
            return Ok(GoType::Named(text.to_owned()));
        }
        bail!("unsupported Go type `{text}`")
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The Rust type of a predeclared Go type.
pub fn primitive(name: &str) -> Option<&'static str> {
    Some(match name {
        "string" => "String",
        "bool" => "bool",
        "int" | "int64" => "i64",
        "int32" => "i32",
        "int16" => "i16",
        "int8" => "i8",
        "uint" | "uint64" => "u64",
        "uint32" => "u32",
        "uint16" => "u16",
        "uint8" | "byte" => "u8",
        "float32" => "f32",
        "float64" => "f64",
        _ => return None,
    })
}

/// What a named API type is, after parsing.
enum Named {
    Struct,
    Alias(GoType),
}

/// Knows every named type of the description, to check references and to
/// see through aliases.
pub struct TypeIndex {
    named: HashMap<String, Named>,
}

impl TypeIndex {
    pub fn new(api: &Api) -> Result<TypeIndex> {
        let mut named = HashMap::new();
        for (name, def) in &api.types {
            if primitive(name).is_some() {
                bail!("type {name} shadows a predeclared Go type");
            }
            let entry = match def {
                TypeDef::Struct(_) => Named::Struct,
                TypeDef::Alias(target) => {
                    Named::Alias(GoType::parse(target).with_context(|| format!("alias {name}"))?)
                }
            };
            named.insert(name.clone(), entry);
        }
        let index = TypeIndex { named };
        index.check_references(api)?;
        Ok(index)
    }

    /// Every type expression of the description must parse and name known
    /// types, and aliases must not loop.
    fn check_references(&self, api: &Api) -> Result<()> {
        for (name, fields) in api.structs() {
            for field in fields {
                let ty = GoType::parse(&field.ty)
                    .and_then(|ty| self.check(&ty).map(|()| ty))
                    .with_context(|| format!("field {name}.{}", field.name))?;
                self.resolve(&ty)
                    .with_context(|| format!("field {name}.{}", field.name))?;
            }
        }
        for (name, target) in api.aliases() {
            self.check(&GoType::parse(target)?)
                .with_context(|| format!("alias {name}"))?;
            self.resolve(&GoType::Named(name.to_owned()))?;
        }
        Ok(())
    }

    fn check(&self, ty: &GoType) -> Result<()> {
        match ty {
            GoType::Named(name) if primitive(name).is_none() && !self.named.contains_key(name) => {
                bail!("unknown type `{name}`")
            }
            GoType::Slice(element) => self.check(element),
            GoType::Map(key, value) => {
                self.map_key(key)?;
                self.check(value)
            }
            _ => Ok(()),
        }
    }

    /// Follows aliases until the type is not a named alias.
    pub fn resolve(&self, ty: &GoType) -> Result<GoType> {
        let mut current = ty.clone();
        for _ in 0..=self.named.len() {
            match &current {
                GoType::Named(name) => match self.named.get(name) {
                    Some(Named::Alias(target)) => current = target.clone(),
                    _ => return Ok(current),
                },
                _ => return Ok(current),
            }
        }
        bail!("alias loop through {ty:?}")
    }

    /// Whether the type is (an alias of) a struct type.
    pub fn is_struct(&self, ty: &GoType) -> Result<bool> {
        Ok(match self.resolve(ty)? {
            GoType::Named(name) => matches!(self.named.get(&name), Some(Named::Struct)),
            _ => false,
        })
    }

    /// The Rust type of a field or alias target. Named types keep their
    /// names (aliases become Rust type aliases); map keys resolve to `String`
    /// or an integer type.
    pub fn rust_type(&self, ty: &GoType) -> Result<String> {
        Ok(match ty {
            GoType::Named(name) => primitive(name).map_or_else(|| name.clone(), str::to_owned),
            GoType::Bytes => "Bytes".to_owned(),
            GoType::Any => "Value".to_owned(),
            GoType::Slice(element) => format!("Vec<{}>", self.rust_type(element)?),
            GoType::Map(key, value) => {
                format!(
                    "BTreeMap<{}, {}>",
                    self.map_key(key)?,
                    self.rust_type(value)?
                )
            }
        })
    }

    /// The Rust type of a map key: `String`, or an integer type (written as
    /// decimal text on the wire, as Go does).
    fn map_key(&self, key: &GoType) -> Result<&'static str> {
        match self.resolve(key)? {
            GoType::Named(name) => match primitive(&name) {
                Some(rust @ ("String" | "i64" | "u64")) => Ok(rust),
                _ => bail!("unsupported map key type `{name}`"),
            },
            other => bail!("unsupported map key type {other:?}"),
        }
    }

    /// The Rust type of a constant of this Go type: `&str` for strings, the
    /// primitive Rust type otherwise.
    pub fn constant_type(&self, ty: &str) -> Result<&'static str> {
        match self.resolve(&GoType::parse(ty)?)? {
            GoType::Named(name) => match primitive(&name) {
                Some("String") => Ok("&str"),
                Some(rust) => Ok(rust),
                None => bail!("constant of non-primitive type `{ty}`"),
            },
            other => bail!("constant of type {other:?}"),
        }
    }
}
