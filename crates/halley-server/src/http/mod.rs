//! The HTTP front: one route per endpoint of the API table, each going through
//! the same steps: method check, parameters, authentication, required
//! parameters, then the endpoint's handler.

mod error;
mod params;
mod reply;

pub use error::{ApiError, ApiResult};
pub use params::{parse_bool, Params, Upload};
pub use reply::Reply;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures::future::BoxFuture;
use halley_api::endpoints::{AuthKind, Endpoint, ParamEncoding, ENDPOINTS};
use halley_api::types::CometAPIResponseMessage;
use tower_http::compression::CompressionLayer;

use crate::auth::{self, AdminPrincipal, Origin, Principal, UserPrincipal};
use crate::state::AppState;

/// Everything a handler gets: the shared state, its endpoint, the parameters
/// and the authenticated caller.
pub struct Call {
    pub state: Arc<AppState>,
    pub endpoint: &'static Endpoint,
    pub params: Params,
    pub principal: Principal,
    pub origin: Origin,
}

impl Call {
    /// The calling administrator (present on every `admin` endpoint).
    pub fn admin(&self) -> ApiResult<&AdminPrincipal> {
        match &self.principal {
            Principal::Admin(admin) => Ok(admin),
            _ => Err(ApiError::unauthorised()),
        }
    }

    /// The calling end user (present on every `user` endpoint).
    pub fn user(&self) -> ApiResult<&UserPrincipal> {
        match &self.principal {
            Principal::User(user) => Ok(user),
            _ => Err(ApiError::unauthorised()),
        }
    }
}

pub type Handler = Arc<dyn Fn(Call) -> BoxFuture<'static, ApiResult<Reply>> + Send + Sync>;

pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<Reply>> + Send + 'static,
{
    Arc::new(move |call| Box::pin(f(call)))
}

/// The router: every endpoint of the API is routed, built or not.
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for endpoint in ENDPOINTS {
        let handler = crate::api::handler_for(endpoint.name);
        let state = state.clone();
        router = router.route(
            endpoint.path,
            any(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
                    dispatch(state.clone(), endpoint, handler.clone(), peer, request)
                },
            ),
        );
    }
    let stream_state = state.clone();
    router = router.route(
        crate::events::websocket::PATH,
        get(
            move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                  headers: HeaderMap,
                  upgrade: WebSocketUpgrade| async move {
                let origin = Origin {
                    client_ip: client_ip(&stream_state, peer, &headers),
                    path: crate::events::websocket::PATH.to_string(),
                    host: Origin::host_from(&headers),
                };
                crate::events::websocket::upgrade(stream_state, origin, upgrade)
            },
        ),
    );
    router
        .merge(crate::web::router(state))
        .fallback(unknown_path)
        .layer(DefaultBodyLimit::max(params::MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
}

async fn dispatch(
    state: Arc<AppState>,
    endpoint: &'static Endpoint,
    handler: Option<Handler>,
    peer: SocketAddr,
    request: Request,
) -> Response {
    if request.method().as_str() != endpoint.method {
        let message = format!(
            "{} accepts only {} requests",
            endpoint.path, endpoint.method
        );
        return plain_error(StatusCode::METHOD_NOT_ALLOWED, 405, message);
    }
    let Some(handler) = handler else {
        return ApiError::not_implemented(endpoint.name).into_response();
    };
    let origin = Origin {
        client_ip: client_ip(&state, peer, request.headers()),
        path: endpoint.path.to_string(),
        host: Origin::host_from(request.headers()),
    };
    let result = async {
        let params = Params::from_request(request).await?;
        let principal = authenticate(&state, endpoint, &params, &origin).await?;
        check_params(endpoint, &params)?;
        handler(Call {
            state: state.clone(),
            endpoint,
            params,
            principal,
            origin,
        })
        .await
    }
    .await;
    match result {
        Ok(reply) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}

async fn authenticate(
    state: &AppState,
    endpoint: &Endpoint,
    params: &Params,
    origin: &Origin,
) -> ApiResult<Principal> {
    let principal = match endpoint.auth {
        AuthKind::None => Principal::Anonymous,
        AuthKind::Admin => Principal::Admin(auth::admin(state, params, origin).await?),
        AuthKind::User => Principal::User(auth::user(state, params, origin).await?),
        AuthKind::AdminOrUser => auth::hybrid(state, params, origin).await?,
        AuthKind::AdminOrOpenDownloads => {
            let open = state
                .config
                .get()
                .software_build_role
                .allow_unauthenticated_downloads;
            if open && params.opt_str("Username").unwrap_or("").is_empty() {
                Principal::Anonymous
            } else {
                Principal::Admin(auth::admin(state, params, origin).await?)
            }
        }
    };
    let organization = match &principal {
        Principal::Admin(admin) => admin.organization_id.as_str(),
        Principal::User(user) => user.organization_id.as_str(),
        Principal::Anonymous => "",
    };
    if !organization.is_empty()
        && state
            .config
            .get()
            .organizations
            .get(organization)
            .is_some_and(|org| org.is_suspended)
    {
        return Err(ApiError::forbidden("This organization is suspended"));
    }
    if let Principal::Admin(admin) = &principal {
        if endpoint.top_level_admin_only && !admin.organization_id.is_empty() {
            return Err(ApiError::forbidden(
                "This action is reserved to top-level administrators",
            ));
        }
    }
    Ok(principal)
}

/// Required parameters must be present, and every parameter must parse as its
/// declared encoding, before a handler runs.
fn check_params(endpoint: &Endpoint, params: &Params) -> ApiResult<()> {
    for param in endpoint.params {
        if !params.has(param.name) {
            if param.optional {
                continue;
            }
            return Err(ApiError::missing_param(param.name));
        }
        match param.encoding {
            ParamEncoding::Integer => {
                params.opt_int(param.name)?;
            }
            ParamEncoding::Bool => {
                params.opt_bool(param.name)?;
            }
            ParamEncoding::Json => {
                params.opt_json::<serde_json::Value>(param.name)?;
            }
            ParamEncoding::String | ParamEncoding::MultipartFile => {}
        }
    }
    Ok(())
}

/// The caller's address ([`auth::client_address`]).
fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    auth::client_address::client_ip(&state.config.get(), peer.ip(), headers)
}

async fn unknown_path(request: Request) -> Response {
    let message = format!("No such endpoint: {}", request.uri().path());
    plain_error(StatusCode::NOT_FOUND, 404, message)
}

fn plain_error(http: StatusCode, status: i64, message: String) -> Response {
    reply::json_response(http, &CometAPIResponseMessage::new(status, message))
}
