//! The HTTP front: one route per endpoint of the API table, each going through
//! the same steps: method check, the endpoint's role, whether it is built,
//! authentication (from the start of the body where the credentials are
//! there, before the rest is read), required parameters, the endpoint's
//! permission, then its handler.

mod body;
mod error;
mod language;
mod params;
pub mod rate_limit;
mod reply;

pub use error::{quoted, ApiError, ApiResult};
pub use params::{parse_bool, Params, Upload};
pub use reply::Reply;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures::future::BoxFuture;
use halley_api::endpoints::{AuthKind, Endpoint, EndpointSpec, ParamEncoding, ENDPOINTS};
use halley_api::types::{CometAPIResponseMessage, ServerConfigOptions};
use tokio::sync::Semaphore;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;

use crate::api::Route;
use crate::auth::{self, AdminPrincipal, Origin, Principal, UserPrincipal};
use crate::state::AppState;
use body::{BodyError, Start};

/// Bodies read whole before their sender is known (the credentials were not
/// at their start): at most this many at once, so that anonymous senders
/// cannot hold much memory.
const ANONYMOUS_LARGE_BODIES: usize = 2;
/// How long such a body waits for its turn before the call is refused.
const ANONYMOUS_BODY_WAIT: Duration = Duration::from_secs(10);

