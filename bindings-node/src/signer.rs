//! `Signer`: an Ed25519 checkpoint key in Go's `sumdb/note` key format.

use napi::bindgen_prelude::{sys, JsValue, TypeTag, Unknown};
use napi::Env;
use napi_derive::napi;

use crate::convert::string;
use crate::error::{bad_arg, guard, js_error};

/// A checkpoint signing key (Ed25519), named like the log it signs for.
///
/// Its secret never shows in `String(signer)`, `util.inspect(signer)` or
/// `JSON.stringify(signer)`; only `secretKey()` returns it.
#[napi]
pub struct Signer {
    pub(crate) inner: trailseal::Signer,
}

#[napi]
impl Signer {
    /// A new random key named `name` (for example the log's origin).
    #[napi(ts_args_type = "name: string")]
    pub fn generate(env: Env, name: Unknown<'_>) -> napi::Result<Signer> {
        guard(|| trailseal::Signer::generate(&string(&name, "name")?))
            .map(|inner| Signer { inner })
            .map_err(|e| js_error(&env, &e))
    }

    /// The key of a signer key string `PRIVATE+KEY+<name>+<hash>+<key>` (as written by
    /// `secretKey()`, the `trailseal` command's key files, or Go's `note.GenerateKey`).
    #[napi(js_name = "fromString", ts_args_type = "skey: string")]
    pub fn from_string(env: Env, skey: Unknown<'_>) -> napi::Result<Signer> {
        guard(|| trailseal::Signer::from_key_string(&string(&skey, "skey")?))
            .map(|inner| Signer { inner })
            .map_err(|e| js_error(&env, &e))
    }

    /// A key held outside the process, named `name`: `spec` is `ssh-agent:<key comment or
    /// SHA256 fingerprint>` (the agent at `SSH_AUTH_SOCK`) or `pkcs11:<RFC 7512 URI>`. The
    /// secret never enters the process; each signature is asked of the agent or token.
    #[napi(ts_args_type = "spec: string, name: string")]
    pub fn open(env: Env, spec: Unknown<'_>, name: Unknown<'_>) -> napi::Result<Signer> {
        guard(|| trailseal::Signer::open(&string(&spec, "spec")?, &string(&name, "name")?))
            .map(|inner| Signer { inner })
            .map_err(|e| js_error(&env, &e))
    }

    /// The key's name, as written in signature lines.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    /// The public verifier key string `<name>+<hash>+<key>`: safe to publish.
    #[napi(getter, js_name = "verifierKey")]
    pub fn verifier_key(&self) -> String {
        self.inner.verifier().to_key_string()
    }

    /// The secret signer key string `PRIVATE+KEY+<name>+<hash>+<key>`. Anyone holding it can
    /// sign as this key: store it like a password. A key held by ssh-agent or a PKCS#11
    /// token has none (`invalid_argument`).
    #[napi(js_name = "secretKey")]
    pub fn secret_key(&self, env: Env) -> napi::Result<String> {
        self.inner.to_key_string().map_err(|e| js_error(&env, &e))
    }

    /// `<name>+<key hash>`: tells keys apart, reveals nothing secret.
    #[napi(js_name = "toString")]
    #[allow(clippy::inherent_to_string)]
    pub fn to_string(&self) -> String {
        self.inner.to_string()
    }

    /// `JSON.stringify(signer)`: the public parts only.
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> SignerInfo {
        SignerInfo {
            name: self.name(),
            verifier_key: self.verifier_key(),
        }
    }

    /// What `util.inspect` and `console.log` show: the public parts only.
    #[napi(symbol_for = "nodejs.util.inspect.custom", ts_return_type = "string")]
    pub fn inspect(&self) -> String {
        format!(
            "Signer {{ name: {:?}, verifierKey: {:?} }}",
            self.inner.name(),
            self.verifier_key()
        )
    }
}

/// The public parts of a signer.
#[napi(object)]
pub struct SignerInfo {
    pub name: String,
    pub verifier_key: String,
}

/// The core key behind a `Signer` argument.
///
/// napi's own `&Signer` argument conversion throws its own error for anything else, so the
/// instance is checked and unwrapped here: by the class's type tag (which a plain object or
/// another class's instance does not carry), then cloned at once, on the JS thread.
pub(crate) fn signer_arg(
    env: &Env,
    v: &Unknown<'_>,
) -> Result<trailseal::Signer, trailseal::Error> {
    let not_a_signer =
        || bad_arg("signer must be a Signer (from Signer.generate or Signer.fromString)");
    if crate::convert::type_of(v)? != napi::ValueType::Object {
        return Err(not_a_signer());
    }
    let tag = <Signer as TypeTag>::type_tag();
    let mut matches = false;
    // SAFETY: `env` and the value are the live arguments of the current call.
    let status = unsafe { sys::napi_check_object_type_tag(env.raw(), v.raw(), &tag, &mut matches) };
    if status != sys::Status::napi_ok || !matches {
        return Err(not_a_signer());
    }
    let mut ptr = std::ptr::null_mut();
    // SAFETY: as above; a value tagged as a `Signer` wraps a `Signer` (napi-derive tags each
    // instance when it wraps it).
    let status = unsafe { sys::napi_unwrap(env.raw(), v.raw(), &mut ptr) };
    if status != sys::Status::napi_ok || ptr.is_null() {
        return Err(not_a_signer());
    }
    // SAFETY: the pointer is the instance's `Signer`, alive while the JS object is (it is an
    // argument of this call); it is only read, on the JS thread, and cloned before returning.
    let signer = unsafe { &*(ptr as *const Signer) };
    Ok(signer.inner.clone())
}
