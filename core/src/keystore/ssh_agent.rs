//! An Ed25519 key held by ssh-agent (OpenSSH's, or any agent speaking its protocol), through
//! `ssh-agent-client-rs`. The agent is found by `SSH_AUTH_SOCK`, as every OpenSSH tool finds
//! it; a connection is made per signature, so a restarted agent is picked up and no socket
//! stays open between checkpoints.

use std::path::PathBuf;

use ssh_agent_client_rs::{Client, Identity};
use ssh_key::{HashAlg, PublicKey};

use super::{checked, HeldKey};
use crate::error::{Error, Result};

/// A key in the agent, chosen by its comment or SHA-256 fingerprint.
pub(crate) struct AgentKey {
    socket: PathBuf,
    key: PublicKey,
    public: [u8; 32],
}

fn io(what: String) -> Error {
    Error::Io(std::io::Error::other(what))
}

impl AgentKey {
    /// The Ed25519 key of the agent at `$SSH_AUTH_SOCK` whose comment or fingerprint
    /// (`SHA256:...`, as `ssh-keygen -l` and `ssh-add -l` print it) is `which`.
    pub(crate) fn find(which: &str) -> Result<AgentKey> {
        if which.is_empty() {
            return Err(Error::InvalidArgument(
                "ssh-agent: needs the key's comment or SHA256 fingerprint".into(),
            ));
        }
        let socket = std::env::var_os("SSH_AUTH_SOCK")
            .map(PathBuf::from)
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "ssh-agent key asked for, but SSH_AUTH_SOCK is not set (no agent to ask)"
                        .into(),
                )
            })?;
        let mut client = connect(&socket)?;
        let keys = client.list_all_identities().map_err(|e| {
            io(format!(
                "ssh-agent at {}: listing keys: {e}",
                socket.display()
            ))
        })?;
        // Certificates are left out: a checkpoint key is a plain key.
        let found: Vec<PublicKey> = keys
            .into_iter()
            .filter_map(|i| match i {
                Identity::PublicKey(k) => Some(k.into_owned()),
                Identity::Certificate(_) => None,
            })
            .filter(|k| k.comment() == which || k.fingerprint(HashAlg::Sha256).to_string() == which)
            .collect();
        let key = match found.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(Error::InvalidArgument(format!(
                    "ssh-agent at {} holds no key with comment or fingerprint {which:?}",
                    socket.display()
                )))
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "ssh-agent at {} holds {} keys with comment {which:?}: name one by its SHA256 fingerprint",
                    socket.display(),
                    found.len()
                )))
            }
        };
        let public = key
            .key_data()
            .ed25519()
            .map(|k| k.0)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the ssh-agent key {which:?} is {}, not Ed25519: checkpoints are signed with Ed25519",
                    key.algorithm()
                ))
            })?;
        Ok(AgentKey {
            socket,
            key,
            public,
        })
    }
}

fn connect(socket: &std::path::Path) -> Result<Client> {
    Client::connect(socket).map_err(|e| {
        io(format!(
            "cannot reach ssh-agent at {}: {e}",
            socket.display()
        ))
    })
}

impl HeldKey for AgentKey {
    fn public_key(&self) -> [u8; 32] {
        self.public
    }

    fn sign(&self, msg: &[u8]) -> Result<[u8; 64]> {
        let mut client = connect(&self.socket)?;
        let sig = client.sign(&self.key, msg).map_err(|e| {
            io(format!(
                "ssh-agent at {} did not sign (is the key still loaded?): {e}",
                self.socket.display()
            ))
        })?;
        checked(&self.public, msg, sig.as_bytes(), &self.describe())
    }

    fn describe(&self) -> String {
        format!(
            "ssh-agent key {} at {}",
            self.key.fingerprint(HashAlg::Sha256),
            self.socket.display()
        )
    }
}
