//! The team's web page (`/web`): sign-in through a link sent to the fake Telegram and with an
//! API token, sessions and CSRF, the role checks of each form, the alerts feed (live, through
//! server-sent events woken by what is recorded), approvals, deliveries with a retry, the
//! handbook search, the board's paged columns; and the same driven in a real headless Chromium
//! (`browser`).

mod browser;
mod client;
mod columns;
mod forms;
mod live;
mod sign_in;
mod webdriver;
