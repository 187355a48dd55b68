//! The table of all Comet Server API calls.
//!
//! The types here are hand-written; the [`Endpoint`] enum and the table of
//! descriptions ([`ENDPOINTS`]) are generated into `endpoints/table.rs`, in
//! the order of the Comet Server API description. A server matches on
//! [`Endpoint`] exhaustively, so the compiler names every call it has not
//! decided about.

mod table;

pub use table::{Endpoint, ENDPOINTS};

impl Endpoint {
    /// This call's description.
    pub fn spec(self) -> &'static EndpointSpec {
        &ENDPOINTS[self as usize]
    }

    /// The SDK method name, e.g. `AdminGetUserProfile`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// The description of one API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointSpec {
    /// Which call this describes.
    pub id: Endpoint,
    /// The call's name, e.g. `AdminGetUserProfile`.
    pub name: &'static str,
    /// The HTTP method: `POST`, except `GET` for `/gen/branding.props`.
    pub method: &'static str,
    /// The URL path, e.g. `/api/v1/admin/get-user-profile`.
    pub path: &'static str,
    /// How the client sends the parameters:
    /// `application/x-www-form-urlencoded` or `multipart/form-data`.
    pub content_type: &'static str,
    /// Which credentials the call takes.
    pub auth: AuthKind,
    /// Server roles that must be enabled (`Auth`, `Storage`, ...).
    pub roles: &'static [&'static str],
    /// Refused for tenant (organization) administrators.
    pub top_level_admin_only: bool,
    /// The call's parameters, in order.
    pub params: &'static [Param],
    /// The response type: a name from [`crate::types`], a Go-style container
    /// (`[]string`, `map[string]UserProfileConfig`), or `[]byte` for a raw
    /// body.
    pub returns: &'static str,
    /// One line saying what the call does.
    pub summary: &'static str,
}

/// Which credentials an API call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// Administrator credentials.
    Admin,
    /// End-user credentials.
    User,
    /// Either (hybrid session start).
    AdminOrUser,
    /// Administrator credentials, or none when the server allows
    /// unauthenticated client downloads.
    AdminOrOpenDownloads,
    /// No credentials.
    None,
}

/// One parameter of an API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The form field name.
    pub name: &'static str,
    /// The Go-style type, e.g. `string`, `int`, `UserProfileConfig`.
    pub ty: &'static str,
    /// Whether the client may leave it out.
    pub optional: bool,
    /// How the value is written in the form field.
    pub encoding: ParamEncoding,
}

/// How a parameter value is written in its form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamEncoding {
    /// The raw text.
    String,
    /// Decimal text.
    Integer,
    /// `1`/`0` or `true`/`false`, depending on the client.
    Bool,
    /// A JSON document.
    Json,
    /// The `upload` part of a multipart body.
    MultipartFile,
}

/// The endpoint with this call name.
pub fn by_name(name: &str) -> Option<&'static EndpointSpec> {
    ENDPOINTS.iter().find(|e| e.name == name)
}

/// The endpoint served at this URL path.
pub fn by_path(path: &str) -> Option<&'static EndpointSpec> {
    ENDPOINTS.iter().find(|e| e.path == path)
}
