//! The desktop sign-in's two browser steps (RFC 8252 with PKCE; the core's side is
//! `facade/handoff.rs`): `GET /api/v1/auth/desktop/start` (the desktop's sign-in window opens it;
//! 303 to the provider) and `GET /api/v1/auth/callback/{provider}` (the provider's redirect
//! URI on this server; 303 to the desktop's loopback redirect with a one-time code or an
//! error). The third step, `POST /api/v1/auth/token`, is an ordinary JSON operation (`v1.rs`).
//! A refusal before there is anywhere to send the window is the usual JSON error. The answers
//! are never cached and send no referrer (the window's URL carries a code).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_api::Operation;
use opsdeck_api::accounts::ProviderKey;
use opsdeck_api::ops::DesktopSignInStartArgs;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Required, Type};
use utoipa::{PartialSchema, ToSchema};

use super::AppState;
use super::error::HttpError;
use super::extract::{ApiPath, ApiQuery};

pub async fn serve(op: Operation, state: AppState, request: Request) -> Result<Response, HttpError> {
    let (mut parts, _) = request.into_parts();
    let target = match op {
        Operation::DesktopSignInStart => {
            let ApiQuery(query) = ApiQuery::<HashMap<String, String>>::from_request_parts(&mut parts, &state).await?;
            state.ops.desktop_sign_in_start(start_args(query)?).await
        }
        Operation::DesktopSignInCallback => {
            let ApiPath(provider) = ApiPath::<ProviderKey>::from_request_parts(&mut parts, &state).await?;
            // The core reads the provider's parameters from the query; the origin is immaterial.
            let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            let url = format!("http://opsdeckd.invalid{}{query}", parts.uri.path());
            state.ops.desktop_sign_in_callback(provider, url).await
        }
        other => unreachable!("{} is not a browser step", other.name()),
    };
    let target = target.map_err(HttpError::from_body)?;
    let location = HeaderValue::from_str(&target).map_err(|_| {
        HttpError::from_body(opsdeck_api::ErrorBody::new(
            opsdeck_api::ErrorCode::Internal,
            "the sign-in's next address is not a valid header value",
        ))
    })?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
    )
        .into_response())
}

/// The start's query. Only the provider is checked here; a parameter left out is handed on
/// empty, for the core to refuse in its own words and with its own code (`redirect_not_registered`,
/// `pkce_invalid`, the state's length), as it refuses a wrong one.
fn start_args(mut query: HashMap<String, String>) -> Result<DesktopSignInStartArgs, HttpError> {
    let provider = query.remove("provider").ok_or_else(|| {
        HttpError::invalid_field("provider", "provider is missing: weibo, qq, wechat, dingtalk or oidc")
    })?;
    let provider = provider.parse().map_err(|message: String| HttpError::invalid_field("provider", message))?;
    let mut take = |name: &str| query.remove(name).unwrap_or_default();
    Ok(DesktopSignInStartArgs {
        provider,
        redirect_uri: take("redirect_uri"),
        state: take("state"),
        code_challenge: take("code_challenge"),
        code_challenge_method: take("code_challenge_method"),
    })
}

/// Adds both routes to the OpenAPI document.
pub fn describe(doc: &mut utoipa::openapi::OpenApi) {
    let response = |name: &str| RefOr::Ref(Ref::from_response_name(name));
    let text = |name: &str, place: ParameterIn, required: bool, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(place)
            .required(if required { Required::True } else { Required::False })
            .description(Some(description))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    let redirect = |description: &str| {
        ResponseBuilder::new().description(description).header(
            "Location",
            utoipa::openapi::HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::String)).build(),
        )
    };

    let mut start = OperationBuilder::new()
        .tag(super::v1::TAG)
        .operation_id(Some("v1_desktop_sign_in_start"))
        .summary(Some("Desktop sign-in, step 1: to the provider"))
        .description(Some(
            "`Ops::desktop_sign_in_start`. Open (no session). The desktop's sign-in window opens this URL \
             (RFC 8252, native apps): the desktop's loopback `redirect_uri` (`http://127.0.0.1:PORT/…` or \
             `http://[::1]:PORT/…`, anything else refused `redirect_not_registered`), its `state` and PKCE \
             challenge (`S256` only, else `pkce_invalid`). Answers 303 to the provider's authorize page; the \
             provider returns the window to `/api/v1/auth/callback/{provider}`.",
        ))
        .response("303", redirect("To the provider's authorize page."))
        .response("400", response("BadRequest"))
        .response("429", response("TooManyRequests"))
        .response("500", response("Internal"))
        .response("502", response("ProviderError"))
        .response("503", response("Unavailable"));
    let mut schemas = Vec::new();
    DesktopSignInStartArgs::schemas(&mut schemas);
    if let RefOr::T(utoipa::openapi::Schema::Object(object)) = DesktopSignInStartArgs::schema() {
        for (name, schema) in object.properties {
            let required = if object.required.contains(&name) { Required::True } else { Required::False };
            start = start.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(required)
                    .schema(Some(schema)),
            );
        }
    }
    let (_, path) = Operation::DesktopSignInStart.http();
    doc.paths.add_path_operation(path, vec![HttpMethod::Get], start.build());

    let callback = OperationBuilder::new()
        .tag(super::v1::TAG)
        .operation_id(Some("v1_desktop_sign_in_callback"))
        .summary(Some("Desktop sign-in, step 2: back from the provider"))
        .description(Some(
            "`Ops::desktop_sign_in_callback`. Open (no session). The provider's redirect URI on this server \
             (configure `<provider>_redirect_uri` to it). Completes the sign-in and answers 303 to the desktop's \
             redirect with a one-time `code` (valid 60 s, once) and the desktop's `state`, or with `error` (an \
             error code: `not_staff`, `link_pending`, `sign_in_refused`, …), `error_description` and `state`. A \
             `state` that is no desktop sign-in's is refused 400 `sign_in_state_invalid`. Step 3: `POST \
             /api/v1/auth/token`.",
        ))
        .parameter(
            ParameterBuilder::new()
                .name("provider")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ProviderKey::schema())),
        )
        .parameter(text("state", ParameterIn::Query, false, "The sign-in attempt's state, as the provider returns it."))
        .parameter(text("code", ParameterIn::Query, false, "The provider's authorization code."))
        .parameter(text("error", ParameterIn::Query, false, "Set when the provider or the person refused."))
        .response(
            "303",
            redirect("To the desktop's loopback redirect, with `code` and `state` or `error` and `state`."),
        )
        .response("400", response("BadRequest"))
        .response("429", response("TooManyRequests"))
        .response("500", response("Internal"))
        .response("502", response("ProviderError"))
        .response("503", response("Unavailable"))
        .build();
    let (_, path) = Operation::DesktopSignInCallback.http();
    doc.paths.add_path_operation(path, vec![HttpMethod::Get], callback);

    let components = doc.components.get_or_insert_with(Default::default);
    ProviderKey::schemas(&mut schemas);
    schemas.push((ProviderKey::name().into_owned(), ProviderKey::schema()));
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}
