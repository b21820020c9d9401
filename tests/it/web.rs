//! The team's web page (`/web`): sign-in through a link sent to the fake Telegram and with an
//! API token, sessions and CSRF, the role checks of each form, the alerts feed (live, through
//! server-sent events), approvals, deliveries with a retry, the handbook search; and the same
//! driven in a real headless Chromium (`browser`).

mod browser;
mod client;
mod forms;
mod sign_in;
mod webdriver;
