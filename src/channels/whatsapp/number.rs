//! The business's own phone number, which `wa.me` links need: asked of the Graph API
//! (`GET /{phone_number_id}?fields=display_phone_number`) the first time it is wanted, then
//! kept. A failed lookup is logged and tried again the next time.

use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{Secret, Settings};

/// Looks up, once, the number behind `WHATSAPP_PHONE_NUMBER_ID`.
pub struct BusinessNumber {
    client: reqwest::Client,
    url: String,
    token: Secret,
    known: OnceLock<String>,
}

#[derive(Deserialize)]
struct PhoneNumber {
    display_phone_number: String,
}

impl BusinessNumber {
    /// When WhatsApp is configured (`WHATSAPP_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID`).
    pub fn new(settings: &Settings) -> Option<Self> {
        let token = settings.whatsapp_token.clone()?;
        let phone_number_id = settings.whatsapp_phone_number_id.as_deref()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot build the WhatsApp HTTP client"))
            .ok()?;
        Some(Self {
            client,
            url: format!(
                "{}/{phone_number_id}?fields=display_phone_number",
                settings.whatsapp_api_url
            ),
            token,
            known: OnceLock::new(),
        })
    }

    /// The number as `wa.me` takes it: digits only, with the country code (`15550783881`).
    pub async fn get(&self) -> Option<String> {
        if let Some(number) = self.known.get() {
            return Some(number.clone());
        }
        match self.fetch().await {
            Ok(number) => Some(self.known.get_or_init(|| number).clone()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot learn the WhatsApp business number");
                None
            }
        }
    }

    async fn fetch(&self) -> Result<String, String> {
        let response = self
            .client
            .get(&self.url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the Graph API answered {status}"));
        }
        let phone: PhoneNumber = response.json().await.map_err(|e| e.to_string())?;
        digits(&phone.display_phone_number)
            .ok_or_else(|| format!("'{}' is not a phone number", phone.display_phone_number))
    }
}

/// `+1 555-078-3881` → `15550783881`.
fn digits(display: &str) -> Option<String> {
    let digits: String = display.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 6 && digits.len() <= 15).then_some(digits)
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_numbers_become_digits() {
        assert_eq!(super::digits("+1 555-078-3881").as_deref(), Some("15550783881"));
        assert_eq!(super::digits("+49 (30) 1234567").as_deref(), Some("49301234567"));
        assert_eq!(super::digits("n/a"), None);
    }
}
