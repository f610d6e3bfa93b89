//! One libuv-pool task type for every call that waits on the disk.
//!
//! A [`Job`] carries a closure over owned data (an `Arc` of the ledger handle, the parsed
//! arguments). It runs on libuv's thread pool; its `Ok` value becomes the Promise's value and
//! its core error the rejection, built on the JS thread by [`crate::error::js_error`]. A panic
//! in the core rejects with the `internal` code instead of taking the process down.

use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, Task};
use trailseal::Error;

use crate::error::{guard, js_error};

type Work<T> = Box<dyn FnOnce() -> Result<T, Error> + Send>;

/// A unit of work for the libuv pool, resolving to `T`.
pub struct Job<T> {
    work: Option<Work<T>>,
}

impl<T: ToNapiValue + TypeName + Send + 'static> Job<T> {
    /// Run `f` on the pool.
    pub(crate) fn spawn(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> AsyncTask<Self> {
        AsyncTask::new(Job {
            work: Some(Box::new(f)),
        })
    }

    /// A Promise that rejects with `e` (an argument refused before any work), so that
    /// Promise-returning methods never throw synchronously.
    pub(crate) fn fail(e: Error) -> AsyncTask<Self> {
        Self::spawn(move || Err(e))
    }

    /// `spawn(f)` if the arguments were read, `fail(e)` if not.
    pub(crate) fn try_spawn<A: Send + 'static>(
        args: Result<A, Error>,
        f: impl FnOnce(A) -> Result<T, Error> + Send + 'static,
    ) -> AsyncTask<Self> {
        match args {
            Ok(a) => Self::spawn(move || f(a)),
            Err(e) => Self::fail(e),
        }
    }
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Job<T> {
    type Output = Result<T, Error>;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let work = self
            .work
            .take()
            .ok_or_else(|| napi::Error::from_reason("trailseal task ran twice"))?;
        Ok(guard(work))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<T> {
        output.map_err(|e| js_error(&env, &e))
    }
}
