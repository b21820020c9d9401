//! Signing in and out, and the two extractors every page uses: [`Signed`] (the session behind
//! the cookie, or off to the sign-in page) and [`Posted`] (a signed-in form whose CSRF token
//! matches its session's, else 403 and nothing changes).
//!
//! The sign-in forms come before any session: they carry a one-off token that must equal the
//! `coordinator_signin` cookie (HttpOnly, SameSite=Strict), set when the form was shown. A
//! sign-in link opens a page with a button rather than signing in on the GET, so that a chat's
//! link preview cannot use the link up.

use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::{WebError, WebResult};
use super::layout::bare_page;
use super::WebState;
use crate::workspace::{NewSession, Session, WorkspaceError, SESSION_TTL_HOURS, SIGN_IN_TTL_MINUTES};

const SESSION_COOKIE: &str = "coordinator_session";
const SIGN_IN_COOKIE: &str = "coordinator_signin";
/// The largest form body a page takes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn set_cookie(state: &WebState, name: &str, value: &str, max_age: i64, same_site: &str) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/web; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session behind the request's cookie, if it is live.
pub async fn current(state: &WebState, headers: &HeaderMap) -> WebResult<Option<Session>> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state.workspace.web_session(&value, crate::store::now()).await?)
}

/// A signed-in request.
pub struct Signed(pub Session);

impl FromRequestParts<WebState> for Signed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        current(state, &parts.headers)
            .await?
            .map(Signed)
            .ok_or(WebError::SignIn)
    }
}

#[derive(Debug, Default, Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A form sent by a signed-in page, its CSRF token checked.
pub struct Posted<T> {
    pub session: Session,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<WebState> for Posted<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, WebError> {
        let (mut parts, body) = request.into_parts();
        let Signed(session) = Signed::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| WebError::BadForm("The form is too large.".into()))?;
        let token: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        if !session.csrf_matches(&token.csrf) {
            tracing::info!(principal = %session.principal, "web form refused: CSRF token missing or wrong");
            return Err(WebError::Forged);
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| WebError::BadForm(format!("The form could not be read: {e}.")))?;
        Ok(Posted { session, form })
    }
}

/// The sign-in page: a token form, and how to get a link. `problem`: why the last try failed.
pub fn sign_in_page(state: &WebState, problem: Option<&str>, status: StatusCode) -> Response {
    let token = crate::workspace::random_secret();
    let body = html! {
        @if let Some(problem) = problem {
            p.error role="alert" { (problem) }
        }
        p { "Send " code { "/web" } " to the coordinator in any chat linked to you: it answers with a sign-in link that works once, for "
            (SIGN_IN_TTL_MINUTES) " minutes." }
        h2 { "Or sign in with an API token" }
        form method="post" action="/web/sign-in/token" {
            input type="hidden" name="csrf" value=(token);
            label for="token" { "API token" }
            input id="token" name="token" type="password" autocomplete="off" required;
            button type="submit" { "Sign in" }
        }
    };
    let mut response = (status, bare_page("Sign in", body)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN_COOKIE, &token, 60 * SIGN_IN_TTL_MINUTES, "Strict"),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// `GET /web/sign-in?code=…`: a button that signs in with the link's code.
pub async fn confirm_page(State(state): State<WebState>, Query(q): Query<CodeQuery>) -> Response {
    if q.code.trim().is_empty() {
        return sign_in_page(
            &state,
            Some("This sign-in link has no code."),
            StatusCode::BAD_REQUEST,
        );
    }
    let token = crate::workspace::random_secret();
    let body = html! {
        p { "This link signs you in to the team's page, once." }
        form method="post" action="/web/sign-in" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="code" value=(q.code.trim());
            button type="submit" autofocus { "Sign in" }
        }
    };
    let mut response = bare_page("Sign in", body).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SIGN_IN_COOKIE, &token, 60 * SIGN_IN_TTL_MINUTES, "Strict"),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    token: String,
}

/// The pre-session token of a sign-in form matches its cookie.
fn sign_in_form_ok(headers: &HeaderMap, form: &SignInForm) -> bool {
    use subtle::ConstantTimeEq;
    cookie(headers, SIGN_IN_COOKIE)
        .is_some_and(|c| !form.csrf.is_empty() && bool::from(c.as_bytes().ct_eq(form.csrf.as_bytes())))
}

fn signed_in(state: &WebState, session: NewSession) -> Response {
    let mut response = Redirect::to("/web").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            state,
            SESSION_COOKIE,
            &session.cookie,
            SESSION_TTL_HOURS * 3600,
            "Lax",
        ),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN_COOKIE, "", 0, "Strict"),
    );
    response
}

async fn sign_in(
    state: &WebState,
    headers: &HeaderMap,
    body: axum::body::Bytes,
    with_token: bool,
) -> WebResult<Response> {
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return Ok(sign_in_page(
            state,
            Some("The form could not be read."),
            StatusCode::BAD_REQUEST,
        ));
    };
    if !sign_in_form_ok(headers, &form) {
        return Ok(sign_in_page(
            state,
            Some("This sign-in form is out of date or was not sent from this page; try again."),
            StatusCode::FORBIDDEN,
        ));
    }
    let now = crate::store::now();
    let opened = if with_token {
        state.workspace.web_sign_in_with_token(&form.token, now).await
    } else {
        state.workspace.web_sign_in_with_code(&form.code, now).await
    };
    match opened {
        Ok(session) => Ok(signed_in(state, session)),
        Err(WorkspaceError::NotFound(_)) => {
            let problem = if with_token {
                "That token is not valid (unknown, revoked or expired)."
            } else {
                "This sign-in link is unknown, used already or expired. Send /web in chat for a new one."
            };
            Ok(sign_in_page(state, Some(problem), StatusCode::UNAUTHORIZED))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /web/sign-in`: a sign-in link's code.
pub async fn sign_in_with_code(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    sign_in(&state, &headers, body, false).await
}

/// `POST /web/sign-in/token`: an API token.
pub async fn sign_in_with_token(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    sign_in(&state, &headers, body, true).await
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    everywhere: Option<String>,
}

/// `POST /web/sign-out`: this session, or with `everywhere` every session of the same person
/// or token.
pub async fn sign_out(State(state): State<WebState>, posted: Posted<SignOutForm>) -> WebResult<Response> {
    let everywhere = posted.form.everywhere.is_some();
    state
        .workspace
        .web_sign_out(&posted.session, everywhere, crate::store::now())
        .await?;
    let mut response = Redirect::to("/web").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0, "Lax"),
    );
    Ok(response)
}