/// Everything a handler gets: the shared state, its endpoint, the parameters
/// and the authenticated caller.
pub struct Call {
    pub state: Arc<AppState>,
    pub endpoint: &'static EndpointSpec,
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

/// What every endpoint's dispatch shares.
struct Front {
    state: Arc<AppState>,
    anonymous_large_bodies: Semaphore,
}

/// Who is calling a route outside the API table, and on which host.
fn origin_of(state: &AppState, peer: SocketAddr, headers: &HeaderMap, path: &str) -> Origin {
    Origin {
        client_ip: client_ip(state, peer, headers),
        path: path.to_string(),
        host: Origin::host_from(headers),
    }
}

/// The router: every endpoint of the API is routed, built or not.
pub fn router(state: Arc<AppState>) -> Router {
    let front = Arc::new(Front {
        state: state.clone(),
        anonymous_large_bodies: Semaphore::new(ANONYMOUS_LARGE_BODIES),
    });
    let mut router = Router::new();
    for spec in ENDPOINTS {
        let route = crate::api::route(spec.id).map(Arc::new);
        let front = front.clone();
        router = router.route(
            spec.path,
            any(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
                    let (front, route) = (front.clone(), route.clone());
                    async move {
                        let started = std::time::Instant::now();
                        let state = front.state.clone();
                        let response = dispatch(front, spec, route, peer, request).await;
                        state.requests.record(spec.path, started.elapsed());
                        response
                    }
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
                let origin = origin_of(
                    &stream_state,
                    peer,
                    &headers,
                    crate::events::websocket::PATH,
                );
                crate::events::websocket::upgrade(stream_state, origin, upgrade)
            },
        ),
    );
    let live_state = state.clone();
    router = router.route(
        halley_protocol::device::LIVE_PATH,
        get(
            move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                  headers: HeaderMap,
                  upgrade: WebSocketUpgrade| async move {
                let origin = origin_of(
                    &live_state,
                    peer,
                    &headers,
                    halley_protocol::device::LIVE_PATH,
                );
                crate::devices::live::upgrade(live_state, origin, upgrade)
            },
        ),
    );
    let register_state = state.clone();
    router = router.route(
        halley_protocol::device::REGISTER_PATH,
        axum::routing::post(
            move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                  headers: HeaderMap,
                  body: axum::body::Bytes| async move {
                let origin = origin_of(
                    &register_state,
                    peer,
                    &headers,
                    halley_protocol::device::REGISTER_PATH,
                );
                let answer = crate::devices::register::serve(register_state, origin, &body).await;
                reply::json_response(StatusCode::OK, &answer)
            },
        ),
    );
    let upload_state = state.clone();
    router = router.route(
        halley_protocol::device::UPLOAD_PATH,
        axum::routing::post(
            move |headers: HeaderMap, body: axum::body::Body| async move {
                let answer = crate::devices::uploads::receive(&upload_state, &headers, body).await;
                reply::json_response(StatusCode::OK, &answer)
            },
        ),
    );
    let software_state = state.clone();
    router = router.route(
        halley_protocol::device::SOFTWARE_PATH,
        axum::routing::post(move |body: axum::body::Bytes| async move {
            match crate::devices::software::build_for(&software_state, &body).await {
                Ok(build) => Reply::Bytes {
                    content_type: "application/octet-stream",
                    body: build,
                }
                .into_response(),
                Err(refused) => reply::json_response(StatusCode::OK, &refused),
            }
        }),
    );
    let metrics_state = state.clone();
    router = router.route(
        crate::metrics::PATH,
        get(
            move |ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap| async move {
                metrics_response(&metrics_state, peer, &headers).await
            },
        ),
    );
    for path in ["/bucket/v1/{bucket}/", "/bucket/v1/{bucket}/{*key}"] {
        let bucket_state = state.clone();
        router = router.route(
            path,
            any(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                      axum::extract::Path(params): axum::extract::Path<
                    std::collections::HashMap<String, String>,
                >,
                      request: Request| async move {
                    let address = client_ip(&bucket_state, peer, request.headers());
                    let bucket = params.get("bucket").map_or("", String::as_str);
                    let key = params.get("key").map_or("", String::as_str);
                    crate::storage::protocol::serve(&bucket_state, &address, bucket, key, request)
                        .await
                },
            ),
        );
    }
    router
        .merge(crate::web::router(state.clone()))
        .fallback(unknown_path)
        .layer(axum::middleware::from_fn_with_state(
            state,
            rate_limit::limit,
        ))
        // Binary answers (client packages, agent builds, restore archives)
        // are compressed already or streamed as they are made: sent as they
        // are.
        .layer(CompressionLayer::new().compress_when(
            DefaultPredicate::new().and(NotForContentType::const_new("application/octet-stream")),
        ))
}

async fn dispatch(
    front: Arc<Front>,
    spec: &'static EndpointSpec,
    route: Option<Arc<Route>>,
    peer: SocketAddr,
    request: Request,
) -> Response {
    let limit = body::limit_for(spec);
    let (parts, body) = request.into_parts();
    let language = language::preferred(&parts.headers);
    if parts.method.as_str() != spec.method {
        body::drain(body, limit).await;
        let message = format!("{} accepts only {} requests", spec.path, spec.method);
        return plain_error(StatusCode::METHOD_NOT_ALLOWED, 405, message);
    }
    let state = &front.state;
    let route = match (role_disabled(&state.config.get(), spec), route) {
        (None, Some(route)) => route,
        (refusal, _) => {
            body::drain(body, limit).await;
            let err = refusal.unwrap_or_else(|| crate::api::not_built(spec));
            return err.in_language(language).into_response();
        }
    };
    let origin = Origin {
        client_ip: client_ip(state, peer, &parts.headers),
        path: spec.path.to_string(),
        host: Origin::host_from(&parts.headers),
    };
    // The answer leaves only once the events of this call are durable.
    let served = state
        .events
        .durably(serve(&front, spec, &route, origin, parts, body, limit))
        .await;
    match served {
        Ok(reply) => reply.into_response(),
        Err(Refused::Api(err)) => err.in_language(language).into_response(),
        Err(Refused::Body(err)) => err.into_response(),
    }
}

/// Reads and authenticates the call, checks its parameters and permission,
/// and runs its handler.
async fn serve(
    front: &Front,
    spec: &'static EndpointSpec,
    route: &Route,
    origin: Origin,
    parts: Parts,
    body: Body,
    limit: usize,
) -> Result<Reply, Refused> {
    let state = &front.state;
    let (mut params, principal) =
        read_and_authenticate(front, spec, &origin, parts, body, limit).await?;
    check_params(spec, &mut params)?;
    if let (Some(rule), Principal::Admin(admin)) = (route.permission, &principal) {
        crate::api::permissions::check(state, admin, rule)?;
    }
    let call = Call {
        state: state.clone(),
        endpoint: spec,
        params,
        principal,
        origin,
    };
    Ok((route.handler)(call).await?)
}

enum Refused {
    Api(ApiError),
    Body(BodyError),
}

impl From<ApiError> for Refused {
    fn from(err: ApiError) -> Self {
        Refused::Api(err)
    }
}

impl From<BodyError> for Refused {
    fn from(err: BodyError) -> Self {
        Refused::Body(err)
    }
}

/// Reads the parameters and authenticates the caller. Where the credentials
/// are in the headers or at the start of the body, the caller is known
/// before the rest of the body is read, so a stranger's large body is never
/// held; otherwise the whole body is read first, a few such bodies at a time.
async fn read_and_authenticate(
    front: &Front,
    spec: &'static EndpointSpec,
    origin: &Origin,
    parts: Parts,
    body: Body,
    limit: usize,
) -> Result<(Params, Principal), Refused> {
    let state = &front.state;
    let query = Params::from_query(parts.uri.query().unwrap_or(""));
    if parts.method == Method::GET {
        // The official SDKs send credentials even with a GET; its body is ignored.
        let principal = authenticate(state, spec, &query, origin).await?;
        return Ok((query, principal));
    }
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let early = Params::from_multipart_headers(&parts.headers, &query);
        let early_principal = match carries_credentials(&early) {
            true => Some(authenticate(state, spec, &early, origin).await?),
            false => None,
        };
        let _turn = match early_principal {
            Some(_) => None,
            None => Some(anonymous_turn(front).await?),
        };
        let request = Request::from_parts(parts, body);
        let params = Params::from_multipart(request, &query, limit).await?;
        let principal = match early_principal {
            Some(principal) => principal,
            None => authenticate(state, spec, &params, origin).await?,
        };
        return Ok((params, principal));
    }
    match body::read_start(body, limit).await? {
        Start::Whole(bytes) => {
            let params = Params::from_form(&bytes, &query);
            let principal = authenticate(state, spec, &params, origin).await?;
            Ok((params, principal))
        }
        Start::Prefix { head, rest } => {
            let early = Params::from_form_prefix(&head, &query);
            if carries_credentials(&early) {
                let principal = authenticate(state, spec, &early, origin).await?;
                let bytes = body::read_rest(head, rest, limit).await?;
                return Ok((Params::from_form(&bytes, &query), principal));
            }
            let _turn = anonymous_turn(front).await?;
            let bytes = body::read_rest(head, rest, limit).await?;
            let params = Params::from_form(&bytes, &query);
            let principal = authenticate(state, spec, &params, origin).await?;
            Ok((params, principal))
        }
    }
}

