//! `src/endpoints/table.rs`: the `Endpoint` enum (one variant per API call)
//! and the `ENDPOINTS` table of their descriptions, both in the
//! description's order, so that `ENDPOINTS[endpoint as usize]` describes
//! `endpoint`.

use anyhow::{bail, Context, Result};

use crate::code::{emit, string_literal, HEADER};
use crate::model::{Api, EndpointDef, ParamDef};

pub fn generate(api: &Api) -> Result<String> {
    let mut out = String::new();
    out.push_str(HEADER);
    emit!(out);
    emit!(
        out,
        "//! [`Endpoint`] and the data of [`ENDPOINTS`]; the types are in [`crate::endpoints`]."
    );
    emit!(out);
    emit!(
        out,
        "use super::{{AuthKind, EndpointSpec, Param, ParamEncoding}};"
    );
    emit!(out);
    emit!(
        out,
        "/// Every API call, by its SDK method name, in the order of the Comet"
    );
    emit!(out, "/// Server API description.");
    emit!(out, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]");
    emit!(out, "pub enum Endpoint {{");
    for endpoint in &api.endpoints {
        emit!(out, "    /// {}", endpoint.summary);
        emit!(out, "    {},", endpoint.name);
    }
    emit!(out, "}}");
    emit!(out);
    emit!(out, "impl Endpoint {{");
    emit!(
        out,
        "    /// Every endpoint, in the order of [`ENDPOINTS`]."
    );
    emit!(out, "    pub const ALL: &'static [Endpoint] = &[");
    for endpoint in &api.endpoints {
        emit!(out, "        Endpoint::{},", endpoint.name);
    }
    emit!(out, "    ];");
    emit!(out, "}}");
    emit!(out);
    emit!(
        out,
        "/// Every API call's description, in the order of the Comet Server API description."
    );
    emit!(out, "pub static ENDPOINTS: &[EndpointSpec] = &[");
    for endpoint in &api.endpoints {
        endpoint_entry(&mut out, endpoint)
            .with_context(|| format!("endpoint {}", endpoint.name))?;
    }
    emit!(out, "];");
    Ok(out)
}

fn endpoint_entry(out: &mut String, e: &EndpointDef) -> Result<()> {
    emit!(out, "    EndpointSpec {{");
    emit!(out, "        id: Endpoint::{},", e.name);
    emit!(out, "        name: {},", string_literal(&e.name));
    emit!(out, "        method: {},", string_literal(&e.method));
    emit!(out, "        path: {},", string_literal(&e.path));
    emit!(
        out,
        "        content_type: {},",
        string_literal(&e.content_type)
    );
    emit!(out, "        auth: AuthKind::{},", auth_kind(&e.auth)?);
    emit!(out, "        roles: &[{}],", string_list(&e.roles));
    emit!(
        out,
        "        top_level_admin_only: {},",
        e.top_level_admin_only
    );
    emit!(out, "        params: &[");
    for param in &e.params {
        param_entry(out, param).with_context(|| format!("param {}", param.name))?;
    }
    emit!(out, "        ],");
    emit!(out, "        returns: {},", string_literal(&e.returns));
    emit!(out, "        summary: {},", string_literal(&e.summary));
    emit!(out, "    }},");
    Ok(())
}

fn param_entry(out: &mut String, p: &ParamDef) -> Result<()> {
    emit!(
        out,
        "            Param {{ name: {}, ty: {}, optional: {}, encoding: ParamEncoding::{} }},",
        string_literal(&p.name),
        string_literal(&p.ty),
        p.optional,
        param_encoding(&p.encoding)?
    );
    Ok(())
}

fn string_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| string_literal(s))
        .collect::<Vec<_>>()
        .join(", ")
}

fn auth_kind(auth: &str) -> Result<&'static str> {
    Ok(match auth {
        "admin" => "Admin",
        "user" => "User",
        "admin-or-user" => "AdminOrUser",
        "admin-or-open-downloads" => "AdminOrOpenDownloads",
        "none" => "None",
        other => bail!("unknown auth kind `{other}`"),
    })
}

/// The description spells booleans as `bool (sent as 1 or 0)`.
fn param_encoding(encoding: &str) -> Result<&'static str> {
    Ok(match encoding {
        "string" => "String",
        "integer" => "Integer",
        "json" => "Json",
        "multipart file" => "MultipartFile",
        bool if bool == "bool" || bool.starts_with("bool ") => "Bool",
        other => bail!("unknown parameter encoding `{other}`"),
    })
}
