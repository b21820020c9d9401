//! WhatsApp through the Cloud API: a signed webhook in (`inbound` reads the notifications,
//! `webhook` verifies and stores them), the Graph API out (`outbound` keeps the 24-hour rule,
//! `messages` builds what is sent, `graph` sends it and reads the errors). Sends are enabled by
//! `WHATSAPP_TOKEN` with `WHATSAPP_PHONE_NUMBER_ID`; the webhook by `WHATSAPP_APP_SECRET`
//! (and `WHATSAPP_VERIFY_TOKEN` for Meta's subscription check).

pub mod graph;
pub mod inbound;
pub mod media;
pub mod messages;
pub mod number;
pub mod outbound;
mod payload;
pub mod webhook;

use std::time::Duration;

use axum::routing::get;
use axum::Router;

use crate::config::Settings;
use crate::inbox::InboxWriter;
use crate::outbox::OutboxWriter;
use crate::store::Store;

pub use number::BusinessNumber;
pub use outbound::WhatsAppOut;

fn template(settings: &Settings) -> Option<messages::Template> {
    settings
        .whatsapp_template_name
        .as_ref()
        .map(|name| messages::Template {
            name: name.clone(),
            language: settings.whatsapp_template_language.clone(),
            text_param: settings.whatsapp_template_text_param,
        })
}

/// The sending side, when `WHATSAPP_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID` are set.
pub fn outbound(settings: &Settings, store: Store) -> Option<WhatsAppOut> {
    let token = settings.whatsapp_token.clone()?;
    let phone_number_id = settings.whatsapp_phone_number_id.as_deref()?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build();
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the WhatsApp HTTP client; WhatsApp sends are off");
            return None;
        }
    };
    Some(WhatsAppOut {
        client,
        messages_url: format!("{}/{phone_number_id}/messages", settings.whatsapp_api_url),
        token,
        template: template(settings),
        store,
    })
}

/// Downloads of voice notes, when `WHATSAPP_TOKEN` is set.
pub fn media(settings: &Settings) -> Option<media::WhatsAppMedia> {
    let token = settings.whatsapp_token.clone()?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build();
    match client {
        Ok(client) => Some(media::WhatsAppMedia {
            client,
            api_url: settings.whatsapp_api_url.clone(),
            phone_number_id: settings.whatsapp_phone_number_id.clone(),
            token,
        }),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the WhatsApp HTTP client; voice notes are off");
            None
        }
    }
}

/// `/webhooks/whatsapp`, when `WHATSAPP_APP_SECRET` is set.
pub fn webhook_router(
    settings: &Settings,
    inbox: InboxWriter,
    outbox: OutboxWriter,
    store: Store,
) -> Option<Router> {
    let state = webhook::WebhookState {
        app_secret: settings.whatsapp_app_secret.clone()?,
        verify_token: settings.whatsapp_verify_token.clone(),
        phone_number_id: settings.whatsapp_phone_number_id.clone(),
        resend_as_template: template(settings).is_some(),
        inbox,
        outbox,
        store,
    };
    Some(
        Router::new()
            .route(
                "/webhooks/whatsapp",
                get(webhook::subscribe).post(crate::http::webhook::receive::<webhook::WebhookState>),
            )
            .with_state(state),
    )
}
