//! S3-compatible object storage as a publish [`Destination`] (`s3://bucket/prefix`), through
//! the `object_store` crate: endpoint, region and credentials come from the standard AWS
//! environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP` for a plain-HTTP endpoint,
//! ...), as every AWS tool reads them.
//!
//! A PUT replaces an object whole, so a reader sees the old object or the new one; objects
//! are durable once the PUT returns, so [`Destination::flush`] has nothing to wait for. With
//! `lock_days`, every full tile and full bundle (the objects no publish replaces) is written
//! with an object-lock retention (COMPLIANCE mode) that far in the future: the bucket then
//! refuses to overwrite or delete it, even to the writer. The checkpoint and the partial
//! tiles at the right edge are replaced by each publish, so they are written unlocked (on a
//! versioned bucket, a default retention on the bucket keeps each of their versions).

use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStoreExt as _, PutPayload};

use super::{Destination, DestinationOptions, Source};
use crate::error::{Error, Result};

/// Publishes under `prefix` in one bucket.
#[derive(Debug)]
pub struct S3Destination {
    url: String,
    prefix: String,
    store: AmazonS3,
    /// With `lock_days`: the client whose PUTs carry the retention, for the objects no
    /// publish ever replaces (full tiles and bundles).
    locked: Option<AmazonS3>,
    runtime: tokio::runtime::Runtime,
}

impl S3Destination {
    /// The destination `s3://bucket[/prefix]`, configured from the environment.
    pub fn new(url: &str, opts: &DestinationOptions) -> Result<Self> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| Error::InvalidArgument(format!("{url}: not an s3:// URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::InvalidArgument(format!("{url}: no bucket")));
        }
        let builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let bad = |e: object_store::Error| Error::InvalidArgument(format!("{url}: {e}"));
        let locked = match opts.lock_days {
            Some(days) => {
                // Client options replace those the environment set: the one of them a local
                // endpoint needs is carried over.
                let allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v == "true");
                let client = ClientOptions::new()
                    .with_allow_http(allow_http)
                    .with_default_headers(lock_headers(days)?);
                Some(
                    builder
                        .clone()
                        .with_client_options(client)
                        .build()
                        .map_err(bad)?,
                )
            }
            None => None,
        };
        let store = builder.build().map_err(bad)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(S3Destination {
            url: url.trim_end_matches('/').to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            store,
            locked,
            runtime,
        })
    }

    fn key(&self, path: &str) -> Result<Path> {
        let full = if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        };
        Path::parse(&full).map_err(|e| Error::InvalidArgument(format!("{full}: {e}")))
    }
}

/// The object-lock headers of a PUT that keeps its object for `days` days.
fn lock_headers(days: u32) -> Result<http::HeaderMap> {
    let until = SystemTime::now() + Duration::from_secs(u64::from(days) * 86_400);
    let until = time::OffsetDateTime::from(until)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::Internal(format!("formatting a date: {e}")))?;
    let mut h = http::HeaderMap::new();
    let value = |s: &str| {
        http::HeaderValue::from_str(s).map_err(|e| Error::Internal(format!("a header: {e}")))
    };
    h.insert("x-amz-object-lock-mode", value("COMPLIANCE")?);
    h.insert("x-amz-object-lock-retain-until-date", value(&until)?);
    Ok(h)
}

fn store_err(url: &str, path: &str, e: object_store::Error) -> Error {
    Error::Storage(format!("{url}/{path}: {e}"))
}

impl Source for S3Destination {
    fn name(&self) -> String {
        self.url.clone()
    }

    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let key = self.key(path)?;
        let got = self.runtime.block_on(async {
            match self.store.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.map(|b| b.map(|b| b.to_vec()))
            .map_err(|e| store_err(&self.url, path, e))
    }
}

impl Destination for S3Destination {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let key = self.key(path)?;
        let payload = PutPayload::from(bytes.to_vec());
        // The checkpoint and partial tiles are replaced by the next publish, which a lock
        // would refuse on a bucket without versioning: only immutable objects are locked.
        let replaced = path == super::layout::CHECKPOINT_PATH || path.contains(".p/");
        let store = match &self.locked {
            Some(locked) if !replaced => locked,
            _ => &self.store,
        };
        self.runtime
            .block_on(store.put(&key, payload))
            .map_err(|e| store_err(&self.url, path, e))?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