/// Whether `params` hold a complete set of credentials, so that the caller
/// can be authenticated from them alone.
fn carries_credentials(params: &Params) -> bool {
    if params.opt_str("Username").unwrap_or("").is_empty() {
        return false;
    }
    match params.opt_str("AuthType").unwrap_or("Password") {
        "SessionKey" => params.has("SessionKey"),
        "PasswordTOTP" | "TOTP" => params.has("Password") && params.has("TOTP"),
        _ => params.has("Password"),
    }
}

async fn anonymous_turn(front: &Front) -> Result<tokio::sync::SemaphorePermit<'_>, Refused> {
    match tokio::time::timeout(ANONYMOUS_BODY_WAIT, front.anonymous_large_bodies.acquire()).await
    {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(Refused::Api(ApiError::new(
            503,
            "The server is busy reading other large requests; send the credentials first in the body, or try again",
        ))),
    }
}

/// The refusal of a call to a role this server does not run. The calls that
/// configure a role are open while it is off, or it could not be turned on.
fn role_disabled(config: &ServerConfigOptions, spec: &EndpointSpec) -> Option<ApiError> {
    if matches!(
        spec.id,
        Endpoint::AdminMetaConstellationConfigGet | Endpoint::AdminMetaConstellationConfigSet
    ) {
        return None;
    }
    spec.roles.iter().find_map(|role| {
        let enabled = match *role {
            "Storage" => config.storage_role.role_enabled,
            "Constellation" => config.constellation_role.role_enabled,
            "Software Build" => config.software_build_role.role_enabled,
            // Halley always runs the Auth Role.
            _ => true,
        };
        (!enabled).then(|| {
            ApiError::new(
                403,
                format!(
                    "This server does not run the {role} Role (enable it in the server settings)"
                ),
            )
        })
    })
}

async fn authenticate(
    state: &AppState,
    endpoint: &EndpointSpec,
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
        Principal::Admin(admin) => admin.organization_id(),
        Principal::User(user) => user.organization_id(),
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
        if endpoint.top_level_admin_only && !admin.organization_id().is_empty() {
            return Err(ApiError::forbidden(
                "This action is reserved to top-level administrators",
            ));
        }
    }
    Ok(principal)
}

/// Required parameters must be present, and every parameter must parse as its
/// declared encoding, before a handler runs. A map-valued parameter sent as
/// `[]` is an empty map: PHP encodes an empty array that way (the PHP SDKs
/// before 4.x send `WebhookOptions=[]`).
fn check_params(endpoint: &EndpointSpec, params: &mut Params) -> ApiResult<()> {
    for param in endpoint.params {
        if !params.has(param.name) {
            if param.optional || sent_only_when_set(endpoint, param.name) {
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
                let empty_list = params.opt_str(param.name).map(str::trim) == Some("[]");
                if empty_list && param.ty.starts_with("map[") {
                    params.set(param.name, "{}".to_string());
                }
                params.opt_json::<serde_json::Value>(param.name)?;
            }
            ParamEncoding::String | ParamEncoding::MultipartFile => {}
        }
    }
    Ok(())
}

/// Parameters the API marks required that the official SDKs send only when
/// set: the Go SDK's `Paths` of a restore.
fn sent_only_when_set(endpoint: &EndpointSpec, name: &str) -> bool {
    name == "Paths" && endpoint.path.contains("/dispatcher/run-restore")
}

/// The caller's address ([`auth::client_address`]).
fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    auth::client_address::client_ip(&state.config.get(), peer.ip(), headers)
}

/// `/metrics`: missing while off, refused to strangers.
async fn metrics_response(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Response {
    let access = &state.metrics_access;
    if !access.enabled() {
        return plain_error(
            StatusCode::NOT_FOUND,
            404,
            format!("No such endpoint: {}", crate::metrics::PATH),
        );
    }
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !access.admits(&client_ip(state, peer, headers), authorization) {
        return plain_error(
            StatusCode::FORBIDDEN,
            403,
            "Metrics are for the addresses of --metrics-allow, or with the bearer token of --metrics-token".into(),
        );
    }
    match crate::metrics::render(state).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}

async fn unknown_path(request: Request) -> Response {
    let message = format!("No such endpoint: {}", request.uri().path());
    plain_error(StatusCode::NOT_FOUND, 404, message)
}

fn plain_error(http: StatusCode, status: i64, message: String) -> Response {
    reply::json_response(http, &CometAPIResponseMessage::new(status, message))
}
