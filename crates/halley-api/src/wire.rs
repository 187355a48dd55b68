//! How the wire types read and write JSON (hand-written).
//!
//! The generated types in [`crate::types`] decode every field through
//! [`de()`] and skip `omitempty` fields through [`is_zero()`]. Both dispatch on
//! the [`Wire`] trait, which is implemented here for every Rust type a field
//! can have.
//!
//! Decoding is deliberately more forgiving than a strict JSON decoder,
//! because clients re-encode documents they received (a PHP
//! `json_decode`/`json_encode` round trip turns `{}` into `[]` and may turn
//! `1` into `1.0`):
//!
//! - `null` decodes as the zero value for every field type;
//! - a map (or struct) accepts `[]`, and a map accepts a non-empty JSON array
//!   as a map keyed by index, which is what PHP makes of `{"0": .., "1": ..}`;
//! - an integer accepts a JSON float with an integral value (`1.0`, `1e3`);
//! - a boolean accepts the integers `0` and `1`.
//!
//! Encoding follows Go's `encoding/json`: empty lists are `[]`, empty maps
//! `{}`, byte strings standard base64, and integer map keys decimal strings.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// A Rust type that can stand for a field of a wire type.
pub trait Wire: Sized {
    /// Decodes a value leniently (see the module documentation).
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;

    /// Whether Go's `omitempty` would leave this value out.
    fn is_zero(&self) -> bool;
}

/// `deserialize_with` target of every generated field.
pub fn de<'de, D: Deserializer<'de>, T: Wire>(d: D) -> Result<T, D::Error> {
    T::de(d)
}

/// `skip_serializing_if` target of every generated `omitempty` field.
pub fn is_zero<T: Wire>(value: &T) -> bool {
    value.is_zero()
}

/// Wraps any [`Wire`] type so that it decodes leniently on its own, e.g. a
/// request parameter holding a JSON document:
/// `serde_json::from_str::<Lenient<UserProfileConfig>>(text)?.0`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lenient<T>(pub T);

impl<'de, T: Wire> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::de(d).map(Lenient)
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

// ---------------------------------------------------------------------------
// Strings, booleans, free JSON

impl Wire for String {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl Wire for bool {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor)
    }

    fn is_zero(&self) -> bool {
        !*self
    }
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean, 0, 1 or null")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl Wire for Value {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d)
    }

    fn is_zero(&self) -> bool {
        self.is_null()
    }
}

// ---------------------------------------------------------------------------
// Numbers

/// Integer types that fields use. Conversion fails when out of range.
trait WireInt: Sized + Copy + Default + PartialEq {
    fn from_i64(v: i64) -> Option<Self>;
    fn from_u64(v: u64) -> Option<Self>;
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl WireInt for $t {
            fn from_i64(v: i64) -> Option<Self> {
                Self::try_from(v).ok()
            }

            fn from_u64(v: u64) -> Option<Self> {
                Self::try_from(v).ok()
            }
        }

        impl Wire for $t {
            fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(IntVisitor::<$t>(PhantomData))
            }

            fn is_zero(&self) -> bool {
                *self == 0
            }
        }
    )*};
}

wire_int!(i8, i16, i32, i64, u8, u16, u32, u64);

struct IntVisitor<T>(PhantomData<T>);

impl<'de, T: WireInt> Visitor<'de> for IntVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an integer that fits {}", std::any::type_name::<T>())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::from_i64(v).ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::from_u64(v).ok_or_else(|| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        let invalid = || E::invalid_value(Unexpected::Float(v), &self);
        if !v.is_finite() || v.fract() != 0.0 {
            return Err(invalid());
        }
        // Integral and finite; the range checks keep the casts exact.
        if v < 0.0 {
            if v < i64::MIN as f64 {
                return Err(invalid());
            }
            T::from_i64(v as i64).ok_or_else(invalid)
        } else {
            if v >= u64::MAX as f64 {
                return Err(invalid());
            }
            T::from_u64(v as u64).ok_or_else(invalid)
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! wire_float {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Option::<$t>::deserialize(d)?.unwrap_or_default())
            }

            fn is_zero(&self) -> bool {
                *self == 0.0
            }
        }
    )*};
}

wire_float!(f32, f64);

// ---------------------------------------------------------------------------
// Byte strings

/// A Go `[]byte`: standard base64 text on the wire. `null` and a missing
/// field decode as empty; an empty value encodes as `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The raw bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(b: Bytes) -> Self {
        b.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        decode_base64(&text)
            .map(Bytes)
            .ok_or_else(|| de::Error::invalid_value(Unexpected::Str(&text), &"base64 text"))
    }
}

/// Standard base64 as Go writes it; unpadded and URL-safe text is accepted too.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

impl Wire for Bytes {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Bytes::deserialize(d)
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Lists and maps

impl<T: Wire> Wire for Vec<T> {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Option::<Vec<Lenient<T>>>::deserialize(d)?.unwrap_or_default();
        Ok(items.into_iter().map(|item| item.0).collect())
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

/// Types a map can be keyed by. JSON object keys are always text; Go writes
/// integer keys in decimal.
pub trait WireKey: Ord + Sized {
    /// Parses an object key.
    fn from_key(key: &str) -> Option<Self>;
}

impl WireKey for String {
    fn from_key(key: &str) -> Option<Self> {
        Some(key.to_owned())
    }
}

impl WireKey for i64 {
    fn from_key(key: &str) -> Option<Self> {
        key.parse().ok()
    }
}

impl WireKey for u64 {
    fn from_key(key: &str) -> Option<Self> {
        key.parse().ok()
    }
}

impl<K: WireKey, V: Wire> Wire for BTreeMap<K, V> {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MapVisitor(PhantomData))
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

struct MapVisitor<K, V>(PhantomData<(K, V)>);

impl<'de, K: WireKey, V: Wire> Visitor<'de> for MapVisitor<K, V> {
    type Value = BTreeMap<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object, an array or null")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value::<Lenient<V>>()?.0;
            map.insert(parse_key(&key)?, value);
        }
        Ok(map)
    }

    /// PHP writes a map whose keys are `"0"`, `"1"`, ... as a JSON array.
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = BTreeMap::new();
        let mut index = 0usize;
        while let Some(value) = access.next_element::<Lenient<V>>()? {
            map.insert(parse_key(&index.to_string())?, value.0);
            index += 1;
        }
        Ok(map)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn parse_key<K: WireKey, E: de::Error>(key: &str) -> Result<K, E> {
    K::from_key(key).ok_or_else(|| E::invalid_value(Unexpected::Str(key), &"a map key"))
}

// ---------------------------------------------------------------------------
// Structs

/// Decodes a struct-typed field: `null` and `[]` give the zero value.
pub fn de_struct<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    d.deserialize_any(StructVisitor(PhantomData))
}

struct StructVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for StructVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or null")
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(access))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<T, A::Error> {
        match access.next_element::<IgnoredAny>()? {
            None => Ok(T::default()),
            Some(_) => Err(de::Error::invalid_type(Unexpected::Seq, &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

/// Implements [`Wire`] for generated struct types. Go's `omitempty` never
/// leaves out a struct value, so `is_zero` is always false.
macro_rules! wire_structs {
    ($($t:ident),* $(,)?) => {$(
        impl $crate::wire::Wire for $t {
            fn de<'de, D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::wire::de_struct(d)
            }

            fn is_zero(&self) -> bool {
                false
            }
        }
    )*};
}

pub(crate) use wire_structs;
