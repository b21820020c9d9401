//! A browser-like HTTP client for the web page: keeps its cookies, does not follow redirects
//! (so a test sees each 303 and its `Set-Cookie`), and reads the CSRF field of a page.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    /// The raw `Set-Cookie` headers of the response.
    pub set_cookies: Vec<String>,
}

impl Page {
    /// The value of the first `name="csrf"` field.
    pub fn csrf(&self) -> String {
        field(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

/// The `value` of the first input named `name` (maud writes `name="…" value="…"`).
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let value = rest.find("value=\"")? + "value=\"".len();
    let end = rest[value..].find('"')?;
    Some(rest[value..value + end].to_owned())
}

pub struct WebClient {
    pub base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl WebClient {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status,
            body: response.text().await.unwrap(),
            location,
            set_cookies,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Signs in with an API token through the sign-in page's form.
    pub async fn sign_in_with_token(&mut self, token: &str) {
        let page = self.get("/web").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        let done = self
            .post("/web/sign-in/token", &[("csrf", &csrf), ("token", token)])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert!(
            self.cookies.contains_key("coordinator_session"),
            "{:?}",
            done.set_cookies
        );
    }
}
