//! Checks of generated struct types against `tests/schema.json` (hand-written).
//!
//! For a struct type, [`Checks::check`] builds a sample JSON object holding
//! every declared field with a non-zero value (nested structs filled too, up
//! to a depth) plus an unknown field, decodes it into the Rust type, encodes
//! it back and expects the same JSON. It also expects the type's `Default` to
//! encode exactly as Go encodes a zero value.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// How deep nested structs are filled before falling back to zero values
/// (some types nest themselves through lists).
const MAX_DEPTH: usize = 5;

/// A field as `schema.json` lists it.
#[derive(serde::Deserialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    omitempty: bool,
}

#[derive(serde::Deserialize)]
struct Schema {
    structs: BTreeMap<String, Vec<Field>>,
    aliases: BTreeMap<String, String>,
}

impl Schema {
    fn load() -> Schema {
        serde_json::from_str(include_str!("../schema.json")).expect("tests/schema.json parses")
    }

    /// Follows aliases.
    fn resolve<'a>(&'a self, mut ty: &'a str) -> &'a str {
        while let Some(target) = self.aliases.get(ty) {
            ty = target;
        }
        ty
    }

    fn is_struct(&self, ty: &str) -> bool {
        self.structs.contains_key(self.resolve(ty))
    }

    /// A non-zero sample value of a Go type.
    fn sample(&self, ty: &str, depth: usize) -> Value {
        let ty = self.resolve(ty);
        if let Some(value) = sample_primitive(ty) {
            return value;
        }
        if let Some(element) = ty.strip_prefix("[]") {
            return if depth >= MAX_DEPTH {
                json!([])
            } else {
                json!([self.sample(element, depth + 1)])
            };
        }
        if let Some((key, value)) = split_map(ty) {
            let key = if self.resolve(key) == "string" {
                "k1"
            } else {
                "42"
            };
            return if depth >= MAX_DEPTH {
                json!({})
            } else {
                json!({ key: self.sample(value, depth + 1) })
            };
        }
        self.sample_struct(ty, depth)
    }

    fn sample_struct(&self, name: &str, depth: usize) -> Value {
        if depth >= MAX_DEPTH {
            return self.zero_struct(name);
        }
        let mut object = Map::new();
        for field in &self.structs[name] {
            let value = self.sample(&field.ty, depth + 1);
            // Past the depth limit a sample can be zero; an omitempty field
            // would then be left out of the encoding, so leave it out here.
            if field.omitempty && !self.is_struct(&field.ty) && is_zero(&value) {
                continue;
            }
            object.insert(field.name.clone(), value);
        }
        Value::Object(object)
    }

    /// The JSON Go writes for the zero value of a Go type.
    fn zero(&self, ty: &str) -> Value {
        let ty = self.resolve(ty);
        match ty {
            "string" | "[]byte" => json!(""),
            "bool" => json!(false),
            "float32" | "float64" => json!(0.0),
            "interface{}" => Value::Null,
            _ if ty.starts_with("[]") => json!([]),
            _ if ty.starts_with("map[") => json!({}),
            _ if self.structs.contains_key(ty) => self.zero_struct(ty),
            _ => json!(0),
        }
    }

    fn zero_struct(&self, name: &str) -> Value {
        let object = self.structs[name]
            .iter()
            .filter(|field| !field.omitempty || self.is_struct(&field.ty))
            .map(|field| (field.name.clone(), self.zero(&field.ty)))
            .collect();
        Value::Object(object)
    }
}

fn sample_primitive(ty: &str) -> Option<Value> {
    Some(match ty {
        "string" => json!("sample"),
        "bool" => json!(true),
        "int" | "int8" | "int16" | "int32" | "int64" => json!(-7),
        "uint" | "uint8" | "uint16" | "uint32" | "uint64" => json!(7),
        "float32" | "float64" => json!(1.5),
        "[]byte" => json!("aGVsbG8="),
        "interface{}" => json!({"free": ["json", 1, null]}),
        _ => return None,
    })
}

fn split_map(ty: &str) -> Option<(&str, &str)> {
    ty.strip_prefix("map[")?.split_once(']')
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Runs the checks of many types and reports all failures at the end.
pub struct Checks {
    schema: Schema,
    checked: BTreeSet<String>,
    failures: Vec<String>,
}

impl Checks {
    pub fn new() -> Checks {
        Checks {
            schema: Schema::load(),
            checked: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    /// Checks one struct type, named as in the schema.
    pub fn check<T>(&mut self, name: &str)
    where
        T: Serialize + DeserializeOwned + Default,
    {
        assert!(
            self.schema.structs.contains_key(name),
            "{name} is not in the schema"
        );
        self.checked.insert(name.to_owned());
        if let Err(failure) = self.round_trip::<T>(name) {
            self.failures.push(format!("{name}: round trip: {failure}"));
        }
        if let Err(failure) = self.zero_value::<T>(name) {
            self.failures.push(format!("{name}: zero value: {failure}"));
        }
    }

    fn round_trip<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<(), String> {
        let mut sample = self.schema.sample_struct(name, 0);
        sample
            .as_object_mut()
            .expect("a struct sample is an object")
            .insert("XUnknownField".into(), json!({"a": [1, "b"]}));
        let decoded: T = serde_json::from_value(sample.clone()).map_err(|e| e.to_string())?;
        let encoded = serde_json::to_value(&decoded).map_err(|e| e.to_string())?;
        compare(&sample, &encoded)
    }

    fn zero_value<T: Serialize + Default>(&self, name: &str) -> Result<(), String> {
        let encoded = serde_json::to_value(T::default()).map_err(|e| e.to_string())?;
        compare(&self.schema.zero_struct(name), &encoded)
    }

    /// Fails with every collected failure, and if a schema type went unchecked.
    pub fn finish(self) {
        let unchecked: Vec<_> = self
            .schema
            .structs
            .keys()
            .filter(|name| !self.checked.contains(*name))
            .collect();
        assert!(
            unchecked.is_empty(),
            "struct types not checked: {unchecked:?}"
        );
        assert!(
            self.failures.is_empty(),
            "{} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// `Ok` if equal, else where the first difference is.
fn compare(expected: &Value, actual: &Value) -> Result<(), String> {
    match first_difference(expected, actual, String::new()) {
        None => Ok(()),
        Some(path) => Err(format!(
            "differs at `{path}`\nexpected: {expected}\nactual:   {actual}"
        )),
    }
}

fn first_difference(expected: &Value, actual: &Value, path: String) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let keys: BTreeSet<&String> = e.keys().chain(a.keys()).collect();
            keys.into_iter()
                .find_map(|key| match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => first_difference(ev, av, format!("{path}/{key}")),
                    _ => Some(format!("{path}/{key}")),
                })
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (ev, av))| first_difference(ev, av, format!("{path}/{i}"))),
        _ if expected == actual => None,
        _ => Some(path),
    }
}
