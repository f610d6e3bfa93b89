//! A published log read over HTTP(S) (a CDN, a web server, a public bucket's website
//! endpoint), with ureq: one timeout per whole request and a cap on each object's size.

use std::time::Duration;

use super::Source;
use crate::error::{Error, Result};

/// The largest object read: a full tile is 8 KiB, a full bundle at most 256 entries of
/// 64 KiB (16 MiB and a little).
const MAX_OBJECT_BYTES: u64 = 17 << 20;
/// How long one object may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Reads objects under one URL prefix.
pub struct HttpSource {
    prefix: String,
    agent: ureq::Agent,
}

impl HttpSource {
    /// A source at `prefix` (`https://example.com/log/`; the trailing slash is optional).
    pub fn new(prefix: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("trailseal/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpSource {
            prefix: prefix.trim_end_matches('/').to_owned(),
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl Source for HttpSource {
    fn name(&self) -> String {
        self.prefix.clone()
    }

    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let url = format!("{}/{path}", self.prefix);
        let fail = |e: ureq::Error| Error::Storage(format!("{url}: {e}"));
        let mut resp = self.agent.get(&url).call().map_err(fail)?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            s => return Err(Error::Storage(format!("{url}: HTTP status {s}"))),
        }
        resp.body_mut()
            .with_config()
            .limit(MAX_OBJECT_BYTES)
            .read_to_vec()
            .map(Some)
            .map_err(fail)
    }
}
